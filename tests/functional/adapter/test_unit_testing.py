"""dbt unit tests (`dbt test --select test_type:unit`) on a read-only Amp server.

What is exercised: the amp `unit` materialization (column types by *planning* the tested query,
no temp table), the amp `get_fixture_sql` (no reserved `_block_num` in fixture rows; untyped
literal rows for ephemeral-model inputs) and `amp__safe_cast` (Arrow type names via arrow_cast,
'0x…' literals for binary columns).

dbt-tests-adapter's unit_testing suites run as they are, on query models, in
test_adapter_suites.py. Here their scenarios (the same YAML rows and expected messages) run on
*ephemeral* upstream models, next to Amp cases on the served chain, all in one dbt project with one
`dbt test` invocation; each test asserts on the status (and message) of its own unit-test node.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml
from dbt.tests.adapter.unit_testing import (
    test_case_insensitivity,
    test_invalid_input,
    test_quoted_reserved_word_column_names,
)
from dbt.tests.util import run_dbt, run_dbt_and_capture

from tests.functional.adapter.ephemeral_batch import EphemeralBatchProject
from tests.functional.adapter.projects import statuses
from tests.profiles import amp_target

TRANSFER = "Transfer(address indexed from, address indexed to, uint256 value)"
TOPIC_TRANSFER = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
TOPIC_APPROVAL = "0x8c5be1e5ebec7d5bd14f71427d1e84f3dd0314c0f7b2291e5b200ac8c7c3b925"
USDC = "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48"
H32 = "0x" + "00" * 31
WORD_1_5_ETH = "0x" + "00" * 24 + "14d1120d7b160000"  # 1.5e18 as a 32-byte word

SOURCES = """
version: 2
sources:
  - name: eth
    schema: "_/eth_rpc@1.0.0"
    quoting: {schema: true}
    tables: [{name: logs}, {name: blocks}, {name: transactions}]
"""

MODELS = {
    "sources.yml": SOURCES,
    # a staging model over a raw Amp table, decoding with Amp's UDFs
    "stg_transfers.sql": f"""
select block_num, timestamp, tx_hash, log_index, {{{{ evm_hex('address') }}}} as token,
       {{{{ evm_hex("ev['from']") }}}} as from_address,
       {{{{ token_amount("ev['value']", 18) }}}} as amount
from (
    select block_num, timestamp, tx_hash, log_index, address,
           {{{{ evm_decode('topic1', 'topic2', 'topic3', 'data', '{TRANSFER}') }}}} as ev
    from {{{{ source('eth', 'logs') }}}}
    where topic0 = {{{{ evm_topic('{TRANSFER}') }}}}
) l
""",
    "blocks_per_day.sql": """
select date_trunc('day', timestamp) as day, count(*) as blocks, max(block_num) as last_block
from {{ source('eth', 'blocks') }}
group by 1
""",
    # reads 2 columns of evm-rpc transactions, whose access_list / authorization_list are nested
    "tx_values.sql": """
select {{ evm_hex('"from"') }} as sender, value, access_list is null as no_access_list
from {{ source('eth', 'transactions') }}
where value <> '0'
""",
    # an ephemeral chain: upstream -> my_model (the dbt-tests-adapter shape)
    "my_upstream_model.sql": test_case_insensitivity.my_upstream_model_sql,
    "my_model.sql": test_case_insensitivity.my_model_sql,
    "reserved_upstream.sql": (
        test_quoted_reserved_word_column_names.my_upstream_model_with_reserved_word_column_name_sql
    ),
    # arrow_typeof shows whether the csv fixture was typed like the upstream (Int64), not Utf8
    "reserved_model.sql": (
        "select *, arrow_typeof(\"GROUP\") as group_type from {{ ref('reserved_upstream') }}"
    ),
    "people.sql": "select cast(1 as bigint) as id, 'x' as name",
    "doubled.sql": "select id * 2 as doubled, upper(name) as name from {{ ref('people') }}",
    "max_id.sql": "select max(id) as max_id, count(*) as n from {{ ref('people') }}",
    "tokens_upstream.sql": f"""
select evm_encode_hex('{USDC}') as token, cast(1 as bigint unsigned) as block_num,
       '1' as amount_raw, now() as seen_at
""",
    "token_hex.sql": """
select evm_decode_hex(token) as token, block_num + 1 as next_block, amount_raw,
       date_part('year', seen_at) as seen_year
