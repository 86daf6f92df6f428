{#-
  dbt's type_* macros for DataFusion (Amp). The defaults go through `api.Column.translate_type`,
  whose generic labels are not all right for DataFusion: `float` is Float32 there (so
  `cast('1.2345' as float) <> 1.2345`); dbt means a double. These names are DataFusion SQL types:

  | macro          | SQL            | Arrow type                     |
  |----------------|----------------|--------------------------------|
  | type_string    | varchar        | Utf8View (Utf8 on older DataFusion) |
  | type_timestamp | timestamp      | Timestamp(Nanosecond, None)    |
  | type_float     | double         | Float64                        |
  | type_numeric   | numeric(28,6)  | Decimal128(28, 6)              |
  | type_bigint    | bigint         | Int64                          |
  | type_int       | int            | Int32                          |
  | type_boolean   | boolean        | Boolean                        |
-#}
{% macro amp__type_string() %}{{ return('varchar') }}{% endmacro %}
{% macro amp__type_timestamp() %}{{ return('timestamp') }}{% endmacro %}
{% macro amp__type_float() %}{{ return('double') }}{% endmacro %}
{% macro amp__type_numeric() %}{{ return('numeric(28,6)') }}{% endmacro %}
{% macro amp__type_bigint() %}{{ return('bigint') }}{% endmacro %}
{% macro amp__type_int() %}{{ return('int') }}{% endmacro %}
{% macro amp__type_boolean() %}{{ return('boolean') }}{% endmacro %}
