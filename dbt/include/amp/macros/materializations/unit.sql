{#-
  The `unit` materialization for Amp (dbt unit tests: `dbt test --select test_type:unit`).

  dbt's default creates a temporary table from the tested model's SQL to learn its column names and
  types, then drops it. Amp is read-only for clients (no CREATE of any kind), so this version asks
  the adapter for the schema of the query instead: get_column_schema_from_query() wraps the SQL in
  get_empty_subquery_sql() and the adapter *plans* it on the server (GetFlightInfo: schema without
  execution). The rest follows the default: expected rows are cast to those types (amp__safe_cast
  understands the adapter's Arrow type names and '0x…' hex literals for binary columns), and one
  query returns the actual and the expected rows for dbt to compare.

  Fixture notes:
  * `given` inputs with dict/csv rows are typed like dbt does on other adapters: for a source the
    adapter plans `select * from <source>`; for an ephemeral model (there is no relation to read)
    it compiles the model from the manifest and plans its SQL (amp_ephemeral_input_columns). Row
    values are cast to those types (csv `9` on a BIGINT column is 9, '0x…' on a binary column is
    bytes) and columns a row leaves out are typed NULLs.
  * `format: sql` rows are used as written.
  * A value its binary column cannot hold ('0x…' of the wrong length for FixedSizeBinary(n), odd or
    non-hex digits) is a compile error naming the fixture, row and column, not a silent NULL.
-#}
{%- materialization unit, adapter='amp' -%}

  {% set relations = [] %}
  {% set sql_header = config.get('sql_header') if flags.REQUIRE_SQL_HEADER_IN_TEST_CONFIGS else none %}

  {% set expected_rows = config.get('expected_rows') %}
  {% set expected_sql = config.get('expected_sql') %}

  {#-- schema of the tested model's query, planned by the server: no table is created --#}
  {%- set column_maps = amp_unit_test_column_maps(get_column_schema_from_query(sql, sql_header)) -%}
  {%- set column_name_to_data_types = column_maps.data_types -%}
  {%- set column_name_to_quoted = column_maps.quoted -%}

  {% set tested_expected_column_names = expected_rows[0].keys() if (expected_rows | length ) > 0 else column_maps.names %}

  {%- set expected_column_names_quoted = [] -%}
  {%- for column_name in tested_expected_column_names -%}
  {%-   if column_name|lower not in column_name_to_quoted -%}
  {{      exceptions.raise_compiler_error(
            "Invalid column name: '" ~ column_name ~ "' in unit test fixture for expected output."
            ~ "\nAccepted columns for expected output are: " ~ (column_name_to_data_types.keys() | list)) }}
  {%-   endif -%}
  {%-   do expected_column_names_quoted.append(column_name_to_quoted[column_name|lower]) -%}
  {%- endfor -%}

  {% if not expected_sql %}
  {%   do adapter.amp_check_fixture_rows(expected_rows, column_name_to_data_types, 'expected output') %}
  {%   set expected_sql = get_expected_sql(expected_rows, column_name_to_data_types, column_name_to_quoted) %}
  {% endif %}
  {% set unit_test_sql = get_unit_test_sql(sql, expected_sql, expected_column_names_quoted) %}

  {% call statement('main', fetch_result=True) -%}

    {% if sql_header %}{{ sql_header }}{% endif %}
    {{ unit_test_sql }}

  {%- endcall %}

  {{ return({'relations': relations}) }}

{%- endmaterialization -%}


{#-
  {lowercased name: data type}, {lowercased name: quoted name} and the names, of `columns` minus
  Amp's reserved `_`-prefixed ones (`_block_num`): Amp rejects `null as "_block_num"`, so those
  columns never appear in fixture or expected rows.
-#}
{% macro amp_unit_test_column_maps(columns) -%}
  {%- set data_types = {} -%}
  {%- set quoted = {} -%}
  {%- set names = [] -%}
  {%- for column in columns if not column.name.startswith('_') -%}
  {%-   do data_types.update({column.name|lower: column.data_type}) -%}
  {%-   do quoted.update({column.name|lower: column.quoted}) -%}
  {%-   do names.append(column.name) -%}
  {%- endfor -%}
  {{ return({'data_types': data_types, 'quoted': quoted, 'names': names}) }}
{%- endmacro %}


{#-
  dbt's default names its derived tables `_dbt_internal_unit_test_actual` / `_expected`; Amp
  reserves names starting with `_`, so the same query is written with unprefixed aliases.
-#}
{% macro amp__get_unit_test_sql(main_sql, expected_fixture_sql, expected_column_names) -%}
-- Build actual result given inputs
with dbt_internal_unit_test_actual as (
  select
    {% for expected_column_name in expected_column_names %}{{expected_column_name}}{% if not loop.last -%},{% endif %}{%- endfor -%}, {{ dbt.string_literal("actual") }} as {{ adapter.quote("actual_or_expected") }}
  from (
    {{ main_sql }}
  ) dbt_internal_unit_test_actual_rows
),
-- Build expected result
dbt_internal_unit_test_expected as (
  select
    {% for expected_column_name in expected_column_names %}{{expected_column_name}}{% if not loop.last -%}, {% endif %}{%- endfor -%}, {{ dbt.string_literal("expected") }} as {{ adapter.quote("actual_or_expected") }}
  from (
    {{ expected_fixture_sql }}
  ) dbt_internal_unit_test_expected_rows
)
-- Union actual and expected results
select * from dbt_internal_unit_test_actual
union all
select * from dbt_internal_unit_test_expected
{%- endmacro %}


{#-
  get_fixture_sql for Amp (dbt's version is not dispatched, so this one overrides it from the
  adapter package). Same as dbt's, except that the reserved `_block_num` column of Amp's raw tables
  (any column starting with `_`) is left out of fixture rows: Amp rejects `null as "_block_num"`
  ("Underscore-prefixed names are reserved"). Models read `block_num` instead; a fixture row that
  sets a `_`-column is a compile error.
-#}
{% macro get_fixture_sql(rows, column_name_to_data_types) %}
-- Fixture for {{ model.name }}
{% set default_row = {} %}

{#-- a source input has a source_name; any other input stands for a model, ephemeral on Amp:
     its columns come from compiling and planning that model (there is no relation to read) --#}
{%- if not column_name_to_data_types and not model.get('source_name') -%}
{%-   set column_maps = amp_unit_test_column_maps(
          adapter.amp_ephemeral_input_columns(model.unique_id, model.get('version'))) -%}
{%-   set column_name_to_data_types = column_maps.data_types -%}
{%-   set column_name_to_quoted = column_maps.quoted -%}
{%- endif -%}

{%- if not column_name_to_data_types -%}
{#-- Use defer_relation IFF it is available in the manifest and 'this' is missing from the database --#}
{%-   set this_or_defer_relation = defer_relation if (defer_relation and not load_relation(this)) else this -%}
{%-   set column_maps = amp_unit_test_column_maps(
          adapter.get_columns_in_relation(this_or_defer_relation)) -%}
{%-   set column_name_to_data_types = column_maps.data_types -%}
{%-   set column_name_to_quoted = column_maps.quoted -%}
{%- endif -%}

{%- if not column_name_to_data_types -%}
    {{ exceptions.raise_compiler_error("Not able to get columns for unit test '" ~ model.name ~ "' from relation " ~ this ~ " because the relation doesn't exist. On Amp, an ephemeral model given as a unit-test input needs `format: sql` rows.") }}
{%- endif -%}

{%- for row in rows -%}
{%-   for column_name in row.keys() if column_name.startswith('_') -%}
{{      exceptions.raise_compiler_error("Unit test fixture for '" ~ model.name ~ "' sets '" ~ column_name ~ "': Amp reserves names starting with '_' (use block_num, not _block_num)") }}
{%-   endfor -%}
{%- endfor -%}

{%- for column_name, column_type in column_name_to_data_types.items() -%}
    {%- do default_row.update({column_name: (safe_cast("null", column_type) | trim )}) -%}
{%- endfor -%}

{{ validate_fixture_rows(rows, row_number) }}
{%- do adapter.amp_check_fixture_rows(rows, column_name_to_data_types, "'" ~ model.name ~ "'") -%}

{%- for row in rows -%}
{%-   set formatted_row = format_row(row, column_name_to_data_types) -%}
{%-   set default_row_copy = default_row.copy() -%}
{%-   do default_row_copy.update(formatted_row) -%}
select
{%-   for column_name, column_value in default_row_copy.items() %} {{ column_value }} as {{ column_name_to_quoted[column_name] }}{% if not loop.last -%}, {%- endif %}
{%-   endfor %}
{%-   if not loop.last %}
union all
{%    endif %}
{%- endfor -%}

{%- if (rows | length) == 0 -%}
    select
    {%- for column_name, column_value in default_row.items() %} {{ column_value }} as {{ column_name_to_quoted[column_name] }}{% if not loop.last -%},{%- endif %}
    {%- endfor %}
    limit 0
{%- endif -%}
{% endmacro %}
