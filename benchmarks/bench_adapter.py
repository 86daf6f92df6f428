"""Adapter benchmarks, one command, ratios measured in the same run:

1. A `query` model returning 1M rows: the model's execute time in dbt (run_results timing) vs the
   same SQL fetched with raw ADBC `fetch_arrow_table`, both warmed up (goal: within 1.3x). The
   first query model of a dbt process also pays one-time costs (Jinja compiling the
   materialization, opening the Flight channel); that ratio is printed too.
2. `dbt compile` of a generated 500-model project (ephemeral chains and fan-ins) on dbt-amp vs
   dbt-duckdb compiling the same project (goal: within 1.15x). Needs the `bench` extra.

    python benchmarks/bench_adapter.py [--runs 5] [--models 500]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import yaml

from amp_local.launcher import start_amp_local

ROWS_SQL = (
    "select value as n, value * 2.5 as x, value % 7 as bucket "
    "from range({rows})"  # DataFusion's range() table function: no table, 1M rows generated
)


def write_project(root: Path, name: str, adapter: str, profile_target: dict, models: dict) -> None:
    (root / "models").mkdir(parents=True, exist_ok=True)
    project = {
        "name": name,
        "version": "1.0",
        "profile": name,
        "models": {name: {"+materialized": "ephemeral"}},
    }
    (root / "dbt_project.yml").write_text(yaml.safe_dump(project))
    profile = {name: {"target": "dev", "outputs": {"dev": {"type": adapter, **profile_target}}}}
    (root / "profiles.yml").write_text(yaml.safe_dump(profile))
    for path, text in models.items():
        (root / "models" / path).write_text(text)


def dbt(root: Path, *args: str) -> float:
    started = time.perf_counter()
    subprocess.run(
        ["dbt", *args, "--project-dir", str(root), "--profiles-dir", str(root), "--quiet"],
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


# --- 1. one million rows ----------------------------------------------------------------------


def bench_rows(flight_url: str, rows: int, runs: int, work: Path) -> dict:
    import adbc_driver_flightsql.dbapi as flightsql

    sql = ROWS_SQL.format(rows=rows)
    conn = flightsql.connect(flight_url, autocommit=True)
    raw = []
    for _ in range(runs + 1):
        started = time.perf_counter()
        cursor = conn.cursor()
        cursor.execute(sql)
        table = cursor.fetch_arrow_table()
        cursor.close()
        raw.append(time.perf_counter() - started)
        assert table.num_rows == rows
    conn.close()
    raw = raw[1:]  # first run warms the server

    root = work / "rows"
    model = "{{ config(materialized='query') }}\n" + sql
    # the same model twice in one `dbt run` (threads: 1): the first query model of a dbt process
    # also pays one-time costs (Jinja compiles the materialization, the Flight channel opens)
    write_project(
        root,
        "rows",
        "amp",
        {"query_url": flight_url, "schema": "bench", "threads": 1},
        {"million_a.sql": model, "million_b.sql": model},
    )
    executes, steady, walls, adapter = [], [], [], []
    for _ in range(runs + 1):
        walls.append(dbt(root, "run"))
        results = json.loads((root / "target" / "run_results.json").read_text())
        first, second = sorted(results["results"], key=lambda r: r["timing"][-1]["started_at"])
        for result in (first, second):
            assert result["adapter_response"]["rows"] == rows, result
        adapter.append(second["adapter_response"]["duration_seconds"])
        executes.append(_execute_seconds(first))
        steady.append(_execute_seconds(second))
    executes, steady, walls, adapter = executes[1:], steady[1:], walls[1:], adapter[1:]
    return {
        "rows": rows,
        "raw_adbc_fetch_arrow_table_s": statistics.median(raw),
        "adapter_flight_path_s": statistics.median(adapter),  # adapter_response.duration_seconds
        "dbt_execute_first_model_s": statistics.median(executes),  # dbt's whole execute phase
        "dbt_execute_next_model_s": statistics.median(steady),
        "dbt_run_wall_s": statistics.median(walls),
        "ratio_adapter_path_vs_raw": statistics.median(adapter) / statistics.median(raw),
        "ratio_execute_first_model_vs_raw": statistics.median(executes) / statistics.median(raw),
        "ratio_execute_next_model_vs_raw": statistics.median(steady)
        / statistics.median(raw),  # goal: <= 1.3
    }


def _execute_seconds(result: dict) -> float:
    timing = {t["name"]: t for t in result["timing"]}["execute"]
    return _seconds(timing["completed_at"]) - _seconds(timing["started_at"])


def _seconds(stamp: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


# --- 2. compile 500 models --------------------------------------------------------------------


def generated_models(count: int) -> dict[str, str]:
    """Roots with inline data, chains of ephemeral models, fan-ins of 3, terminal models."""
    models: dict[str, str] = {}
    roots = max(5, count // 20)
    for i in range(roots):
        models[f"root_{i:03d}.sql"] = (
            f"select {i} as id, 'r{i}' as label union all select {i + 1000} as id, 'x' as label"
        )
    names = [f"root_{i:03d}" for i in range(roots)]
    i = 0
    while len(models) < count - 10:
        if i % 4 == 3 and len(names) >= 3:  # fan-in
            a, b, c = names[-1], names[-2], names[(i * 7) % len(names)]
            sql = (
                f"select x.id, x.label, y.id as id2 from {{{{ ref('{a}') }}}} x\n"
                f"join {{{{ ref('{b}') }}}} y on y.id = x.id\n"
                f"where x.id in (select id from {{{{ ref('{c}') }}}})"
            )
        else:  # chain step
            parent = names[-1] if i % 2 else names[(i * 13) % len(names)]
            sql = f"select id + 1 as id, label from {{{{ ref('{parent}') }}}} where id > {i % 5}"
        name = f"m_{i:04d}"
        models[f"{name}.sql"] = sql
        names.append(name)
        i += 1
    for j in range(10):  # terminal nodes (query on Amp, view on DuckDB: compile only)
        models[f"final_{j}.sql"] = (
            "{{ config(materialized=('query' if target.type == 'amp' else 'view')) }}\n"
            f"select count(*) as n from {{{{ ref('{names[-1 - j]}') }}}}"
        )
    return models


def bench_compile(flight_url: str, count: int, runs: int, work: Path) -> dict:
    models = generated_models(count)
    amp_root, duck_root = work / "compile_amp", work / "compile_duckdb"
    write_project(amp_root, "gen", "amp", {"query_url": flight_url, "schema": "bench"}, models)
    write_project(duck_root, "gen", "duckdb", {"path": str(work / "bench.duckdb")}, models)
    amp_times, duck_times = [], []
    for _ in range(runs):  # interleaved, full parse each time
        amp_times.append(dbt(amp_root, "compile", "--no-partial-parse"))
        duck_times.append(dbt(duck_root, "compile", "--no-partial-parse"))
    return {
        "models": len(models),
        "dbt_amp_compile_s": statistics.median(amp_times),
        "dbt_duckdb_compile_s": statistics.median(duck_times),
        "ratio_amp_vs_duckdb": statistics.median(amp_times) / statistics.median(duck_times),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--models", type=int, default=500)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench_adapter_"))
    server = start_amp_local(work / "amp", blocks=0, snapshots=False)
    try:
        rows = bench_rows(server.flight_url, args.rows, args.runs, work)
        print(json.dumps({"query_model_1m_rows": rows}, indent=2))
        if shutil.which("dbt") and _has_duckdb():
            compile_ = bench_compile(server.flight_url, args.models, args.runs, work)
            print(json.dumps({"compile_500_models": compile_}, indent=2))
        else:
            print("skipping compile benchmark: pip install -e '.[bench]' for dbt-duckdb")
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


def _has_duckdb() -> bool:
    try:
        import dbt.adapters.duckdb  # noqa: F401
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    main()
