"""Export benchmark, ratios measured in the same run: a `query` model over the synthetic chain's logs
with `export: true` (Flight batches streamed into Parquet row groups) vs

1. the same model without export (counting only): the cost of writing Parquet;
2. a script reading the same SQL with pyarrow.flight `read_all()` and `pq.write_table` (the whole
   result built in memory, then written): time, and peak memory of the process (max RSS), which
   shows the export streams instead of holding the result.

    python benchmarks/bench_export.py [--runs 5] [--blocks 20000]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from bench_adapter import _execute_seconds, write_project

from amp_local.launcher import start_amp_local

SQL = (
    "select block_num, timestamp, tx_hash, log_index, address, topic0, topic1, topic2, data "
    'from "_/eth_firehose@1.0.0".logs'
)
# argv: flight url, sql, output file or "-" (imports only: the process's baseline memory)
BASELINE = textwrap.dedent(
    """
    import sys, time, pyarrow.flight as fl, pyarrow.parquet as pq
    from dbt.adapters.amp.flight import statement_query_command
    if sys.argv[3] != "-":
        started = time.perf_counter()
        client = fl.connect(sys.argv[1])
        command = statement_query_command(sys.argv[2])
        info = client.get_flight_info(fl.FlightDescriptor.for_command(command))
        table = client.do_get(info.endpoints[0].ticket).read_all()
        pq.write_table(table, sys.argv[3])
        print(table.num_rows, time.perf_counter() - started)
    """
)


def run_child(args: list[str]) -> tuple[float, int, str]:
    """Like `timed`, with the child's own peak memory from wait4 (not the max over all children)."""
    started = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out = proc.stdout.read()
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status):
        raise RuntimeError(f"{' '.join(args[:4])} failed:\n{out}\n{err}")
    return elapsed, usage.ru_maxrss // 1024, out


def dbt_run(root: Path) -> tuple[dict, int]:
    args = ["dbt", "run", "--project-dir", str(root), "--profiles-dir", str(root), "--quiet"]
    _, rss, _ = run_child(args)
    results = json.loads((root / "target" / "run_results.json").read_text())
    by_name = {r["unique_id"].split(".")[-1]: r for r in results["results"]}
    return by_name, rss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--blocks", type=int, default=20_000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench_export_"))
    server = start_amp_local(work / "amp", blocks=args.blocks, snapshots=False)
    try:
        target = {"query_url": server.flight_url, "schema": "bench", "threads": 1}
        models = {
            "counted.sql": "{{ config(materialized='query') }}\n" + SQL,
            "exported.sql": "{{ config(materialized='query', export=true) }}\n" + SQL,
        }
        plain_root, export_root = work / "plain", work / "export"
        write_project(plain_root, "plain", "amp", target, {"counted.sql": models["counted.sql"]})
        write_project(export_root, "exp", "amp", target, {"exported.sql": models["exported.sql"]})
        counted, exported, baseline = [], [], []
        rss_export, rss_plain, rss_baseline, rss_imports = [], [], [], []
        rows = 0
        for _ in range(args.runs + 1):  # interleaved; the first round warms the server
            by_name, rss = dbt_run(plain_root)
            counted.append(_execute_seconds(by_name["counted"]))
            rss_plain.append(rss)
            by_name, rss = dbt_run(export_root)
            exported.append(_execute_seconds(by_name["exported"]))
            rss_export.append(rss)
            rows = by_name["exported"]["adapter_response"]["rows"]
            out_file = work / "baseline.parquet"
            _, rss, out = run_child(
                [sys.executable, "-c", BASELINE, server.flight_url, SQL, str(out_file)]
            )
            baseline_rows, seconds = out.split()
            assert int(baseline_rows) == rows, (out, rows)
            baseline.append(float(seconds))
            rss_baseline.append(rss)
            rss_imports.append(run_child([sys.executable, "-c", BASELINE, "", "", "-"])[1])
        med = lambda xs: statistics.median(xs[1:])  # noqa: E731
        export_file = next((export_root / "exports" / "dev").glob("exported.*.parquet"))
        report = {
            "rows": rows,
            "export_file_mib": round(export_file.stat().st_size / 2**20, 1),
            "dbt_execute_counting_only_s": med(counted),
            "dbt_execute_with_export_s": med(exported),
            "script_read_all_write_table_s": med(baseline),
            "ratio_export_vs_counting_only": med(exported) / med(counted),
            "ratio_export_execute_vs_read_all_script": med(exported) / med(baseline),
            "max_rss_mib_dbt_counting_only": med(rss_plain),
            "max_rss_mib_dbt_with_export": med(rss_export),
            "max_rss_mib_read_all_script": med(rss_baseline),
            "max_rss_mib_script_imports_only": med(rss_imports),
        }
        print(json.dumps({"query_model_export": report}, indent=2))
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
