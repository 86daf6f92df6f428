{#-
  current_timestamp on Amp: `amp__current_timestamp` (now()) lives in the adapter's adapters.sql.
  Amp does not check volatility: avoid now() in `dataset` models, whose SQL Amp keeps re-running
  as the chain grows.

  The deprecated backcompat variant is a naive TIMESTAMP, as on Postgres (`current_timestamp::timestamp`).
-#}
{% macro amp__current_timestamp_backcompat() -%}
    cast(now() as timestamp)
{%- endmacro %}
