"""`amp-local`: run a local, Amp-compatible server for development and tests.

`amp-local serve` prints one machine-readable line, `AMP_LOCAL_READY {json}`, once every listener is
bound, so scripts and test fixtures can start it on free ports (`--flight-port 0`) and read the ports back.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import re
import signal
import socket
import sys
import threading
from pathlib import Path

READY_PREFIX = "AMP_LOCAL_READY"
# what the `local` extra installs (pyproject.toml); without them amp-local cannot start
LOCAL_EXTRA_MODULES = ("datafusion", "grpc", "numpy", "sqlglot", "eth_abi", "eth_hash")
SYNTHETIC_DATASETS = ("eth_firehose", "eth_rpc")
SNAPSHOT_NAMES = ("_/eth_rpc@0.0.0", "_/eth_firehose@0.0.0", "_/base_rpc@0.0.0")
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


def check_ports_free(host: str, ports: dict[str, int]) -> None:
    """Fail before the (slow) chain generation if a requested port is already taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for option, port in ports.items():
        if port == 0:
            continue
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers bind
            try:
                probe.bind((host, port))
            except OSError as exc:
                raise OSError(
                    f"could not bind {host}:{port} for {option}: {exc.strerror} (another "
                    f"amp-local or Amp is probably running); stop it, or choose another {option} "
                    "(0 picks a free one)"
                ) from None


def connect_host(host: str) -> str:
    """The address clients should dial: a wildcard bind is reached on loopback."""
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    return f"[{host}]" if ":" in host else host


# Amp's default ports; `exec` binds them too, so a profile written by `dbt init` works unchanged
DEFAULT_PORTS = {"--flight-port": 1602, "--jsonl-port": 1603, "--admin-port": 1610}
PORT_OPTIONS = tuple(DEFAULT_PORTS)
DEFAULT_DATA_DIR = Path(".amp-local")
MISSING_EXTRA = (
    "amp-local needs the local server's packages: pip install 'dbt-amp[local]' (missing: {module})"
)
PROFILE_HINT = (
    "or pass --flight-port 0 to pick a free port and let the profile read it: "
    "query_url: \"{{ env_var('AMP_QUERY_URL', 'grpc://localhost:1602') }}\""
)


def add_listen_options(parser: argparse.ArgumentParser) -> None:
    """Where the server listens: loopback and Amp's default ports unless told otherwise."""
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: %(default)s, loopback)"
    )
    parser.add_argument(
        "--flight-port",
        type=int,
        default=DEFAULT_PORTS["--flight-port"],
        help="Arrow Flight SQL port (default: %(default)s, Amp's); 0 picks a free port",
    )
    parser.add_argument(
        "--jsonl-port",
        type=int,
        default=DEFAULT_PORTS["--jsonl-port"],
        help="JSON Lines HTTP port (default: %(default)s, Amp's); 0 picks a free port",
    )
    parser.add_argument(
        "--admin-port",
        type=int,
        default=DEFAULT_PORTS["--admin-port"],
        help="Admin API HTTP port (default: %(default)s, Amp's); 0 picks a free port",
    )


def add_data_options(parser: argparse.ArgumentParser) -> None:
    """What the server serves; `serve` and `exec` take the same options."""
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=DEFAULT_DATA_DIR,
        help="where the synthetic chain's parquet files are written and reused (default: "
        "./.amp-local in the current folder; about 85 MB for the default 20,000 blocks, "
        "4.4 MB per 1,000 blocks)",
    )
    parser.add_argument(
        "--blocks",
        type=int,
        default=20_000,
        help="length of the synthetic chain served as _/eth_firehose@1.0.0 and _/eth_rpc@1.0.0 "
        "(default: %(default)s; 0: no synthetic chain)",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="synthetic chain seed (default: %(default)s)"
    )
    parser.add_argument(
        "--follow",
        type=float,
        default=None,
        metavar="SECONDS",
        help="append a new block at the chain head every SECONDS (default: a fixed chain)",
    )
    parser.add_argument(
        "--snapshots",
        action="store_true",
        help="also serve Amp's real table snapshots shipped with amp_local: "
        + ", ".join(SNAPSHOT_NAMES)
        + " (Ethereum mainnet block 15,000,000; Base block 33,411,770)",
    )
    parser.add_argument(
        "--dataset",
        action="append",
        default=[],
        metavar="NS/NAME@VERSION=DIR",
        help="serve a raw dataset folder: manifest.json plus one folder of parquet files per "
        "table (repeatable; default: none)",
    )
    parser.add_argument(
        "--token",
        default=os.environ.get("AMP_LOCAL_TOKEN") or None,
        help="require 'authorization: Bearer TOKEN' (default: $AMP_LOCAL_TOKEN, else no auth, "
        "like OSS Amp)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="amp-local", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser(
        "serve",
        help="serve Amp's Flight, JSON Lines and Admin API endpoints on loopback",
        description="Serve Amp's Flight SQL, JSON Lines and Admin API endpoints until "
        "SIGINT/SIGTERM; prints "
        f"'{READY_PREFIX} {{json}}' once listening.",
    )
    add_listen_options(serve)
    add_data_options(serve)
    serve.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    run = sub.add_parser(
        "exec",
        help="start a server, run COMMAND with AMP_QUERY_URL set, stop it",
        description="Start a server (Amp's default ports unless told otherwise), run COMMAND with "
        "AMP_QUERY_URL, AMP_JSONL_URL and AMP_ADMIN_URL set to it (and AMP_AUTH_TOKEN with "
        "--token), stop the server and exit with COMMAND's code.",
    )
    add_listen_options(run)
    add_data_options(run)
    run.add_argument("cmd", nargs=argparse.REMAINDER, metavar="-- COMMAND ...")
    return parser


