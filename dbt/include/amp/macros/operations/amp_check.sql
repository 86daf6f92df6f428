{#-
  dbt run-operation amp_check [--args "{select: '<dbt selector>', exclude: '<dbt selector>'}"]

  Plans every selected model on Amp without running it (GetFlightInfo only) and reports each one
  that does not plan, with its name and Amp's message: a typo in an ephemeral model shows up here,
  not only when something runs it. Fails (non-zero exit) if any model fails. `select` / `exclude`
  take dbt's selector syntax, as `-s` / `--exclude` do on `dbt run`; without them every model is
  checked.
-#}
{% macro amp_check(select=none, exclude=none) -%}
  {%- if execute -%}
    {%- do adapter.amp_check(select, exclude) -%}
  {%- endif -%}
{%- endmacro %}
