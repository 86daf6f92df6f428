"""The shipped EVM helper macros (dbt/include/amp/macros/evm) on the served chains.

One dbt project, one `dbt build`: ephemeral models that use the macros, and singular data tests
that compare them with hand-written SQL over Amp's UDFs (the ground truth the macros must
reproduce) on the synthetic chain (`_/eth_rpc@1.0.0`, `_/eth_firehose@1.0.0`) and on Amp's real
snapshots (`_/eth_rpc@0.0.0`: mainnet block 15,000,000; `_/base_rpc@0.0.0`). Each singular test
returns the rows that are wrong. Compile-time errors are checked with `dbt compile --inline`.
"""

from __future__ import annotations

import pytest
from dbt.tests.util import run_dbt

from tests.functional.adapter.ephemeral_batch import BuildResults, EphemeralBatchProject
from tests.profiles import amp_target

TRANSFER = "Transfer(address indexed from, address indexed to, uint256 value)"
APPROVAL = "Approval(address indexed owner, address indexed spender, uint256 value)"
TRANSFER_721 = "Transfer(address indexed from, address indexed to, uint256 indexed tokenId)"
SWAP = (
    "Swap(address indexed sender, uint256 amount0In, uint256 amount1In, "
    "uint256 amount0Out, uint256 amount1Out, address indexed to)"
)
USDC = "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48"
USDT = "0xdAC17F958D2ee523a2206206994597C13D831ec7"  # mixed case on purpose

SOURCES = """
version: 2
sources:
  - name: synth_rpc
    schema: "_/eth_rpc@1.0.0"
    quoting: {schema: true}
    tables: [{name: logs}, {name: blocks}]
  - name: synth_firehose
    schema: "_/eth_firehose@1.0.0"
    quoting: {schema: true}
    tables: [{name: logs}, {name: blocks}]
  - name: mainnet
    schema: "_/eth_rpc@0.0.0"
    quoting: {schema: true}
    tables: [{name: logs}, {name: blocks}]
  - name: base
    schema: "_/base_rpc@0.0.0"
    quoting: {schema: true}
    tables: [{name: logs}]
"""

MODELS = {
    "sources.yml": SOURCES,
    # ERC-20 transfers only: ERC-721 Transfer shares topic0 but indexes tokenId (topic3 set)
    "synth_transfers.sql": f"""
select * from ({{{{ evm_decoded_events(source('synth_rpc', 'logs'), '{TRANSFER}') }}}}) t
""",
    "synth_transfers_by_hand.sql": f"""
select block_num, timestamp, evm_decode_hex(tx_hash) as tx_hash, tx_index, log_index,
       evm_decode_hex(address) as address,
       evm_decode_hex(ev['from']) as "from", evm_decode_hex(ev['to']) as "to", ev['value'] as "value"
from (
    select block_num, timestamp, tx_hash, tx_index, log_index, address,
           evm_decode_log(topic1, topic2, topic3, data, '{TRANSFER}') as ev
    from "_/eth_rpc@1.0.0".logs
    where topic0 = evm_topic('{TRANSFER}')
      and topic1 is not null and topic2 is not null and topic3 is null
) l
""",
    # evm_event_logs with the ERC-721 signature: only logs with 3 indexed topics
    "mainnet_nft_transfers.sql": f"""
select * from ({{{{ evm_event_logs(source('mainnet', 'logs'), '{TRANSFER_721}', alias='ev') }}}}) t
""",
    "mainnet_erc20_transfers.sql": f"""
select * from ({{{{ evm_decoded_events(source('mainnet', 'logs'), '{TRANSFER}', hex=false) }}}}) t
""",
    "synth_swaps.sql": f"""
select * from ({{{{ evm_decoded_events(source('synth_firehose', 'logs'), '{SWAP}', hex=false, prefix='swap_') }}}}) s
""",
    "mainnet_stables.sql": f"""
select * from ({{{{ evm_decoded_events(source('mainnet', 'logs'), '{TRANSFER}', address=['{USDC}', '{USDT}']) }}}}) t
""",
}

