{#- dbt.date(): DataFusion's to_date() takes chrono formats, not 'YYYY-MM-DD'; cast an ISO literal. -#}
{% macro amp__date(year, month, day) -%}
    {%- set dt = modules.datetime.date(year, month, day) -%}
    cast('{{ dt.strftime("%Y-%m-%d") }}' as date)
{%- endmacro %}
