"""`amp-local`: run a local, Amp-compatible server for development and tests.

`amp-local serve` prints one machine-readable line, `AMP_LOCAL_READY {json}`, once every listener is
bound, so scripts and test fixtures can start it on free ports (`--flight-port 0`) and read the ports back.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import signal
import sys
import threading
from pathlib import Path

READY_PREFIX = "AMP_LOCAL_READY"
SYNTHETIC_DATASETS = ("eth_firehose", "eth_rpc")
DATASET_ARG_RE = re.compile(r"^(?P<ref>[^=]+)=(?P<dir>.+)$")
log = logging.getLogger("amp_local")


class UsageError(Exception):
    """A bad command-line argument; printed as one line, exit code 2."""


def parse_dataset_arg(text: str) -> tuple[str, str, str, Path]:
    """`NS/NAME@VERSION=DIR` → (namespace, name, version, dir)."""
    from amp_local.references import DatasetReference, InvalidReference, revision_kind

    match = DATASET_ARG_RE.match(text)
    if not match:
        raise UsageError(f"--dataset '{text}': expected NS/NAME@VERSION=DIR")
    try:
        ref = DatasetReference.parse(match["ref"])
    except InvalidReference as exc:
        raise UsageError(f"--dataset '{text}': {exc}") from None
    if "@" not in match["ref"] or revision_kind(ref.revision) != "semver":
        raise UsageError(f"--dataset '{text}': give a semver version, e.g. _/eth_rpc@0.0.0=DIR")
    directory = Path(match["dir"]).expanduser()
    if not (directory / "manifest.json").is_file():
        raise UsageError(
            f"--dataset '{text}': {directory} has no manifest.json (expected a raw dataset folder: "
            "manifest.json plus one folder of parquet files per table)"
        )
    return ref.namespace, ref.name, ref.revision, directory


def connect_host(host: str) -> str:
    """The address clients should dial: a wildcard bind is reached on loopback."""
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    return f"[{host}]" if ":" in host else host


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="amp-local", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser(
        "serve", help="serve Amp's Flight and JSON Lines query endpoints on loopback"
    )
    serve.add_argument("--data-dir", type=Path, default=Path(".amp-local"))
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--flight-port", type=int, default=1602, help="0 picks a free port")
    serve.add_argument(
        "--jsonl-port", type=int, default=1603, help="JSON Lines HTTP port; 0 picks a free port"
    )
    serve.add_argument(
        "--blocks", type=int, default=20_000, help="synthetic chain length (0: no synthetic chain)"
    )
    serve.add_argument("--seed", type=int, default=0)
    serve.add_argument(
        "--follow",
        type=float,
        default=None,
        metavar="SECONDS",
        help="append a new block at the chain head every SECONDS",
    )
    serve.add_argument(
        "--token",
        default=os.environ.get("AMP_LOCAL_TOKEN"),
        help="require 'authorization: Bearer TOKEN' (default: no auth, like OSS Amp)",
    )
    serve.add_argument(
        "--dataset",
        action="append",
        default=[],
        metavar="NS/NAME@VERSION=DIR",
        help="serve a raw dataset folder (repeatable)",
    )
    serve.add_argument("-v", "--verbose", action="store_true")
    run = sub.add_parser(
        "exec",
        help="start a server on free ports, run COMMAND with AMP_QUERY_URL set, stop it",
    )
    run.add_argument("--data-dir", type=Path, default=Path(".amp-local"))
    run.add_argument("--blocks", type=int, default=20_000)
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("cmd", nargs=argparse.REMAINDER, metavar="-- COMMAND ...")
    return parser


def run_with_server(args: argparse.Namespace) -> int:
    """`amp-local exec -- dbt build ...`: the README's one-command demo, with no server to set up."""
    import subprocess

    from amp_local.launcher import SNAPSHOT_DATASETS, start_amp_local

    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not cmd:
        raise UsageError("exec needs a command, e.g. amp-local exec -- dbt build")
    snapshots = all(p.is_dir() for p in SNAPSHOT_DATASETS.values())
    server = start_amp_local(
        args.data_dir,
        blocks=args.blocks,
        snapshots=snapshots,
        extra_args=["--seed", str(args.seed)],
    )
    env = dict(os.environ, AMP_QUERY_URL=server.flight_url, AMP_JSONL_URL=server.jsonl_url)
    print(f"amp-local: serving {server.flight_url}; running: {' '.join(cmd)}", file=sys.stderr)
    try:
        return subprocess.call(cmd, env=env)
    except FileNotFoundError:
        raise UsageError(f"command not found: {cmd[0]}") from None
    finally:
        server.stop()


