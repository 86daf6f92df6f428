{#- dbt's test materialization without `--store-failures` (which would create a table). An
    invalid `store_failures_as` still gets dbt's own message first. -#}
{%- materialization test, adapter='amp' -%}
  {% if should_store_failures() %}
    {% set store_failures_as = config.get('store_failures_as') or 'table' %}
    {% if store_failures_as not in ['table', 'view'] %}
      {{ exceptions.raise_compiler_error(
          "'" ~ store_failures_as ~ "' is not a valid value for `store_failures_as`. "
          "Accepted values are: ['ephemeral', 'table', 'view']"
      ) }}
    {% endif %}
    {{ amp__refuse_materialization('store_failures') }}
  {% endif %}
  {% set limit = config.get('limit') %}
  {% set fail_calc = config.get('fail_calc') %}
  {% set warn_if = config.get('warn_if') %}
  {% set error_if = config.get('error_if') %}
  {% set sql_header = config.get('sql_header') if flags.REQUIRE_SQL_HEADER_IN_TEST_CONFIGS else none %}
  {% call statement('main', fetch_result=True) -%}
    {% if sql_header %}{{ sql_header }}{% endif %}
    {{ get_test_sql(get_limit_subquery_sql(sql, limit), fail_calc, warn_if, error_if, limit=none) }}
  {%- endcall %}
  {{ return({'relations': []}) }}
{%- endmaterialization -%}
