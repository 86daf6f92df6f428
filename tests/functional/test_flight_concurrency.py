"""Many clients at once: amp_local plans and streams concurrently, UDF variants included."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import adbc_driver_flightsql.dbapi as flightsql

EVENTS = [
    "Transfer(address indexed from, address indexed to, uint256 value)",
    "Approval(address indexed owner, address indexed spender, uint256 value)",
    "Transfer(address indexed from, address indexed to, uint256 indexed tokenId)",
]


def worker(url: str, index: int) -> list[int]:
    counts = []
    with flightsql.connect(url, autocommit=True) as conn:
        for i in range(6):
            event = EVENTS[(index + i) % len(EVENTS)]
            sql = f"""
                SELECT count(*) AS n FROM (
                  SELECT evm_decode_log(topic1, topic2, topic3, data, '{event}') AS ev
                  FROM "_/eth_rpc@1.0.0".logs WHERE topic0 = evm_topic('{event}')
                ) WHERE ev IS NOT NULL
            """
            with conn.cursor() as cur:
                cur.execute(sql)
                counts.append(cur.fetchall()[0][0])
    return counts


def test_eight_clients_in_parallel(amp_server):
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda i: worker(amp_server.flight_url, i), range(8)))
    serial = worker(amp_server.flight_url, 0)
    by_event = {EVENTS[i % 3]: serial[i] for i in range(3)}
    for index, counts in enumerate(results):
        assert counts == [by_event[EVENTS[(index + i) % 3]] for i in range(6)]
    assert all(n > 0 for n in serial)
