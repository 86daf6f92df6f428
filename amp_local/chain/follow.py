"""Following: appending blocks at the head of a generated chain, as a live chain grows."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from amp_local.chain.generate import EpochCache
from amp_local.chain.spec import read_chain_info
from amp_local.chain.tables import build_range
from amp_local.chain.write import write_range

log = logging.getLogger("amp_local.chain")


class ChainFollower:
    """Appends blocks at the head of a chain written by `generate_chain`.

    `append_blocks(n)` writes blocks `head+1 … head+n` (one parquet file per table, atomically) and
    updates `chain.json`; returns `(first, last)`. `start()` does that every `interval_seconds` in a
    daemon thread (`blocks_per_tick` blocks each time) until `stop()`. New blocks get timestamps
    `max(previous + 1, now())` (whole seconds); content and hashes continue the deterministic chain.
    """

    def __init__(
        self,
        out_dir: str | Path,
        interval_seconds: float = 12.0,
        *,
        blocks_per_tick: int = 1,
        now: Callable[[], float] = time.time,
        on_append: Callable[[int, int], None] | None = None,
    ):
        self.out_dir = Path(out_dir)
        info = read_chain_info(self.out_dir)
        if info is None:
            raise FileNotFoundError(
                f"no generated chain in {self.out_dir} (run generate_chain first)"
            )
        self.info = info
        self.interval_seconds = interval_seconds
        self.blocks_per_tick = blocks_per_tick
        self.now = now
        self.on_append = on_append
        self._cache = EpochCache(info.spec)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None

    @property
    def head(self) -> int:
        return self.info.head

    def _block_times(self, n: int) -> np.ndarray:
        """`max(previous + 1, now)` per new block, ending at `now` for a batch of n."""
        now = int(self.now())
        i = np.arange(n)
        return np.maximum(self.info.head_timestamp + 1 + i, now - (n - 1 - i)).astype(np.int64)

    def append_blocks(self, n: int = 1) -> tuple[int, int]:
        if n < 1:
            raise ValueError("n must be >= 1")
        with self._lock:
            info = self.info
            first, last = info.head + 1, info.head + n
            content = self._cache.content(first, last)
            block_times = self._block_times(n)
            built = build_range(info.spec, content, info.head_hash, block_times)
            write_range(info.spec, self.out_dir, built)
            info.head = last
            info.head_hash = bytes(built.hashes[-1])
            info.head_timestamp = int(block_times[-1])
            info.save()
        if self.on_append:
            self.on_append(first, last)
        return first, last

    def _run(self) -> None:
        while not self._stop.wait(self.interval_seconds):
            try:
                self.append_blocks(self.blocks_per_tick)
            except Exception as exc:  # surfaced via .error and the log; following stops
                self.error = exc
                log.error("chain follower stopped: %s", exc)
                return

    def start(self) -> ChainFollower:
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._run, name="amp-chain-follower", daemon=True
            )
            self._thread.start()
        return self

    def stop(self, timeout: float | None = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def __enter__(self) -> ChainFollower:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
