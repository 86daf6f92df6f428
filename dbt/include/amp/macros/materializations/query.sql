{#-
  `query`: plan and execute the compiled SQL over Flight, count rows and bytes from the Arrow
  stream (no agate table), and record rows, bytes, duration and the block ranges Amp reports in
  `adapter_response`. Nothing is created on the server: `ref()` to a query model inlines its SQL
  as a CTE (dbt/adapters/amp/query_ctes.py), so tests and downstream models read the same query.

  A `set_sql_header` block is sent in front of the query, as dbt's table materialization does.
  Hooks run in the same order as in dbt's table materialization: `before_begin` (outside a
  transaction), pre-hooks, the query, post-hooks, `after_commit`. An enforced contract
  (`contract: {enforced: true}`) is checked first: the server plans both the
  model's SQL and the declared columns (`cast(null as <data_type>)`, Arrow names through
  arrow_cast), and dbt compares names and types.

  With `incremental_strategy='block_range'` the model's SQL reads only the blocks after its last
  successful run (is_incremental(), last_processed_block(): macros/incremental.sql), and the end of
  the block ranges Amp reported is recorded in `.amp-dbt/state.db` once the whole result was read.
  With `export` each run's rows stream into one Parquet file named by its block range.
  `--full-refresh` (should_full_refresh()) starts both over.
-#}
{% materialization query, adapter='amp', supported_languages=['sql'] %}
  {%- set contract_config = config.get('contract') -%}
  {%- if contract_config and contract_config.enforced -%}
    {{ get_assert_columns_equivalent(sql) }}
  {%- endif -%}
  {{ run_hooks(pre_hooks, inside_transaction=False) }}
  {{ run_hooks(pre_hooks, inside_transaction=True) }}
  {%- set sql_header = config.get('sql_header') -%}
  {%- set query_sql = (sql_header ~ '\n' ~ sql) if sql_header else sql -%}
  {%- set response = adapter.run_query_model(query_sql, model, should_full_refresh()) -%}
  {%- do store_result('main', response=response) -%}
  {{ run_hooks(post_hooks, inside_transaction=True) }}
  {{ run_hooks(post_hooks, inside_transaction=False) }}
  {{ return({'relations': []}) }}
{% endmaterialization %}


{#-
  dbt's run_hooks, without the `commit;` it sends before the first hook that runs outside a
  transaction (`before_begin` / `after_commit`): Amp has no transactions and would reject it.
  (run_hooks is not dispatched; a macro of the adapter package overrides dbt's.)
-#}
{% macro run_hooks(hooks, inside_transaction=True) %}
  {% for hook in hooks | selectattr('transaction', 'equalto', inside_transaction) %}
    {% set rendered = render(hook.get('sql')) | trim %}
    {% if (rendered | length) > 0 %}
      {% call statement(auto_begin=inside_transaction) %}
        {{ rendered }}
      {% endcall %}
    {% endif %}
  {% endfor %}
{% endmacro %}
