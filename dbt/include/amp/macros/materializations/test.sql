{#- dbt's test materialization without `--store-failures` (which would create a table). -#}
{%- materialization test, adapter='amp' -%}
  {% if should_store_failures() %}
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
