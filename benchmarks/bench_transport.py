"""Flight transport cost: a 1M-row result through ADBC from `amp_local` vs DataFusion in-process.

Run: `python benchmarks/bench_transport.py [--rows N] [--repeat R]`. Both sides are measured in the
same run on the same machine; the ratio is what matters (goal: transport adds < 2x).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import adbc_driver_flightsql.dbapi as flightsql
from datafusion import SessionContext

from amp_local.launcher import start_amp_local

SQL = (
    "SELECT i, i * 2 AS doubled, CAST(i AS VARCHAR) AS label, i % 7 = 0 AS flag "
    "FROM unnest(range({rows})) AS t(i)"
)


def timed(fn, repeat: int) -> tuple[float, object]:
    samples, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    sql = SQL.format(rows=args.rows)

    ctx = SessionContext()
    baseline, local = timed(lambda: ctx.sql(sql).to_arrow_table(), args.repeat)

    with tempfile.TemporaryDirectory() as tmp:
        server = start_amp_local(Path(tmp), blocks=0, snapshots=False)
        try:
            with flightsql.connect(server.flight_url, autocommit=True) as conn:

                def fetch():
                    with conn.cursor() as cur:
                        cur.execute(sql)
                        return cur.fetch_arrow_table()

                fetch()  # warm-up: connection, first plan
                remote_time, remote = timed(fetch, args.repeat)
        finally:
            server.stop()

    assert remote.num_rows == local.num_rows == args.rows
    mb = remote.nbytes / 1e6
    print(f"rows: {args.rows:,}  result size: {mb:.1f} MB  (median of {args.repeat})")
    print(
        f"DataFusion in-process : {baseline * 1000:8.1f} ms  {args.rows / baseline / 1e6:6.2f} M rows/s"
    )
    print(
        f"ADBC via amp_local    : {remote_time * 1000:8.1f} ms  {args.rows / remote_time / 1e6:6.2f} M rows/s"
        f"  {mb / remote_time:7.1f} MB/s"
    )
    print(f"ratio (transport / in-process): {remote_time / baseline:.2f}x  (goal < 2x)")


if __name__ == "__main__":
    main()
