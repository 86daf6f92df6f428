{#- Amp is read-only for clients: dbt never creates, drops or lists relations on it. The
    schema/relation no-ops (create_schema, drop_schema, list_schemas, check_schema_exists,
    list_relations_without_caching) are AmpAdapter methods: dbt calls those, not macros; so is
    the catalog (AmpAdapter.get_filtered_catalog: sources, query and ephemeral models). -#}

{% macro amp__get_columns_in_relation(relation) -%}
  {{ return(adapter.get_columns_in_relation(relation)) }}
{%- endmacro %}

{#- UTC-aware like Amp's block timestamps; plain now() is naive or not depending on the
    DataFusion version. -#}
{% macro amp__current_timestamp() -%}
  arrow_cast(now(), 'Timestamp(Nanosecond, Some("+00:00"))')
{%- endmacro %}

{#- `dbt show --limit`: append `limit N`; a query that already ends in LIMIT is wrapped as a
    subquery instead (DataFusion rejects a double LIMIT). Appending keeps ORDER BY in effect.
    Trailing `;`, `-- ...` and `/* ... */` are dropped first (a `--` inside a string is kept). -#}
{% macro amp__get_limit_sql(sql, limit) -%}
  {%- set body = adapter.amp_strip_trailing_comments(sql) -%}
  {%- if limit is none or limit < 0 -%}
{{ sql }}
  {%- elif modules.re.search('(?i)\\blimit\\s+\\d+(\\s+offset\\s+\\d+)?$', body) -%}
select * from (
{{ body }}
) as dbt_show_limit
limit {{ limit }}
  {%- else -%}
{{ body }}
limit {{ limit }}
  {%- endif -%}
{%- endmacro %}

{#- Amp reserves `_`-prefixed names: no `__dbt_sbq` alias. -#}
{% macro amp__get_empty_subquery_sql(select_sql, select_sql_header=none) -%}
  {%- if select_sql_header is not none -%}
{{ select_sql_header }}
  {%- endif %}
select * from (
{{ select_sql }}
) as dbt_empty_subquery
where false
limit 0
{%- endmacro %}

{% macro amp__alter_relation_comment(relation, relation_comment) -%}
{%- endmacro %}

{% macro amp__alter_column_comment(relation, column_dict) -%}
{%- endmacro %}

{% macro amp__get_show_grant_sql(relation) -%}
  select 1 as grantee where false
{%- endmacro %}

{% macro amp__apply_grants(relation, grant_config, should_revoke=True) -%}
{%- endmacro %}
