{#-
  block_range(start_block=none, end_block=none, column='block_num'): a filter on a block column,
  inclusive at both ends like Amp's block ranges; either end may be omitted (none), and with
  neither it renders `true`. Bounds are integers or SQL expressions.

    where {{ block_range(var('start_block', none), var('end_block', none)) }}
-#}
{% macro block_range(start_block=none, end_block=none, column='block_num') -%}
    {%- set lo = none if start_block is none or (start_block is string and start_block | trim == '') else start_block -%}
    {%- set hi = none if end_block is none or (end_block is string and end_block | trim == '') else end_block -%}
    {%- if lo is not none and hi is not none -%}
        ({{ column }} >= {{ lo }} and {{ column }} <= {{ hi }})
    {%- elif lo is not none -%}
        ({{ column }} >= {{ lo }})
    {%- elif hi is not none -%}
        ({{ column }} <= {{ hi }})
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}


{#-
  get_latest_block(relation, column='block_num', default=none): the highest block in a dataset
  table, queried when the macro runs (`select max(block_num) from <relation>`), as an int.
  Returns `default` while dbt parses (no `execute`) and when the table is empty. `relation` must be
  something Amp can query: a source (`source('eth_rpc', 'blocks')`), a dependency alias's table
  (`ref('eth').blocks`), or a full reference string to a dataset table ('"_/eth_rpc@1.0.0".blocks');
  not an ephemeral model (a CTE).

    {% set head = get_latest_block(source('eth_rpc', 'blocks')) %}
    where {{ block_range(head - 100 if head is not none else none) }}
-#}
{% macro get_latest_block(relation, column='block_num', default=none) -%}
    {%- if not execute -%}
        {{ return(default) }}
    {%- endif -%}
    {%- if relation is not string and relation.is_cte -%}
        {{ exceptions.raise_compiler_error("get_latest_block: " ~ relation ~ " is an ephemeral model (a CTE) and cannot be queried on its own; pass a source or a dataset table such as '\"_/eth_rpc@1.0.0\".blocks'") }}
    {%- endif -%}
    {%- set result = run_query('select max(' ~ column ~ ') as latest_block from ' ~ relation) -%}
    {%- set value = result.columns[0].values()[0] if result and result.rows | length > 0 else none -%}
    {{- return(default if value is none else value | int) -}}
{%- endmacro %}
