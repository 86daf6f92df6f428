{#-
  Block-range incremental `query` models ("incremental = smart WHERE clauses"):

    {{ config(materialized='query', incremental_strategy='block_range') }}
    select ... from {{ source('eth', 'logs') }}
    {% if is_incremental() %} where block_num > {{ last_processed_block() }} {% endif %}

  Progress is kept per profile, target and model in `.amp-dbt/state.db` (dbt/adapters/amp/state.py).
-#}

{#-
  is_incremental(): true for a query model with incremental_strategy='block_range' once a run of it
  has succeeded on this target, unless --full-refresh (or the model's `full_refresh` config) says to
  start over. False for every other model: Amp has no tables that dbt appends to. Overrides dbt's
  macro, which asks for an existing table and materialized='incremental'.
-#}
{% macro is_incremental() %}
  {%- if not execute -%}
    {{ return(false) }}
  {%- endif -%}
  {{ return(adapter.amp_is_incremental(model, should_full_refresh())) }}
{% endmacro %}


{#-
  last_processed_block(network=none): the last block the model's previous successful run
  processed: the END of the block ranges Amp reported for that run (the chain head its query saw,
  from Flight app_metadata), not the largest block number among its rows. Filter with
  `block_num > {{ last_processed_block() }}`. A query over several networks names one:
  last_processed_block('mainnet'). Call it only where is_incremental() is true. Do not bound the
  query from above: blocks past such a bound (up to the reported end) would count as processed.
-#}
{% macro last_processed_block(network=none) %}
  {%- if not execute -%}
    {{ return(0) }}
  {%- endif -%}
  {{ return(adapter.amp_last_processed_block(model, network, should_full_refresh())) }}
{% endmacro %}
