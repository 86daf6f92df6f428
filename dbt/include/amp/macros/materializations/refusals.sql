{#-
  Amp stores no tables or views that a client creates, so every materialization that would create
  one is refused with one message: which model, why, and what to use instead.
-#}
{% macro amp__refuse_materialization(kind) -%}
  {{ exceptions.raise_compiler_error(adapter.amp_refusal_message(model, kind, project_name)) }}
{%- endmacro %}

{% materialization view, adapter='amp' %}
  {{ amp__refuse_materialization('view') }}
{% endmaterialization %}

{% materialization table, adapter='amp', supported_languages=['sql', 'python'] %}
  {{ amp__refuse_materialization('table') }}
{% endmaterialization %}

{% materialization incremental, adapter='amp', supported_languages=['sql', 'python'] %}
  {{ amp__refuse_materialization('incremental') }}
{% endmaterialization %}

{% materialization materialized_view, adapter='amp' %}
  {{ amp__refuse_materialization('materialized_view') }}
{% endmaterialization %}

{% materialization snapshot, adapter='amp' %}
  {{ amp__refuse_materialization('snapshot') }}
{% endmaterialization %}

{% materialization seed, adapter='amp' %}
  {{ amp__refuse_materialization('seed') }}
{% endmaterialization %}

{% materialization clone, adapter='amp' %}
  {{ amp__refuse_materialization('clone') }}
{% endmaterialization %}
