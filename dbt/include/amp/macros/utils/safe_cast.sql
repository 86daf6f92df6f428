{#-
  safe_cast on DataFusion (Amp): TRY_CAST (NULL instead of an error when a value does not convert).

  Two Amp-specific cases, so that column types reported by the adapter (and used by unit-test
  fixtures) can be cast back to:
  * Arrow type names that are not SQL types (`FixedSizeBinary(20)`,
    `Timestamp(Nanosecond, Some("+00:00"))`, `List(Int64)`, ...) go through `arrow_cast(x, '<type>')`;
  * a `'0x…'` string literal cast to a binary type (BYTEA / FixedSizeBinary(n)) is hex-decoded, so
    addresses and hashes are written the way Amp and dbt-amp display them: `'0xa0b8…'`.
-#}
{% macro amp__safe_cast(field, type) -%}
    {%- set type_name = type | string | trim -%}
    {%- set hex = amp_hex_literal_digits(field) -%}
    {%- set is_arrow = amp_is_arrow_type_name(type_name) -%}
    {%- set is_binary = (type_name | lower) in ('bytea', 'binary', 'varbinary', 'blob') or type_name.startswith('FixedSizeBinary(') or type_name in ('Binary', 'LargeBinary', 'BinaryView') -%}
    {%- if hex is not none and is_binary -%}
        {%- if is_arrow -%}
            arrow_cast(decode('{{ hex }}', 'hex'), '{{ type_name }}')
        {%- else -%}
            decode('{{ hex }}', 'hex')
        {%- endif -%}
    {%- elif is_arrow -%}
        arrow_cast({{ field }}, '{{ type_name | replace("'", "''") }}')
    {%- else -%}
        try_cast({{ field }} as {{ type_name }})
    {%- endif -%}
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
