"""The "did you mean" helpers on their own."""

from dbt.adapters.amp.suggestions import event_fields, struct_field_hint

SWAP = (
    "Swap(address indexed sender, uint256 amount0In, uint256 amount1In, uint256 amount0Out, "
    "uint256 amount1Out, address indexed to)"
)


def test_event_fields_of_every_signature_literal():
    sql = (
        f"select evm_decode_log(topic1, topic2, topic3, data, '{SWAP}') as s, "
        "evm_decode(topic1, topic2, topic3, data, 'Order((uint256 a, address b) order, bytes32 id)') as o, "
        "'not a signature' as t"
    )
    assert event_fields(sql) == {
        SWAP: ["sender", "amount0In", "amount1In", "amount0Out", "amount1Out", "to"],
        "Order((uint256 a, address b) order, bytes32 id)": ["order", "id"],
    }


def test_struct_field_hint():
    sql = f"select ev['amount0in'] from (select evm_decode_log(a, b, c, d, '{SWAP}') as ev) x"
    hint = struct_field_hint("... Caused by: Field amount0in not found in struct", sql)
    assert "Did you mean 'amount0In'?" in hint and "case-sensitive" in hint
    assert struct_field_hint("some other error", sql) == ""
    generic = struct_field_hint("Field c not found in struct", "select s['c'] from t")
    assert "arrow_typeof" in generic


def test_dataset_table_hints():
    from dbt.adapters.amp.suggestions import dataset_table_hint

    not_synced = (
        "failed to build the physical catalog | Caused by: Table team/x@"
        + "ab" * 32
        + ".x has not been synced"
    )
    assert "no job has materialized its table 'x'" in dataset_table_hint(not_synced)
    unknown = "planning error: Error during planning: table 'amp.team/never@dev.never' not found"
    hint = dataset_table_hint(unknown)
    assert "no dataset table team/never@dev.never" in hint and "dbt run -s <model>" in hint
    assert dataset_table_hint("table 'logs' not found") == ""
