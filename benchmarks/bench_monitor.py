"""amp-dbt-monitor benchmarks, one command, each figure against its bound (and a baseline measured
in the same run):

1. Ingest of a 5,000-node manifest written by `dbt compile` itself (1,000 dataset models, 4,000
   ephemeral models in chains): bound 3 s; baseline: json.loads of the same files.
2. `status` over a state.db with 1,000 monitored models and 100,000 job events (2,000 jobs),
   through the CLI (click's runner, in process): bound 1 s; baseline: the raw SQL read of the rows.
   Also the same through the console script in a fresh process (Python start-up and imports
   included), printed for information.
3. Single-model lookups (status of one model, its job history, one job's events): bound 10 ms.
4. A `watch` refresh: over the 1,000-model state.db without network (ingest check, read, render
   the coloured dashboard), and against a live amp_local with Admin API for a dbt-built project of
   dataset and query models (ingest check, Admin API and Flight polls, write, render): bound 1 s.

    python benchmarks/bench_monitor.py [--runs 5] [--models 1000] [--chain 4000]
"""

from __future__ import annotations

import argparse
import io
import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml
from click.testing import CliRunner
from rich.console import Console

from amp_dbt_monitor import store, views
from amp_dbt_monitor.cli import cli
from amp_dbt_monitor.ingest import ingest
from amp_dbt_monitor.monitor import Monitor
from amp_dbt_monitor.project import ProfileOptions, find_project
from amp_local.launcher import start_amp_local
from dbt.adapters.amp.state import connect

CHAIN = "_/eth_firehose@1.0.0"
RPC = "_/eth_rpc@1.0.0"
EVENTS = 100_000
JOBS = 2_000
BOUNDS = {"ingest": 3.0, "status": 1.0, "lookup": 0.010, "watch": 1.0}


