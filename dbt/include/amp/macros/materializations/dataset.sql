{#-
  `dataset`: the model becomes a table of an Amp derived dataset that Amp's own workers
  materialize. dbt builds the manifest from the compiled SQL (full dataset references rewritten to
  dependency aliases, `latest`/`dev` and refs to other dataset models pinned, the schema from
  `POST /schema`), registers it under `<profile schema>/<dataset_name>` (`version`, else the `dev`
  tag), deploys it when `deploy: true` (`end_block`: 'latest', a block, '-N', or none for a
  continuous job) and, with `wait: true`, follows the job until it is done.

  `adapter_response` carries namespace, name, version, table, manifest hash, dataset reference,
  job id and the job's status. Under `--empty` nothing is registered (the SQL is limited).
-#}
{% materialization dataset, adapter='amp', supported_languages=['sql'] %}
  {{ run_hooks(pre_hooks, inside_transaction=False) }}
  {{ run_hooks(pre_hooks, inside_transaction=True) }}
  {%- if flags.EMPTY -%}
    {%- do store_result('main', response=adapter.amp_skipped_response('not registered under --empty')) -%}
  {%- else -%}
    {%- set response = adapter.amp_build_dataset(model, sql, graph, should_full_refresh()) -%}
    {%- do store_result('main', response=response) -%}
  {%- endif -%}
  {{ run_hooks(post_hooks, inside_transaction=True) }}
  {{ run_hooks(post_hooks, inside_transaction=False) }}
  {{ return({'relations': []}) }}
{% endmaterialization %}