from {{ ref('tokens_upstream') }}
""",
    # an ephemeral model exposing Amp's reserved `_block_num`: fixture rows for it must leave it out
    "raw_blocks.sql": "select _block_num, block_num, timestamp from {{ source('eth', 'blocks') }}",
    "late_blocks.sql": "select block_num from {{ ref('raw_blocks') }} where block_num > 1",
    "block_hashes.sql": "select block_num, hash from {{ source('eth', 'blocks') }}",
    # an ephemeral upstream Amp cannot plan: its fixture rows cannot be typed
    "broken_upstream.sql": "select no_such_function(1) as id",
    "over_broken.sql": "select id from {{ ref('broken_upstream') }}",
}


def topic_of(address_hex: str) -> str:
    return "0x" + "00" * 12 + address_hex[2:]


UNIT_TESTS = f"""
unit_tests:
  # dict rows on a source: typed from the server (UInt64, FixedSizeBinary, Binary, Timestamp tz),
  # '0x…' literals for binary columns, the rest of the columns null; Approval log filtered out
  - name: source_dict_typed
    model: stg_transfers
    given:
      - input: source('eth', 'logs')
        rows:
          - {{block_num: 5, log_index: 0, tx_hash: "{H32}aa", address: "{USDC}", timestamp: "2024-01-01 00:00:00",
              topic0: "{TOPIC_TRANSFER}", topic1: "{topic_of("0x" + "11" * 20)}", topic2: "{topic_of("0x" + "22" * 20)}",
              data: "{WORD_1_5_ETH}"}}
          - {{block_num: 6, log_index: 1, tx_hash: "{H32}bb", address: "{USDC}", topic0: "{TOPIC_APPROVAL}", data: "0x"}}
    expect:
      rows:
        - {{block_num: 5, timestamp: "2024-01-01 00:00:00", tx_hash: "{H32}aa", log_index: 0, token: "{USDC}",
            from_address: "0x{"11" * 20}", amount: "1.5"}}

  # csv rows on a source; the expectation may list a subset of columns
  - name: source_csv
    model: blocks_per_day
    given:
      - input: source('eth', 'blocks')
        format: csv
        rows: |
          block_num,timestamp
          1,2024-01-01 00:00:01
          2,2024-01-01 12:00:00
          3,2024-01-02 00:00:00
    expect:
      format: csv
      rows: |
        blocks,last_block
        2,2
        1,3

  # evm-rpc transactions: the default (null) values of the nested columns (List(Struct(...)))
  # must be typed NULLs arrow_cast can parse; dict and csv rows
  - name: source_nested_columns_dict
    model: tx_values
    given:
      - input: source('eth', 'transactions')
        rows:
          - {{from: "0x{"11" * 20}", value: "1000000000000000000"}}
          - {{from: "0x{"22" * 20}", value: "0"}}
    expect:
      rows:
        - {{sender: "0x{"11" * 20}", value: "1000000000000000000", no_access_list: true}}

  - name: source_nested_columns_csv
    model: tx_values
    given:
      - input: source('eth', 'transactions')
        format: csv
        rows: |
          from,value
          0x{"33" * 20},5
    expect:
      format: csv
      rows: |
        sender,value,no_access_list
        0x{"33" * 20},5,true

  # no rows on a source: an empty, typed fixture
  - name: source_empty
    model: blocks_per_day
    given:
      - input: source('eth', 'blocks')
        rows: []
    expect:
      rows: []

  # dict rows on an ephemeral model (dbt alone raises "Not able to get columns"):
  # BaseUnitTestCaseInsensivity's rows and expectation
  - name: ephemeral_case_insensitive
    model: my_model
    given:
      - input: ref('my_upstream_model')
        rows:
          - {{tested_column: 1}}
          - {{TESTED_COLUMN: 2}}
          - {{tested_colUmn: 3}}
    expect:
      rows:
        - {{tested_column: 1}}
        - {{TESTED_COLUMN: 2}}
        - {{tested_colUmn: 3}}

  - name: ephemeral_dict_nulls
    model: doubled
    given:
      - input: ref('people')
        rows:
          - {{id: 1, name: a}}
          - {{id: 2, name: null}}
    expect:
      rows:
        - {{doubled: 2, name: A}}
        - {{doubled: 4, name: null}}

  - name: ephemeral_sql_format
    model: doubled
    given:
      - input: ref('people')
        format: sql
        rows: select cast(21 as bigint) as id, 'x' as name
    expect:
      format: sql
      rows: select cast(42 as bigint) as doubled, 'X' as name

  # BaseUnitTestQuotedReservedWordColumnNames: csv fixtures with a reserved word column; the
  # csv values are typed like the upstream's column (Int64), as on other adapters
  - name: reserved_word_csv
    model: reserved_model
    given:
      - input: ref('reserved_upstream')
        format: csv
        rows: |{test_quoted_reserved_word_column_names.input_fixture_csv.rstrip().replace(chr(10), chr(10) + " " * 10)}
    expect:
      format: csv
      rows: |
        GROUP,group_type
        1,Int64
        2,Int64
        3,Int64

  # csv on an ephemeral input: numbers are numbers (max of 9 and 10 is 10, not '9'); a column
  # the rows leave out is a typed NULL
  - name: ephemeral_csv_typed
    model: max_id
    given:
      - input: ref('people')
        format: csv
        rows: |
          id
          9
          10
    expect:
      format: csv
      rows: |
        max_id,n
        10,2

  # csv and dict on an ephemeral input with binary, UInt64 and timestamp columns
  - name: ephemeral_csv_binary
    model: token_hex
    given:
      - input: ref('tokens_upstream')
        format: csv
        rows: |
          token,block_num,amount_raw,seen_at
          {USDC},7,115792089237316195423570985008687907853269984665640564039457584007913129639935,2024-02-29 12:00:00
    expect:
      rows:
        - {{token: "{USDC}", next_block: 8, seen_year: 2024,
            amount_raw: "115792089237316195423570985008687907853269984665640564039457584007913129639935"}}

  - name: ephemeral_dict_binary
    model: token_hex
    given:
      - input: ref('tokens_upstream')
        rows:
          - {{token: "{USDC}", block_num: 1}}
    expect:
      rows:
        - {{token: "{USDC}", next_block: 2, amount_raw: null, seen_year: null}}

  # an ephemeral input that selects `_block_num`: the typed NULL defaults leave it out (Amp
  # rejects `null as "_block_num"`)
  - name: ephemeral_reserved_column
    model: late_blocks
    given:
      - input: ref('raw_blocks')
        rows:
          - {{block_num: 1}}
          - {{block_num: 2}}
    expect:
      rows:
        - {{block_num: 2}}

  # must error: the ephemeral input cannot be planned, so its rows cannot be typed
  - name: ephemeral_untypable
    model: over_broken
    given:
      - input: ref('broken_upstream')
        rows:
          - {{id: 1}}
    expect:
      rows:
        - {{id: 1}}

  # must fail: wrong expectation
  - name: wrong_expectation
    model: doubled
    given:
      - input: ref('people')
        rows:
          - {{id: 1, name: a}}
    expect:
      rows:
        - {{doubled: 3, name: A}}

  # must error: BaseUnitTestInvalidInput's expected-output case
  - name: test_invalid_expect_column_name
    model: my_model
    given:
      - input: ref('my_upstream_model')
        rows:
          - {{tested_column: 1}}
    expect:
      rows:
        - {{invalid_column_name: 1}}

  # must error: hex values their FixedSizeBinary / binary column cannot hold (safe_cast would
  # make them NULL, silently)
  - name: hex_too_short_on_source
    model: stg_transfers
    given:
      - input: source('eth', 'logs')
        rows:
          - {{block_num: 5, address: "{USDC}"}}
          - {{block_num: 6, address: "0x1234"}}
    expect:
      rows: []

  - name: hex_too_long_in_expected_output
    model: block_hashes
    given:
      - input: source('eth', 'blocks')
        rows:
          - {{block_num: 1, hash: "{H32}aa"}}
    expect:
      rows:
        - {{block_num: 1, hash: "{H32}aabb"}}

  - name: hex_odd_digits_on_ephemeral
    model: token_hex
    given:
      - input: ref('tokens_upstream')
        format: csv
        rows: |
          token,block_num
          0xabc,1
    expect:
      rows: []

  # must error: Amp reserves `_` names, so fixtures cannot set _block_num
  - name: reserved_block_num
    model: blocks_per_day
    given:
      - input: source('eth', 'blocks')
        rows:
          - {{_block_num: 1, block_num: 1}}
    expect:
      rows: []
