{#-
  safe_cast on DataFusion (Amp): NULL instead of an error when a value does not convert.

  * SQL type names: TRY_CAST.
  * Arrow type names (the spellings dbt-amp reports for column types, e.g. `FixedSizeBinary(20)`,
    `Timestamp(Nanosecond, Some("+00:00"))`, `Int64`, `List(Utf8)`), which CAST does not accept:
    - simple ones with a SQL twin (`Int64`, `UInt64`, `Float64`, `Boolean`, `Date32`, `Binary`,
      `Decimal128(p, s)`, `Timestamp(Nanosecond, None)`, ...) become TRY_CAST to that type, plus an
      infallible arrow_cast where the twin's Arrow type differs (`Utf8` vs varchar's Utf8View,
      `Decimal256(38, 0)`);
    - `Timestamp(unit, tz)`: the value is first checked with TRY_CAST(x AS timestamp), and
      arrow_cast (which raises on bad input) only sees values that parse;
    - `FixedSizeBinary(n)`: the value is TRY_CAST to bytes and converted only when it has n bytes;
    - other Arrow types (lists, structs, times, ...) use arrow_cast, which may raise.
  * A `'0x…'` string literal cast to a binary type (BYTEA / FixedSizeBinary(n)) is hex-decoded, so
    addresses and hashes are written the way Amp and dbt-amp display them: `'0xa0b8…'`. The digits
    are checked at compile time: an odd number of digits, or a length other than n bytes for
    FixedSizeBinary(n), gives NULL.
-#}
{% macro amp__safe_cast(field, type) -%}
    {%- set type_name = type | string | trim -%}
    {%- set hex = amp_hex_literal_digits(field) -%}
    {%- set is_arrow = amp_is_arrow_type_name(type_name) -%}
    {%- set fsb = modules.re.match('^FixedSizeBinary\\((\\d+)\\)$', type_name) -%}
    {%- set ts = modules.re.match('^Timestamp\\(', type_name) -%}
    {%- set twin = amp_arrow_sql_twin(type_name) -%}
    {%- set is_binary = (type_name | lower) in ('bytea', 'binary', 'varbinary', 'blob') or fsb or type_name in ('Binary', 'LargeBinary', 'BinaryView') -%}
    {%- set quoted_type = "'" ~ (type_name | replace("'", "''")) ~ "'" -%}
    {%- if hex is not none and is_binary -%}
        {%- set valid = (hex | length) % 2 == 0 and (not fsb or (hex | length) == 2 * (fsb.group(1) | int)) -%}
        {%- if not valid -%}
            {%- if is_arrow -%}arrow_cast(null, {{ quoted_type }}){%- else -%}cast(null as bytea){%- endif -%}
        {%- elif is_arrow -%}
            arrow_cast(decode('{{ hex }}', 'hex'), {{ quoted_type }})
        {%- else -%}
            decode('{{ hex }}', 'hex')
        {%- endif -%}
    {%- elif not is_arrow -%}
        try_cast({{ field }} as {{ type_name }})
    {%- elif (field | string | trim | lower) == 'null' -%}
        arrow_cast(null, {{ quoted_type }})
    {%- elif twin is not none -%}
        {%- if twin.exact -%}
            try_cast({{ field }} as {{ twin.sql }})
        {%- else -%}
            arrow_cast(try_cast({{ field }} as {{ twin.sql }}), {{ quoted_type }})
        {%- endif -%}
    {%- elif fsb -%}
        (case when length(encode(try_cast({{ field }} as bytea), 'hex')) = {{ 2 * (fsb.group(1) | int) }} then arrow_cast(try_cast({{ field }} as bytea), {{ quoted_type }}) end)
    {%- elif ts -%}
        (case when try_cast({{ field }} as timestamp) is not null then arrow_cast({{ field }}, {{ quoted_type }}) end)
    {%- else -%}
        arrow_cast({{ field }}, {{ quoted_type }})
    {%- endif -%}
{%- endmacro %}


{#-
  The SQL type TRY_CAST can convert to for a simple Arrow type name, as {'sql', 'exact'} (exact:
  the SQL type *is* that Arrow type; else an infallible arrow_cast follows), or none.
-#}
{% macro amp_arrow_sql_twin(type_name) -%}
    {%- set exact = {
        'Int8': 'tinyint', 'Int16': 'smallint', 'Int32': 'int', 'Int64': 'bigint',
        'UInt8': 'tinyint unsigned', 'UInt16': 'smallint unsigned', 'UInt32': 'int unsigned', 'UInt64': 'bigint unsigned',
        'Float32': 'real', 'Float64': 'double', 'Boolean': 'boolean', 'Date32': 'date',
        'Binary': 'bytea', 'Utf8View': 'varchar', 'Timestamp(Nanosecond, None)': 'timestamp',
    } -%}
    {%- set via = {'Utf8': 'varchar', 'LargeUtf8': 'varchar', 'LargeBinary': 'bytea', 'BinaryView': 'bytea', 'Float16': 'real'} -%}
    {%- set dec = modules.re.match('^Decimal(128|256)\\(\\s*(\\d+)\\s*,\\s*(-?\\d+)\\s*\\)$', type_name) -%}
    {%- if type_name in exact -%}
        {{- return({'sql': exact[type_name], 'exact': true}) -}}
    {%- elif type_name in via -%}
        {{- return({'sql': via[type_name], 'exact': false}) -}}
    {%- elif dec and (dec.group(3) | int) >= 0 -%}
        {#- decimal(p, s) is Decimal128 up to p = 38, Decimal256 above -#}
        {%- set p, s = dec.group(2) | int, dec.group(3) | int -%}
        {{- return({'sql': 'decimal(' ~ p ~ ', ' ~ s ~ ')', 'exact': (dec.group(1) == '128') == (p <= 38)}) -}}
    {%- endif -%}
    {{- return(none) -}}
{%- endmacro %}


{#- True for Arrow type spellings that DataFusion only accepts through arrow_cast(). -#}
{% macro amp_is_arrow_type_name(type_name) -%}
    {%- set pattern = '^(FixedSizeBinary|Timestamp|List|LargeList|FixedSizeList|Struct|Map|Time32|Time64|Duration|Interval|Decimal128|Decimal256|Dictionary)\\(|^(Float16|Float32|Float64|Date32|Date64|Null|Utf8|LargeUtf8|Utf8View|Binary|LargeBinary|BinaryView|Boolean|U?Int(8|16|32|64))$' -%}
    {{- return(modules.re.match(pattern, type_name | string) is not none) -}}
{%- endmacro %}


{#- '0xab12' (a quoted SQL literal) -> 'ab12'; anything else -> none. -#}
{% macro amp_hex_literal_digits(field) -%}
    {%- set m = modules.re.match("^'0[xX]([0-9a-fA-F]*)'$", field | string | trim) -%}
    {{- return(m.group(1) | lower if m else none) -}}
{%- endmacro %}


{#-
  cast on DataFusion (Amp): CAST for SQL type names, `arrow_cast(x, '<type>')` for the Arrow type
  names dbt-amp reports (`FixedSizeBinary(20)`, `Timestamp(Nanosecond, Some("+00:00"))`, ...), so
  a model contract can declare either spelling (dbt builds its empty-schema query with cast()).
-#}
{% macro amp__cast(field, type) -%}
    {%- set type_name = type | string | trim -%}
    {%- if amp_is_arrow_type_name(type_name) -%}
        arrow_cast({{ field }}, '{{ type_name | replace("'", "''") }}')
    {%- else -%}
        cast({{ field }} as {{ type_name }})
    {%- endif -%}
{%- endmacro %}