def serve_argv(args: argparse.Namespace) -> list[str]:
    """The `serve` options that reproduce `exec`'s own (both share add_*_options).

    The token travels in the child's environment (AMP_LOCAL_TOKEN), never on a command line.
    """
    argv = ["--host", args.host, "--seed", str(args.seed)]
    argv += [arg for option in PORT_OPTIONS for arg in (option, str(getattr(args, _dest(option))))]
    if args.follow is not None:
        argv += ["--follow", str(args.follow)]
    return argv + [arg for text in args.dataset for arg in ("--dataset", text)]


def _dest(option: str) -> str:
    return option.removeprefix("--").replace("-", "_")


def run_with_server(args: argparse.Namespace) -> int:
    """`amp-local exec -- dbt build ...`: the README's one-command demo, with no server to set up."""
    import subprocess

    from amp_local.launcher import ServerStartError, start_amp_local

    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not cmd:
        raise UsageError("exec needs a command, e.g. amp-local exec -- dbt build")
    try:
        server = start_amp_local(
            args.data_dir,
            blocks=args.blocks,
            snapshots=args.snapshots,
            extra_args=serve_argv(args),
            free_ports=False,
            env=dict(os.environ, AMP_LOCAL_TOKEN=args.token or ""),
        )
    except ServerStartError as exc:
        message = str(exc)
        if "could not bind" in message:
            message += f"; {PROFILE_HINT}"
        raise UsageError(message) from None
    env = dict(
        os.environ,
        AMP_QUERY_URL=server.flight_url,
        AMP_JSONL_URL=server.jsonl_url,
        AMP_ADMIN_URL=server.admin_url,
    )
    if args.token:  # what a profile's `token: "{{ env_var('AMP_AUTH_TOKEN') }}"` reads
        env["AMP_AUTH_TOKEN"] = args.token
    print(f"amp-local: serving {server.flight_url}; running: {' '.join(cmd)}", file=sys.stderr)
    try:
        return subprocess.call(cmd, env=env)
    except FileNotFoundError:
        raise UsageError(f"command not found: {cmd[0]}") from None
    finally:
        server.stop()


def serve(args: argparse.Namespace) -> int:
    from amp_local.admin import open_admin, serve_admin
    from amp_local.datasets import DatasetStore
    from amp_local.engine import QueryEngine
    from amp_local.flight import serve_flight
    from amp_local.jsonl import serve_jsonl

    extra = [parse_dataset_arg(text) for text in args.dataset]
    if args.snapshots:
        from amp_local.bundled import snapshot_datasets

        for ref, directory in snapshot_datasets().items():
            extra.append(parse_dataset_arg(f"{ref}={directory}"))
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

    check_ports_free(args.host, {option: getattr(args, _dest(option)) for option in PORT_OPTIONS})
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
    jobs, admin_api = open_admin(store, args.data_dir.expanduser())
    bind_host = f"[{args.host}]" if ":" in args.host else args.host
    server, flight_port = serve_flight(engine, bind_host, args.flight_port, token=args.token)
    jsonl, jsonl_port = serve_jsonl(engine, args.host, args.jsonl_port)
    admin, admin_port = serve_admin(admin_api, args.host, args.admin_port, token=args.token)
    if follower is not None:
        follower.start()
    jobs.resume()

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    ready = {
        "flight_url": f"grpc://{connect_host(args.host)}:{flight_port}",
        "flight_port": flight_port,
        "jsonl_url": f"http://{connect_host(args.host)}:{jsonl_port}",
        "jsonl_port": jsonl_port,
        "admin_url": f"http://{connect_host(args.host)}:{admin_port}",
        "admin_port": admin_port,
        "host": args.host,
        "pid": os.getpid(),
        "datasets": [f"{ns}/{n}@{v}" for ns, n, tags, _ in store.datasets() for v in tags],
    }
    print(f"{READY_PREFIX} {json.dumps(ready)}", flush=True)
    stop.wait()
    log.info("shutting down")
    if follower is not None:
        follower.stop()
    jobs.close()
    admin.shutdown()
    jsonl.shutdown()
    server.stop(grace=2).wait()
    # A query DataFusion is still computing for a client that went away cannot be interrupted
    # from Python, and its worker thread would hold up interpreter exit: leave without joining.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def missing_local_extra() -> str | None:
    """The first of the `local` extra's modules that cannot be imported, if any."""
    for module in LOCAL_EXTRA_MODULES:
        try:
            importlib.import_module(module)
        except ImportError:
            return module
    return None


def main(argv: list[str] | None = None) -> int:
    # gRPC's C core logs to stderr on its own; our errors say what went wrong in one line
    os.environ.setdefault("GRPC_VERBOSITY", "NONE")
    args = build_parser().parse_args(argv)
    missing = missing_local_extra()
    if missing:
        print(f"amp-local: error: {MISSING_EXTRA.format(module=missing)}", file=sys.stderr)
        return 2
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
