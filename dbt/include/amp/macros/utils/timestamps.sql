{#-
  current_timestamp on DataFusion (Amp): now() as Timestamp(Nanosecond, "+00:00"), i.e. timezone-aware
  UTC, the type of the `timestamp` column of Amp's raw tables (newer DataFusion versions return a
  naive now(), so the type is pinned with arrow_cast). Amp does not check volatility: avoid now()
  in `dataset` models, whose SQL Amp keeps re-running as the chain grows.
-#}
{% macro amp__current_timestamp() -%}
    arrow_cast(now(), 'Timestamp(Nanosecond, Some("+00:00"))')
{%- endmacro %}

{% macro amp__current_timestamp_backcompat() -%}
    cast(now() as timestamp)
{%- endmacro %}