TESTS = {
    # evm_decoded_events == the hand-written UDF query, both ways, duplicates counted
    "decoded_events_match_udfs.sql": """
with macro as (
    select *, count(*) as copies from {{ ref('synth_transfers') }} group by all
),
by_hand as (
    select *, count(*) as copies from {{ ref('synth_transfers_by_hand') }} group by all
)
select 'only in macro' as side, * from (select * from macro except select * from by_hand) a
union all
select 'only by hand' as side, * from (select * from by_hand except select * from macro) b
union all
select 'no rows' as side, null, null, null, null, null, null, null, null, null, null
where (select count(*) from {{ ref('synth_transfers') }}) < 100
union all
select 'erc-721 row' as side, null, null, null, null, null, null, null, null, null, null
where exists (select 1 from {{ ref('synth_transfers') }} where "value" is null)
""",
    # ERC-20 and ERC-721 Transfers share topic0; the number of topics tells them apart
    "transfer_kinds_split.sql": f"""
with by_hand as (
    select count(*) as total, count(topic3) as nft,
           count(*) filter (where topic1 is not null and topic2 is not null and topic3 is null) as erc20
    from "_/eth_rpc@0.0.0".logs
    where topic0 = evm_topic('{TRANSFER}')
)
select 'nft count' as problem from by_hand
where nft <> (select count(*) from {{{{ ref('mainnet_nft_transfers') }}}}) or nft = 0
union all
select 'erc20 count' from by_hand
where erc20 <> (select count(*) from {{{{ ref('mainnet_erc20_transfers') }}}}) or erc20 = 0
   or erc20 + nft <> total
union all
select 'nft without tokenId' from {{{{ ref('mainnet_nft_transfers') }}}} where ev['tokenId'] is null
union all
select 'erc20 without value' from {{{{ ref('mainnet_erc20_transfers') }}}} where "value" is null
union all
select 'hex=false keeps binary' from {{{{ ref('mainnet_erc20_transfers') }}}}
where arrow_typeof(address) <> 'FixedSizeBinary(20)' or arrow_typeof(tx_hash) <> 'FixedSizeBinary(32)'
""",
    # hex=true: the log columns too ('0x…' text); tx_index kept like evm_event_logs
    "decoded_events_hex_columns.sql": """
select 'not hex' as problem from {{ ref('synth_transfers') }}
where length(tx_hash) <> 66 or length(address) <> 42 or tx_index is null
union all
select 'log columns' from (
    select * from ({{ evm_decoded_events(source('synth_rpc', 'logs'), 'Transfer(address indexed from, address indexed to, uint256 value)', columns=['block_hash', 'topic0', 'data']) }}) t limit 5
) t
where length(block_hash) <> 66 or topic0 <> '0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef'
   or length(data) <> 66
""",
    # evm_event_logs + evm_decode: the struct column, also for Approval; evm_topic equals the UDF
    "event_logs_struct.sql": f"""
with approvals as (
    {{{{ evm_event_logs(source('synth_rpc', 'logs'), '{APPROVAL}', alias='approval') }}}}
)
select 'bad approval' as problem from approvals
where evm_decode_hex(approval['owner']) not like '0x%' or approval['value'] is null
union all
select 'no approvals' from (select count(*) as n from approvals) c where n = 0
union all
select 'decode differs' from approvals a
join "_/eth_rpc@1.0.0".logs l on l.tx_hash = a.tx_hash and l.log_index = a.log_index
where a.approval['spender'] <> {{{{ evm_decode('l.topic1', 'l.topic2', 'l.topic3', 'l.data', '{APPROVAL}') }}}}['spender']
union all
select 'topic differs' where {{{{ evm_topic('{APPROVAL}') }}}} <> evm_topic('{APPROVAL}')
""",
    # camelCase parameters come out as quoted columns; raw uint256 strings when hex=false
    "swaps_camel_case.sql": """
select 'bad swap' as problem from {{ ref('synth_swaps') }}
where "swap_amount0In" is null or "swap_amount1Out" is null
   or arrow_typeof("swap_sender") <> 'FixedSizeBinary(20)'
union all
select 'no swaps' from (select count(*) as n from {{ ref('synth_swaps') }}) c where n = 0
""",
    # real mainnet logs: address filter (list, mixed case), hex addresses, token_amount
    "mainnet_stables_check.sql": f"""
with expected as (
    select count(*) as n from "_/eth_rpc@0.0.0".logs
    where topic0 = evm_topic('{TRANSFER}')
      and address in (evm_encode_hex('{USDC}'), evm_encode_hex('{USDT.lower()}'))
)
select 'count' as problem from expected
where n <> (select count(*) from {{{{ ref('mainnet_stables') }}}}) or n = 0
union all
select 'address' from {{{{ ref('mainnet_stables') }}}}
where length("from") <> 42 or "to" not like '0x%' or lower("to") <> "to"
union all
select 'amount' from {{{{ ref('mainnet_stables') }}}}
where {{{{ token_amount('"value"', 6) }}}} <> shift_units("value", -6)
   or {{{{ token_amount('"value"', '3 + 3') }}}} <> shift_units("value", -6)
   or {{{{ token_amount('"value"', 6, as_double=true) }}}} <> cast(shift_units("value", -6) as double)
union all
select 'usdc only' from (
    select count(*) as n from ({{{{ evm_event_logs(source('mainnet', 'logs'), '{TRANSFER}', address='{USDC}') }}}}) u
) c where n = 0 or n >= (select count(*) from {{{{ ref('mainnet_stables') }}}})
""",
    "token_amount_literal.sql": """
select 'shift' as problem
where {{ token_amount("'1500000000000000000'", 18) }} <> '1.5'
   or {{ token_amount("'1500000000000000000'") }} <> '1.5'
   or {{ token_amount("'123'", 0) }} <> '123'
union all
-- the documented way to aggregate: sum raw DECIMAL(76, 0) amounts, then scale (max-uint256 skipped)
select 'sum' from (
    select {{ token_amount("sum(try_cast(v as decimal(76, 0)))", 18) }} as total,
           sum({{ token_amount('v', 18, as_double=true) }}) as approx
    from (values ('1500000000000000000'), ('2000000000000000000'),
                 ('115792089237316195423570985008687907853269984665640564039457584007913129639935')) t(v)
) s
where total <> '3.5' or total is null or approx < 1e59
""",
    # base snapshot: the same macros on another chain
    "base_transfers.sql": f"""
select 'no base transfers' as problem
from (select count(*) as n from ({{{{ evm_decoded_events(source('base', 'logs'), '{TRANSFER}') }}}}) t) c
where n = 0
""",
    # block_range: inclusive ends, open ends, no ends
    "block_range.sql": """
with b as (select block_num from {{ source('synth_rpc', 'blocks') }})
select 'both' as problem from (select count(*) as n from b where {{ block_range(100, 199) }}) c where n <> 100
union all
select 'start' from (select count(*) as n from b where {{ block_range(1990) }}) c where n <> 10
union all
select 'end' from (select count(*) as n from b where {{ block_range(end_block=9) }}) c where n <> 10
union all
select 'none' from (select count(*) as n from b where {{ block_range() }}) c
where n <> (select count(*) from b)
union all
select 'expr' from (select count(*) as n from b where {{ block_range('10 * 2', '10 * 3', column='b.block_num') }}) c
where n <> 11
""",
    # get_latest_block: a run-time query, equal to max(block_num)
    "latest_block.sql": """
{%- set synth = get_latest_block(source('synth_rpc', 'blocks')) -%}
{%- set mainnet = get_latest_block(source('mainnet', 'blocks'), default=-1) -%}
{%- set empty = get_latest_block('(select block_num from "_/eth_rpc@1.0.0".blocks where false)', default=-7) -%}
select 'synth' as problem
where {{ synth if synth is not none else 'null' }} is distinct from (select max(block_num) from {{ source('synth_rpc', 'blocks') }})
union all
select 'mainnet' where {{ mainnet }} <> 15000000
union all
select 'empty default' where {{ empty }} <> -7
""",
    # evm_hex for FixedSizeBinary and Binary columns
    "evm_hex.sql": """
select 'hex' as problem from {{ source('synth_rpc', 'logs') }}
where length({{ evm_hex('tx_hash') }}) <> 66
   or {{ evm_hex('address') }} <> evm_decode_hex(address)
   or length({{ evm_hex('data', binary=true) }}) % 2 <> 0
   or {{ evm_hex('data', binary=true) }} not like '0x%'
   or decode(substr({{ evm_hex('data', binary=true) }}, 3), 'hex') <> data
""",
    # evm_event_params parses names, types and `indexed` (tuples kept whole)
    "event_params.sql": """
{%- set p = evm_event_params('Swap(address indexed sender, uint256 amount0In, (uint8 a, bytes32[] b) meta, address indexed to)') -%}
select 'params' as problem
where '{{ p | map(attribute="name") | join(",") }}' <> 'sender,amount0In,meta,to'
   or '{{ p | map(attribute="type") | join(";") }}' <> 'address;uint256;(uint8 a, bytes32[] b);address'
   or '{{ p | map(attribute="indexed") | join(",") }}' <> 'True,False,False,True'
   or '{{ p | map(attribute="canonical") | join(";") }}' <> 'address;uint256;(uint8,bytes32[]);address'
""",
}