def serve(args: argparse.Namespace) -> int:
    from amp_local.datasets import DatasetStore
    from amp_local.engine import QueryEngine
    from amp_local.flight import serve_flight
    from amp_local.jsonl import serve_jsonl

    extra = [parse_dataset_arg(text) for text in args.dataset]
    synthetic = {f"_/{name}@1.0.0" for name in SYNTHETIC_DATASETS} if args.blocks else set()
    for namespace, name, version, _ in extra:
        if f"{namespace}/{name}@{version}" in synthetic:
            raise UsageError(
                f"--dataset {namespace}/{name}@{version} is the synthetic chain's tag; serve "
                "it under another version (e.g. @0.0.0) or pass --blocks 0"
            )
    if args.blocks < 0:
        raise UsageError("--blocks must be >= 0")
    if args.follow is not None and (args.follow <= 0 or args.blocks == 0):
        raise UsageError("--follow needs SECONDS > 0 and a synthetic chain (--blocks > 0)")

    store = DatasetStore()
    follower = None
    if args.blocks:
        from amp_local.chain import ChainFollower, generate_chain

        chain_dir = args.data_dir.expanduser() / "chain"
        generate_chain(chain_dir, blocks=args.blocks, seed=args.seed)
        for name in SYNTHETIC_DATASETS:
            store.add_raw_dataset("_", name, "1.0.0", chain_dir / name)
        if args.follow:
            follower = ChainFollower(chain_dir, interval_seconds=args.follow)
    for namespace, name, version, directory in extra:
        try:
            store.add_raw_dataset(namespace, name, version, directory)
        except ValueError as exc:  # bad manifest.json (JSON errors are ValueErrors too)
            raise UsageError(
                f"--dataset {namespace}/{name}@{version}={directory}: {exc}"
            ) from None

    engine = QueryEngine(store)
    bind_host = f"[{args.host}]" if ":" in args.host else args.host
    server, flight_port = serve_flight(engine, bind_host, args.flight_port, token=args.token)
    jsonl, jsonl_port = serve_jsonl(engine, args.host, args.jsonl_port)
    if follower is not None:
        follower.start()

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    ready = {
        "flight_url": f"grpc://{connect_host(args.host)}:{flight_port}",
        "flight_port": flight_port,
        "jsonl_url": f"http://{connect_host(args.host)}:{jsonl_port}",
        "jsonl_port": jsonl_port,
        "host": args.host,
        "pid": os.getpid(),
        "datasets": [f"{ns}/{n}@{v}" for ns, n, tags, _ in store.datasets() for v in tags],
    }
    print(f"{READY_PREFIX} {json.dumps(ready)}", flush=True)
    stop.wait()
    log.info("shutting down")
    if follower is not None:
        follower.stop()
    jsonl.shutdown()
    server.stop(grace=2).wait()
    # A query DataFusion is still computing for a client that went away cannot be interrupted
    # from Python, and its worker thread would hold up interpreter exit: leave without joining.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def main(argv: list[str] | None = None) -> int:
    # gRPC's C core logs to stderr on its own; our errors say what went wrong in one line
    os.environ.setdefault("GRPC_VERBOSITY", "NONE")
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if getattr(args, "verbose", False) else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return serve(args) if args.command == "serve" else run_with_server(args)
    except UsageError as exc:
        print(f"amp-local: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"amp-local: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # e.g. Ctrl-C while the chain is being generated
        print("amp-local: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
