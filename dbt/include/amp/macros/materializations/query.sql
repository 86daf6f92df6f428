{#-
  `query`: plan and execute the compiled SQL over Flight, count rows and bytes from the Arrow
  stream (no agate table), and record rows, bytes, duration and the block ranges Amp reports in
  `adapter_response`. Nothing is created on the server; a query model is a terminal node.
-#}
{% materialization query, adapter='amp', supported_languages=['sql'] %}
  {{ run_hooks(pre_hooks) }}
  {%- set response = adapter.run_query_model(sql) -%}
  {%- do store_result('main', response=response) -%}
  {{ run_hooks(post_hooks) }}
  {{ return({'relations': []}) }}
{% endmaterialization %}
