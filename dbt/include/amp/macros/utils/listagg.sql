{#-
  listagg on DataFusion (Amp): `string_agg(measure, delimiter ORDER BY ...)`. DataFusion has no
  `listagg` and no `WITHIN GROUP` for string_agg; the ORDER BY goes inside the call. With a limit,
  the ordered values are collected with array_agg, sliced (1-based) and joined.
  `measure` may start with DISTINCT ('DISTINCT col'), as dbt allows.
-#}
{% macro amp__listagg(measure, delimiter_text, order_by_clause, limit_num) -%}
    {%- if limit_num -%}
    array_to_string(array_slice(array_agg({{ measure }}{% if order_by_clause %} {{ order_by_clause }}{% endif %}), 1, {{ limit_num }}), {{ delimiter_text }})
    {%- else -%}
    string_agg({{ measure }}, {{ delimiter_text }}{% if order_by_clause %} {{ order_by_clause }}{% endif %})
    {%- endif -%}
{%- endmacro %}
