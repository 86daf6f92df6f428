{#-
  `ref` for Amp. On top of dbt's own `ref` (models, ephemeral CTEs, packages, versions):

  * dependency aliases: with `dependencies={'eth': '_/eth_firehose@1.0.0'}` (model config or
    `+dependencies` in dbt_project.yml), `{{ ref('eth') }}.logs` renders `"_/eth_firehose@1.0.0".logs`.
    At parse time dbt records `ref('eth')` like any ref; dbt-amp's parser hook
    (dbt/adapters/amp/dependencies.py) then drops refs that name a dependency alias, for both the
    static parser and Jinja rendering.
  * a ref to a `query` model (terminal) or to a model dbt-amp cannot build is a compile error.
-#}
{% macro ref() -%}
  {%- set plain = (varargs | length == 1) and (kwargs | length == 0) -%}
  {%- if execute and plain -%}
    {%- set deps = adapter.amp_dependencies(config.get('dependencies'), model.name) -%}
    {%- if varargs[0] in deps -%}
      {{ return(adapter.amp_dataset_relation(deps[varargs[0]])) }}
    {%- endif -%}
  {%- endif -%}
  {%- set relation = builtins.ref(*varargs, **kwargs) -%}
  {%- if execute and not relation.is_cte -%}
    {%- do adapter.amp_check_ref_target(graph, model, varargs, kwargs) -%}
  {%- endif -%}
  {{ return(relation) }}
{%- endmacro %}
