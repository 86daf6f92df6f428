{#-
  generate_series on DataFusion (Amp): unnest the list from the scalar generate_series(1, n)
  (Int64 1..n) instead of dbt's default cross join of powers of two, which yields Float64 numbers
  here (power() returns a double).
-#}
{% macro amp__generate_series(upper_bound) -%}
    select unnest(generate_series(1, {{ upper_bound }})) as generated_number
{%- endmacro %}
