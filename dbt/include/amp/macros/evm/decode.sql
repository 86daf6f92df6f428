{#-
  EVM event helpers over Amp's built-in UDFs (PROTOCOL §3): evm_topic, evm_decode_log,
  evm_decode_hex, evm_encode_hex, shift_units. Signatures are event signatures *with* parameter
  names and `indexed` markers, e.g. 'Transfer(address indexed from, address indexed to, uint256 value)'.
  Amp requires them to be SQL string literals, so these macros take them as Jinja strings and
  quote them.
-#}

{#- A Jinja string as a SQL string literal ('…', quotes doubled). -#}
{% macro amp_sql_string(value) -%}
    '{{ value | string | replace("'", "''") }}'
{%- endmacro %}


{#- evm_topic('<signature>'): the event's topic0 (keccak256), FixedSizeBinary(32). -#}
{% macro evm_topic(signature) -%}
    evm_topic({{ amp_sql_string(signature) }})
{%- endmacro %}


{#-
  evm_decode(topic1, topic2, topic3, data, signature): the decoded event struct (the design doc's
  macro). Arguments are SQL expressions, the signature a Jinja string. Emits Amp's
  `evm_decode_log` (its `evm_decode` spelling is a deprecated alias).
  Read fields with brackets: `ev['from']`, `ev['amount0In']` (unquoted names are lower-cased).
-#}
{% macro evm_decode(topic1, topic2, topic3, data, signature) -%}
    evm_decode_log({{ topic1 }}, {{ topic2 }}, {{ topic3 }}, {{ data }}, {{ amp_sql_string(signature) }})
{%- endmacro %}


{#-
  evm_event_params(signature) -> [{'name', 'type', 'canonical', 'indexed'}, ...] in declaration
  order: `type` as written (tuple types kept whole), `canonical` the ABI type ('uint' is 'uint256',
  tuples '(uint8,bytes32[])'). Parsed in Python (dbt/adapters/amp/evm_signatures.py); a malformed
  signature or an unnamed parameter is a compile error (the decoded struct's fields are named after
  the parameters).
-#}
{% macro evm_event_params(signature) -%}
    {{- return(adapter.amp_evm_event_params(signature)) -}}
{%- endmacro %}


{#-
  evm_event_logs(logs_relation, signature, address=none, columns=[...], alias='event'):
  the logs of one event, with the decoded struct as column `alias`.

    select * from ({{ evm_event_logs(source('eth_rpc', 'logs'), 'Transfer(address indexed from, address indexed to, uint256 value)') }})

  `address` (a '0x…' contract address or a non-empty list of them) restricts the emitting
  contracts. Logs are matched on topic0 *and* on the number of topics: an event with N indexed
  parameters has topic1..topicN set and the remaining topics null. This is what tells an ERC-20
  Transfer (2 indexed parameters, value in data) from an ERC-721 Transfer (3 indexed, tokenId in
  topic3): both have the same topic0. Amp folds the topic0 filter to a literal and pushes it into
  the parquet scan.
-#}
{% macro evm_event_logs(logs_relation, signature, address=none, columns=['block_num', 'timestamp', 'tx_hash', 'tx_index', 'log_index', 'address'], alias='event') -%}
    {%- set indexed = evm_event_params(signature) | selectattr('indexed') | list | length -%}
    {%- if indexed > 3 -%}
        {{ exceptions.raise_compiler_error("Event '" ~ signature ~ "' has " ~ indexed ~ " indexed parameters; an EVM log has at most 3 (topic1..topic3)") }}
    {%- endif -%}
    select
        {%- for col in columns %}
        {{ col }},
        {%- endfor %}
        {{ evm_decode('topic1', 'topic2', 'topic3', 'data', signature) }} as {{ alias }}
    from {{ logs_relation }}
    where topic0 = {{ evm_topic(signature) }}
    {%- for i in range(1, 4) %}
      and topic{{ i }} is {{ 'not null' if i <= indexed else 'null' }}
    {%- endfor %}
    {%- if address is not none %}
      and {{ evm_address_filter('address', address) }}
    {%- endif %}
{%- endmacro %}


{#-
  evm_decoded_events(logs_relation, signature, address=none, columns=[...], hex=true, prefix=''):
  like evm_event_logs (same rows, same default log columns), but one output column per event
  parameter. When `hex` is true, binary values become '0x…' lowercase strings: the log columns
  `address`, `tx_hash`, `block_hash`, `topic0`..`topic3` and `data`, and address / bytes32 (and
  indexed reference-type) parameters. uint256/int256 parameters stay Amp's exact decimal strings
  (use token_amount() to scale them). Output names are the parameter names without leading
  underscores (`_from` -> `from`): Amp rejects aliases starting with `_`. Names are quoted, so
  `from`, `to` and camelCase names (`amount0In`) come out as written.
-#}
{% macro evm_decoded_events(logs_relation, signature, address=none, columns=['block_num', 'timestamp', 'tx_hash', 'tx_index', 'log_index', 'address'], hex=true, prefix='') -%}
    {%- set params = evm_event_params(signature) -%}
    {%- set hex_columns = ['address', 'tx_hash', 'block_hash', 'topic0', 'topic1', 'topic2', 'topic3'] -%}
    {%- set items = [] -%}
    {%- for col in columns -%}
        {%- set bare = col | string | trim | lower -%}
        {%- if hex and bare in hex_columns -%}
            {%- do items.append('evm_decode_hex(evm_event_row.' ~ bare ~ ') as ' ~ bare) -%}
        {%- elif hex and bare == 'data' -%}
            {%- do items.append(evm_hex('evm_event_row.data', binary=true) ~ ' as data') -%}
        {%- else -%}
            {%- do items.append(col) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- for p in params -%}
        {%- set field = 'evm_event_row.event[' ~ amp_sql_string(p.name) ~ ']' -%}
        {%- set name = adapter.quote(prefix ~ p.name.lstrip('_')) -%}
        {%- if hex and (p.canonical in ('address', 'bytes32') or (p.indexed and (p.canonical in ('string', 'bytes') or p.canonical.endswith(']') or p.canonical.startswith('(')))) -%}
            {%- do items.append('evm_decode_hex(' ~ field ~ ') as ' ~ name) -%}
        {%- else -%}
            {%- do items.append(field ~ ' as ' ~ name) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if not items -%}
        {{ exceptions.raise_compiler_error("evm_decoded_events: '" ~ signature ~ "' has no parameters and no columns were requested") }}
    {%- endif %}
    select
        {{ items | join(',\n        ') }}
    from (
        {{ evm_event_logs(logs_relation, signature, address=address, columns=columns, alias='event') | indent(8) }}
    ) as evm_event_row
{%- endmacro %}
