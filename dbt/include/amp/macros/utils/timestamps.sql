{#-
  current_timestamp on Amp: `amp__current_timestamp` (now()) lives in the adapter's adapters.sql.
  Amp does not check volatility: avoid now() in SQL that will become an Amp derived dataset table
  (Amp's workers keep re-running it as the chain grows, so the value changes from block range to
  block range); in `query` models and tests it is evaluated once per run.

  The deprecated backcompat variant is a naive TIMESTAMP, as on Postgres (`current_timestamp::timestamp`).
-#}
{% macro amp__current_timestamp_backcompat() -%}
    cast(now() as timestamp)
{%- endmacro %}
