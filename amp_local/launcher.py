"""Start `amp-local serve` as a subprocess on free ports and read back its READY line.

Used by `amp-local exec`, the test fixtures and the benchmarks, so all three start the server the same way.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from amp_local.cli import PORT_OPTIONS, READY_PREFIX


class ServerStartError(RuntimeError):
    """`amp-local serve` exited or timed out before it was ready; the message is its own error."""


@dataclass
class AmpServer:
    process: subprocess.Popen
    ready: dict
    data_dir: Path
    stderr_lines: list[str] = field(default_factory=list)
    token: str | None = None

    @property
    def flight_url(self) -> str:
        return self.ready["flight_url"]

    @property
    def flight_port(self) -> int:
        return self.ready["flight_port"]

    @property
    def jsonl_url(self) -> str:
        return self.ready["jsonl_url"]

    @property
    def admin_url(self) -> str | None:
        return self.ready.get("admin_url")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def start_amp_local(
    data_dir: Path,
    *,
    blocks: int = 2_000,
    extra_args: Sequence[str] = (),
    snapshots: bool = True,
    env: dict[str, str] | None = None,
    timeout: float = 180.0,
    free_ports: bool = True,
) -> AmpServer:
    """Run `python -m amp_local serve` and wait for its READY line.

    `free_ports` binds every listener to a free port (tests, benchmarks); `amp-local exec` passes its
    own port options in `extra_args` instead.
    """
    args = [sys.executable, "-m", "amp_local", "serve", "--data-dir", str(data_dir)]
    if free_ports:
        args += [arg for option in PORT_OPTIONS for arg in (option, "0")]
    args += ["--blocks", str(blocks), *(["--snapshots"] if snapshots else []), *extra_args]
    process = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1, env=env
    )
    stderr_lines: list[str] = []

    def drain_stderr() -> None:
        for line in process.stderr:
            stderr_lines.append(line)

    threading.Thread(target=drain_stderr, daemon=True).start()
    deadline = time.monotonic() + timeout
    ready = None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            if process.poll() is not None:
                break
            continue
        if line.startswith(READY_PREFIX):
            ready = json.loads(line[len(READY_PREFIX) :])
            break
    if ready is None:
        process.kill()
        process.wait()
        errors = [line.strip() for line in stderr_lines if line.startswith("amp-local: error:")]
        if errors:
            raise ServerStartError(errors[-1].removeprefix("amp-local: error: "))
        raise ServerStartError("amp-local did not become ready:\n" + "".join(stderr_lines[-40:]))
    threading.Thread(target=process.stdout.read, daemon=True).start()
    return AmpServer(process, ready, Path(data_dir), stderr_lines)