@pytest.fixture(scope="module")
def evm_build(amp_server, tmp_path_factory) -> BuildResults:
    profile = amp_target(amp_server)
    project = EphemeralBatchProject(tmp_path_factory.mktemp("evm_batch"), profile, name="evm")
    for name, text in MODELS.items():
        project.add_model("evm", name, text)
    for name, text in TESTS.items():
        project.add_test(name[:-4], name, text)
    project.write()
    results = project.run("build", expect_pass=None)
    return BuildResults(project, results)


@pytest.mark.parametrize("name", sorted(t[:-4] for t in TESTS))
def test_evm_macro(evm_build, name):
    evm_build.assert_passed(name)


def test_compiled_sql_uses_amp_udfs(evm_build):
    compiled = next(
        (evm_build.project.root / "target" / "compiled").rglob("mainnet_stables_check.sql")
    )
    sql = compiled.read_text()
    assert f"evm_decode_log(topic1, topic2, topic3, data, '{TRANSFER}')" in sql
    assert f"topic0 = evm_topic('{TRANSFER}')" in sql
    # ERC-20 Transfer: 2 indexed params -> topic1, topic2 set, topic3 null
    assert "and topic1 is not null" in sql and "and topic2 is not null" in sql
    assert "and topic3 is null" in sql
    # addresses are lower-cased literals, compared as binary
    assert f"address in (evm_encode_hex('{USDC}'), evm_encode_hex('{USDT.lower()}'))" in sql
    # `from` / `to` are quoted output names
    assert 'as "from"' in sql and 'as "to"' in sql