"""

EXPECTED = {
    "source_dict_typed": ("pass", None),
    "source_csv": ("pass", None),
    "source_empty": ("pass", None),
    "source_nested_columns_dict": ("pass", None),
    "source_nested_columns_csv": ("pass", None),
    "ephemeral_case_insensitive": ("pass", None),
    "ephemeral_dict_nulls": ("pass", None),
    "ephemeral_sql_format": ("pass", None),
    "reserved_word_csv": ("pass", None),
    "ephemeral_csv_typed": ("pass", None),
    "ephemeral_csv_binary": ("pass", None),
    "ephemeral_dict_binary": ("pass", None),
    "ephemeral_reserved_column": ("pass", None),
    "ephemeral_untypable": ("error", "Give this input with `format: sql` rows"),
    "wrong_expectation": ("fail", "differs from"),
    # the message BaseUnitTestInvalidInput expects
    "test_invalid_expect_column_name": (
        "error",
        "Invalid column name: 'invalid_column_name' in unit test fixture for expected output.",
    ),
    "reserved_block_num": ("error", "Amp reserves names starting with '_'"),
    "hex_too_short_on_source": (
        "error",
        "Unit test fixture for 'logs', row 2, column 'address': '0x1234' is 2 bytes, but the "
        "column is FixedSizeBinary(20): expected 20 bytes (40 hex digits after 0x)",
    ),
    "hex_too_long_in_expected_output": (
        "error",
        f"Unit test fixture for expected output, row 1, column 'hash': '{H32}aabb' is 33 bytes, "
        "but the column is FixedSizeBinary(32): expected 32 bytes (64 hex digits after 0x)",
    ),
    "hex_odd_digits_on_ephemeral": (
        "error",
        "Unit test fixture for 'tokens_upstream', row 1, column 'token': '0xabc' has an odd "
        "number of hex digits (3)",
    ),
}


@pytest.fixture(scope="module")
def unit_results(amp_server, tmp_path_factory) -> dict:
    profile = amp_target(amp_server)
    project = EphemeralBatchProject(tmp_path_factory.mktemp("unit_batch"), profile, name="units")
    for name, text in MODELS.items():
        project.add_model("units", name, text)
    project.add_model("units", "unit_tests.yml", UNIT_TESTS)
    project.write()
    results = project.run("test", "--select", "test_type:unit", expect_pass=None)
    return {r.node.name: r for r in results}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_unit_test_outcome(unit_results, name):
    status, message = EXPECTED[name]
    result = unit_results.get(name)
    assert result is not None, f"unit test {name} did not run: {sorted(unit_results)}"
    assert str(result.status) == status, f"{name}: {result.status}: {result.message}"
    if message:
        assert message in (result.message or ""), result.message


def test_wrong_expectation_diff(unit_results):
    """dbt's diff of the failing test names the column and shows expected 3 -> actual 2."""
    message = re.sub(r"\x1b\[[0-9;]*m", "", unit_results["wrong_expectation"].message or "")
    lines = [line.strip().replace(" ", "") for line in message.splitlines()]
    assert "@@,doubled,name" in lines, message
    assert "→,3→2,A" in lines, message