def timed(fn: Callable[[], object], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return times


def report(name: str, seconds: float, bound: float | None, baseline: float | None = None) -> bool:
    ok = bound is None or seconds < bound
    ratio = f"  {seconds / baseline:6.1f}x baseline ({baseline * 1000:.3f} ms)" if baseline else ""
    limit = f"bound {bound * 1000:>7.1f} ms  {'OK' if ok else 'OVER'}" if bound else "(info)"
    print(f"{name:<58} {seconds * 1000:9.3f} ms  {limit}{ratio}")
    return ok


# --- projects -----------------------------------------------------------------------------------


def write_project(root: Path, target: dict, models: dict[str, str]) -> Path:
    (root / "models").mkdir(parents=True, exist_ok=True)
    project = {
        "name": "bench",
        "profile": "bench",
        "models": {"bench": {"+materialized": "ephemeral"}},
    }
    (root / "dbt_project.yml").write_text(yaml.safe_dump(project))
    profile = {
        "bench": {"target": "dev", "outputs": {"dev": {"type": "amp", "threads": 4, **target}}}
    }
    (root / "profiles.yml").write_text(yaml.safe_dump(profile))
    for name, sql in models.items():
        (root / "models" / f"{name}.sql").write_text(sql)
    return root


def dbt(root: Path, *args: str) -> float:
    started = time.perf_counter()
    command = [str(Path(sys.executable).parent / "dbt"), *args, "--project-dir", str(root)]
    subprocess.run([*command, "--profiles-dir", str(root), "--quiet"], check=True, cwd=root)
    return time.perf_counter() - started


def large_models(datasets: int, chain: int) -> dict[str, str]:
    """`datasets` dataset models (monitored) and `chain` ephemeral models in chains of four."""
    models = {}
    for i in range(datasets):
        models[f"ds_{i}"] = (
            f"{{{{ config(materialized='dataset', alert_threshold_minutes={5 + i % 30}) }}}}\n"
            f'select block_num, log_index, address from "{CHAIN}".logs where log_index % 997 = {i}'
        )
    for i in range(chain):
        if i % 4 == 0:
            models[f"e_{i}"] = (
                f'select block_num, tx_hash from "{RPC}".transactions where tx_index = {i % 50}'
            )
        else:
            models[f"e_{i}"] = (
                f"select block_num, tx_hash from {{{{ ref('e_{i - 1}') }}}} where block_num > {i}"
            )
    return models


# --- 1. ingest ----------------------------------------------------------------------------------


def bench_ingest(root: Path, runs: int) -> tuple[bool, Path]:
    project = find_project(root)
    conn = connect(project.state_path)
    files = (project.manifest_path, project.run_results_path)
    baseline = statistics.median(timed(lambda: [json.loads(f.read_bytes()) for f in files], runs))
    seconds = statistics.median(timed(lambda: ingest(conn, *files, force=True), runs))
    nodes = len(json.loads(project.manifest_path.read_bytes())["nodes"])
    size = project.manifest_path.stat().st_size / 1e6
    ok = report(
        f"1. ingest manifest ({nodes:,} nodes, {size:.1f} MB)", seconds, BOUNDS["ingest"], baseline
    )
    conn.close()
    return ok, project.state_path


# --- 2./3. a big state.db -----------------------------------------------------------------------


def fill_state(state_path: Path, seed: int = 7) -> list[str]:
    """One poll's worth of states for every monitored model, JOBS jobs and EVENTS events."""
    rng = random.Random(seed)
    conn = connect(state_path)
    models = store.tracked_models(conn)
    head = 20_000_000
    record = store.PollRecord("2026-03-01T12:00:00+00:00", "ok", "ok")
    for i, m in enumerate(models):
        lag = rng.choice([0, 1, 2, 5, 40, 900])
        status = "stale" if lag * 12 > m.alert_threshold_minutes * 60 else "fresh"
        record.states.append(
            store.StateRecord(
                m.model_id,
                m.name,
                "error" if i % 97 == 0 else status,
                f"{lag} blocks behind",
                m.deployed_reference,
                "mainnet",
                head - lag,
                1_700_000_000 - lag * 12,
                head - lag,
                rng.randint(0, 10**6),
                15_000_000,
                head,
                1_700_000_000,
                lag,
                lag * 12,
                i + 1,
                "RUNNING",
                99.9,
            )  # fmt: skip
        )
    for job_id in range(1, JOBS + 1):
        m = models[(job_id - 1) % len(models)]
        record.jobs.append(
            store.JobRecord(
                job_id,
                m.model_id,
                m.name,
                m.deployed_reference,
                "RUNNING",
                final_block=head,
                rows_processed=job_id,
            )  # fmt: skip
        )
    per_job = EVENTS // JOBS
    for job_id in range(1, JOBS + 1):
        for event_id in range(1, per_job + 1):
            record.events.append(
                store.EventRecord(
                    job_id, event_id, "RUNNING", "2026-03-01T12:00:00+00:00", "worker"
                )
            )
    store.write_poll(conn, record)
    names = [m.name for m in models]
    conn.close()
    return names


def bench_status(root: Path, state_path: Path, runs: int) -> bool:
    conn = connect(state_path)
    counts = [
        conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
        for t in ("model_state", "job_events")
    ]
    raw = "SELECT * FROM monitor_models m LEFT JOIN model_state s USING (model_id) WHERE m.tracked = 1"
    baseline = statistics.median(timed(lambda: conn.execute(raw).fetchall(), runs))
    conn.close()
    args = ["status", "--no-poll", "--project-dir", str(root), "--profiles-dir", str(root)]
    runner = CliRunner()

    def status() -> None:
        result = runner.invoke(cli, args)
        assert result.exit_code == 0 and result.stdout.count("\n") > counts[0], result.output

    label = f"2. status ({counts[0]:,} models, {counts[1]:,} job events)"
    ok = report(label, statistics.median(timed(status, runs)), BOUNDS["status"], baseline)
    as_json = statistics.median(timed(lambda: runner.invoke(cli, [*args, "--json"]), runs))
    ok &= report("   status --json", as_json, BOUNDS["status"], baseline)
    with Monitor(find_project(root)) as monitor:

        def on_terminal() -> None:
            console = Console(file=io.StringIO(), force_terminal=True, width=160)
            views.status_view(monitor.statuses(), True).show(console, "polled")

        seconds = statistics.median(timed(on_terminal, runs))
    ok &= report("   status as a coloured table (terminal)", seconds, BOUNDS["status"], baseline)
    script = str(Path(sys.executable).parent / "amp-dbt-monitor")
    fresh = statistics.median(
        timed(lambda: subprocess.run([script, *args], check=True, capture_output=True), runs)
    )
    report("   status through the console script (new process)", fresh, None)
    return ok


def bench_lookups(state_path: Path, names: list[str]) -> bool:
    conn = connect(state_path)
    rng = random.Random(3)
    sample = [rng.choice(names) for _ in range(1_000)]
    jobs = [rng.randint(1, JOBS) for _ in range(1_000)]
    ok = True
    for label, fn in (
        ("3. lookup: one model's status", lambda i: store.status_of(conn, sample[i])),
        ("   lookup: one model's job history", lambda i: store.job_history(conn, sample[i])),
        ("   lookup: one job's events", lambda i: store.job_events(conn, jobs[i])),
    ):
        times = []
        for i in range(len(sample)):
            started = time.perf_counter()
            assert fn(i)
            times.append(time.perf_counter() - started)
        p99 = sorted(times)[int(len(times) * 0.99)]
        ok &= report(f"{label} (p99 of 1,000)", p99, BOUNDS["lookup"], statistics.median(times))
    conn.close()
    return ok


# --- 4. watch -----------------------------------------------------------------------------------


def frame_seconds(monitor: Monitor, poll: bool, runs: int) -> float:
    console = Console(
        file=io.StringIO(), force_terminal=True, width=160, height=50, color_system="truecolor"
    )

    def frame() -> None:
        monitor.ingest()
        warnings = monitor.poll().warnings if poll else []
        rows = monitor.statuses()
        caption = views.poll_caption(monitor.last_poll(), monitor.last_poll(True))
        fits = console.height - 10 - len(warnings)  # as `watch` does on a terminal
        console.print(
            views.dashboard(rows, True, "amp-dbt-monitor · bench", caption, warnings, fits)
        )

    frame()  # warm: opens the clients
    return statistics.median(timed(frame, runs))


def bench_watch(big_root: Path, live_root: Path, runs: int) -> bool:
    with Monitor(find_project(big_root)) as monitor:
        n = len(monitor.statuses())
        ok = report(
            f"4. watch refresh, {n:,} models, no network",
            frame_seconds(monitor, False, runs),
            BOUNDS["watch"],
        )
    with Monitor(find_project(live_root), ProfileOptions(str(live_root))) as monitor:
        seconds = frame_seconds(monitor, True, runs)
        n = len(monitor.statuses())
        ok &= report(
            f"   watch refresh with Admin + Flight polls ({n} models)", seconds, BOUNDS["watch"]
        )
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--models", type=int, default=1_000, help="monitored dataset models")
    parser.add_argument("--chain", type=int, default=4_000, help="other (ephemeral) models")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench_monitor_"))
    server = start_amp_local(work / "amp", blocks=2_000)
    try:
        if not server.admin_url:
            raise SystemExit("this amp_local has no Admin API: the watch benchmark needs one")
        target = {"query_url": server.flight_url, "admin_url": server.admin_url, "schema": "bench"}
        big = write_project(work / "big", target, large_models(args.models, args.chain))
        print(
            f"dbt compile of {args.models + args.chain:,} models: {dbt(big, 'compile', '--threads', '4'):.1f} s"
        )
        live = write_project(
            work / "live",
            target,
            {
                **{
                    f"ds_{i}": "{{ config(materialized='dataset', deploy=true, wait=true) }}\n"
                    f'select block_num, log_index from "{RPC}".logs where log_index % 4 = {i}'
                    for i in range(4)
                },
                **{
                    f"q_{i}": "{{ config(materialized='query', track_progress=true) }}\n"
                    f'select block_num from "{RPC}".transactions where tx_index = {i}'
                    for i in range(2)
                },
            },
        )
        print(f"dbt build of the live project: {dbt(live, 'build'):.1f} s\n")
        ok, state_path = bench_ingest(big, args.runs)
        names = fill_state(state_path)
        ok &= bench_status(big, state_path, args.runs)
        ok &= bench_lookups(state_path, names)
        ok &= bench_watch(big, live, args.runs)
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    print("\nall within bounds" if ok else "\nSOME FIGURES ARE OVER THEIR BOUNDS")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