def test_signature_quotes_are_escaped(evm_build):
    out = run_dbt(
        [
            "compile",
            "--inline",
            'select {{ evm_topic("Weird(string indexed it\'s)") }} as t',
            "--project-dir",
            str(evm_build.project.root),
            "--profiles-dir",
            str(evm_build.project.root),
        ]
    )
    assert "evm_topic('Weird(string indexed it''s)')" in out.results[0].node.compiled_code


@pytest.mark.parametrize(
    "inline, message",
    [
        ("select {{ evm_address('0x1234') }}", "is not a 20-byte address or 32-byte hash"),
        (
            "select {{ evm_decoded_events('x', 'Transfer(address indexed, uint256)') }}",
            "Event parameter without a name",
        ),
        (
            "select * from ({{ evm_event_logs('x', 'Transfer(address indexed from, uint7 v)') }})",
            "Malformed event signature 'Transfer(address indexed from, uint7 v)': unknown type "
            "'uint7' (integer sizes are 8, 16, …, 256)",
        ),
        (
            f"select * from ({{{{ evm_event_logs(source('mainnet', 'logs'), '{TRANSFER}', address=[]) }}}})",
            "no addresses given for address",
        ),
        ("select {{ evm_address_filter('address', []) }}", "no addresses given"),
    ],
    ids=["bad-address", "unnamed-param", "bad-type", "empty-address-list", "empty-address-filter"],
)
def test_compile_errors(evm_build, inline, message):
    root = str(evm_build.project.root)
    with pytest.raises(Exception) as raised:
        run_dbt(["compile", "--inline", inline, "--project-dir", root, "--profiles-dir", root])
    chain, exc = [], raised.value
    while exc is not None:
        chain.append(str(exc))
        exc = exc.__cause__ or exc.__context__
    assert any(message in text for text in chain), chain
