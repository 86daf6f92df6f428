{#-
  `ref` for Amp. On top of dbt's own `ref` (models, ephemeral CTEs, packages, versions):

  * dependency aliases: with `dependencies={'eth': '_/eth_firehose@1.0.0'}` (model config,
    `+dependencies` in dbt_project.yml, or `config:` in a properties YAML), `{{ ref('eth').logs }}`
    and `{{ ref('eth') }}.logs` render `"_/eth_firehose@1.0.0".logs`. Under `--empty` only the first
    form can be limited (the second is a compile error saying so). At parse time dbt records
    `ref('eth')` like any ref; dbt-amp's parser hooks (dbt/adapters/amp/dependencies.py) drop refs
    that name a dependency alias. A unit test resolves the aliases of the model it tests (the hook
    copies them onto the unit-test node). An alias with the name of a model is a compile error.
  * a ref to a `dataset` model renders its dataset table, `"<namespace>/<name>@<version|dev>".<table>`
    (the manifest builder pins it to the registered manifest hash in a dependent dataset).
  * a ref to an `ephemeral` or a `query` model is inlined as a CTE (dbt's relation, `is_cte`; for
    query models through dbt/adapters/amp/query_ctes.py), so tests and other models can use both;
    a ref to a model dbt-amp cannot build (view, table, ...) is a compile error.
-#}
{% macro ref() -%}
  {%- set plain = (varargs | length == 1) and (kwargs | length == 0) -%}
  {%- if execute and plain -%}
    {%- set deps = adapter.amp_dependencies(config.get('dependencies'), model.name) -%}
    {%- if varargs[0] in deps -%}
      {{ return(adapter.amp_dataset_relation(deps[varargs[0]], varargs[0], flags.EMPTY, graph, model)) }}
    {%- endif -%}
  {%- endif -%}
  {%- set relation = builtins.ref(*varargs, **kwargs) -%}
  {%- if execute and not relation.is_cte -%}
    {%- set dataset_table = adapter.amp_check_ref_target(graph, model, varargs, kwargs, relation) -%}
    {%- if dataset_table is not none -%}
      {{ return(dataset_table) }}
    {%- endif -%}
  {%- endif -%}
  {{ return(relation) }}
{%- endmacro %}
