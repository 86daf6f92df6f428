"""Benchmark dataset models: `python benchmarks/bench_datasets.py [--models 20] [--blocks 20000]`.

Baseline (measured in the same run, on the same amp_local): a script that takes the manifests dbt
registered and, with as many threads as dbt (4), registers each under a fresh namespace, deploys it
(`end_block: latest`) and polls its progress on dbt's schedule until it completes.
Measured: `dbt build` of the same N dataset models with `deploy: true, wait: true` in a fresh
namespace: its execution phase (run_results' elapsed_time; goal ≤ 1.1× the script) and the whole
process (dbt's start-up and parsing included). A warm-up round runs first so both read warm files;
then 3 rounds, alternating, and the medians are compared. For scale it also prints dbt's own
execution phase for as many trivial `select 1` query models (dbt's per-node cost, which small jobs
cannot hide).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from amp_local.launcher import start_amp_local  # noqa: E402
from dbt.adapters.amp.admin import AdminClient  # noqa: E402
from dbt.adapters.amp.dataset_build import poll_delays  # noqa: E402

THREADS = 4
ROUNDS = 3
MODEL = """
select block_num, tx_hash, log_index, address, topic0
from "_/eth_rpc@1.0.0".logs
where log_index % {n} = {i}
"""


def write_query_project(root: Path, server, models: int) -> None:
    """The same project shape with trivial `query` models: what dbt itself costs per node."""
    write_project(root, server, "bench_query", models)
    project = yaml.safe_load((root / "dbt_project.yml").read_text())
    project["models"]["bench"] = {"+materialized": "query"}
    (root / "dbt_project.yml").write_text(yaml.safe_dump(project))
    for model in (root / "models").glob("*.sql"):
        model.write_text("select 1 as x")


def write_project(root: Path, server, namespace: str, models: int) -> None:
    (root / "models").mkdir(parents=True, exist_ok=True)
    project = {
        "name": "bench",
        "version": "1.0",
        "profile": "bench",
        "models": {
            "bench": {
                "+materialized": "dataset",
                "+deploy": True,
                "+end_block": "latest",
                "+wait": True,
            }
        },
    }
    (root / "dbt_project.yml").write_text(yaml.safe_dump(project))
    target = {
        "type": "amp",
        "threads": THREADS,
        "query_url": server.flight_url,
        "admin_url": server.admin_url,
        "schema": namespace,
    }
    profiles = {"bench": {"target": "b", "outputs": {"b": target}}}
    (root / "profiles.yml").write_text(yaml.safe_dump(profiles))
    for i in range(models):
        (root / "models" / f"m{i:02d}.sql").write_text(MODEL.format(n=models, i=i))


def dbt_build(root: Path) -> tuple[float, float]:
    """(whole process seconds, execution phase seconds) of `dbt build`."""
    dbt = Path(sys.executable).parent / "dbt"
    started = time.perf_counter()
    result = subprocess.run(
        [str(dbt), "build", "--project-dir", str(root), "--profiles-dir", str(root)],
        capture_output=True,
        text=True,
    )
    whole = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"dbt build failed:\n{result.stdout[-4000:]}")
    elapsed = json.loads((root / "target" / "run_results.json").read_text())["elapsed_time"]
    return whole, float(elapsed)


def direct(admin: AdminClient, manifests: dict[str, dict], namespace: str) -> float:
    """Register, deploy and poll every manifest as a hand-written script would; seconds."""

    def one(name: str) -> None:
        registered = admin.register(namespace, name, manifests[name])
        job = admin.deploy(namespace, name, registered.manifest_hash, "latest")
        delays = poll_delays()  # the same schedule as dbt's wait
        while admin.progress(job).status != "COMPLETED":
            time.sleep(next(delays))

    started = time.perf_counter()
    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(one, manifests))
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=20)
    parser.add_argument("--blocks", type=int, default=20_000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench_datasets_") as tmp:
        work = Path(tmp)
        server = start_amp_local(work / "amp", blocks=args.blocks, snapshots=False)
        try:
            admin = AdminClient(server.admin_url)
            write_project(work / "warm", server, "bench_warm", args.models)
            dbt_build(work / "warm")  # warm-up: chain files in the page cache, dbt's imports
            manifests = {
                f"m{i:02d}": admin.manifest("bench_warm", f"m{i:02d}", "dev")
                for i in range(args.models)
            }
            direct(admin, manifests, "bench_direct_warm")

            wholes, executions, baselines = [], [], []
            for n in range(ROUNDS):
                write_project(work / f"dbt{n}", server, f"bench_dbt{n}", args.models)
                whole, execution = dbt_build(work / f"dbt{n}")
                wholes.append(whole)
                executions.append(execution)
                baselines.append(direct(admin, manifests, f"bench_direct{n}"))
            whole, execution, baseline = (
                statistics.median(x) for x in (wholes, executions, baselines)
            )
            write_query_project(work / "query", server, args.models)
            dbt_itself = statistics.median(dbt_build(work / "query")[1] for _ in range(ROUNDS))
        finally:
            server.stop()
    print(
        f"{args.models} dataset models, {args.blocks:,} blocks, {THREADS} threads, "
        f"median of {ROUNDS} rounds"
    )
    print(f"baseline: Admin API script (register, deploy, poll)  {baseline:6.2f} s")
    print(
        f"dbt build, execution phase                         {execution:6.2f} s  "
        f"{execution / baseline:5.2f}x  (goal <= 1.1x)"
    )
    print(
        f"dbt build, whole process (start-up, parse)         {whole:6.2f} s  "
        f"{whole / baseline:5.2f}x"
    )
    print(
        f"for scale: dbt's own cost, {args.models} `select 1` query models "
        f"{dbt_itself:6.2f} s (execution phase)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