def test_invalid_input_fixture_reused():
    """The expected-output message above is the one dbt-tests-adapter's suite asserts."""
    assert "test_invalid_expect_column_name" in test_invalid_input.test_my_model_yml


EXAMPLE_PROJECT = Path(__file__).resolve().parents[3] / "integration_tests"


def test_example_project_builds_and_documents(amp_server, tmp_path):
    """The README's example project (integration_tests/): `dbt build` passes, including its unit
    tests (e.g. a max-uint256 transfer must not abort token_daily_volume); then `dbt docs
    generate` catalogues every model (ephemeral, query and dataset) with its columns."""
    root = tmp_path / "example"
    shutil.copytree(
        EXAMPLE_PROJECT, root, ignore=shutil.ignore_patterns("target", "logs", ".user.yml")
    )
    profiles = {"amp_analytics": {"target": "local", "outputs": {"local": amp_target(amp_server)}}}
    (root / "profiles.yml").write_text(yaml.safe_dump(profiles))
    results = run_dbt(
        ["build", "--project-dir", str(root), "--profiles-dir", str(root)], expect_pass=None
    )
    status = statuses(results)
    assert status.get("token_daily_volume_survives_max_uint256") == "pass", status
    failed = {n: s for n, s in status.items() if s not in ("pass", "success")}
    assert not failed, failed
    dirs = ["--project-dir", str(root), "--profiles-dir", str(root)]
    _, output = run_dbt_and_capture(["docs", "generate", *dirs])
    assert "Skipping" not in output, output
    manifest = json.loads((root / "target" / "manifest.json").read_text("utf-8"))
    models = {uid: n for uid, n in manifest["nodes"].items() if n["resource_type"] == "model"}
    catalog = json.loads((root / "target" / "catalog.json").read_text("utf-8"))
    assert sorted(catalog["nodes"]) == sorted(models) and len(models) >= 8
    kinds = {entry["metadata"]["type"] for entry in catalog["nodes"].values()}
    assert kinds == {"EPHEMERAL", "QUERY", "DATASET"}, kinds
    for uid, entry in catalog["nodes"].items():
        types = {name: col["type"] for name, col in entry["columns"].items()}
        assert types and all(types.values()), (uid, types)
        documented = {name.lower() for name in models[uid]["columns"]}
        assert documented <= {name.lower() for name in types}, (uid, documented, types)
    assert sorted(catalog["sources"]) == sorted(manifest["sources"])
