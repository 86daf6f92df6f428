"""The `watch` loop: refresh every interval, in place on a terminal; `q` quits, `r` refreshes now.

Keys are read one at a time from a terminal's stdin (cbreak mode, restored on exit). Without a
terminal (pipes, CI, tests) frames are printed one after another and `--iterations` bounds the loop.
"""

from __future__ import annotations

import os
import select
import sys
import time
from collections.abc import Callable
from typing import IO, Any

from rich.console import Console, RenderableType
from rich.live import Live

QUIT_KEYS = ("q", "Q")
REFRESH_KEYS = ("r", "R")


class Keys:
    """Single key presses from a terminal, without waiting for Enter."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream or sys.stdin
        try:
            self.enabled = self.stream.isatty()
        except (AttributeError, ValueError):
            self.enabled = False
        self._saved: Any = None

    def __enter__(self) -> Keys:
        if self.enabled:
            import termios
            import tty

            fd = self.stream.fileno()
            self._saved = termios.tcgetattr(fd)
            tty.setcbreak(fd)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._saved is not None:
            import termios

            termios.tcsetattr(self.stream.fileno(), termios.TCSADRAIN, self._saved)
            self._saved = None

    def wait(self, timeout: float) -> str | None:
        """The next key pressed within `timeout` seconds, or None."""
        if not self.enabled:
            time.sleep(max(timeout, 0))
            return None
        fd = self.stream.fileno()
        ready, _, _ = select.select([fd], [], [], max(timeout, 0))
        if not ready:
            return None
        data = os.read(fd, 1)
        return data.decode(errors="replace") if data else None


def run(
    frame: Callable[[], RenderableType],
    console: Console,
    interval: float,
    iterations: int | None = None,
    keys: Keys | None = None,
    separate: bool = True,
) -> int:
    """Show `frame()` every `interval` seconds until `q`, Ctrl-C or `iterations` frames; returns
    the number of frames shown. Without a terminal, frames are printed one after another
    (`separate`: with a blank line between them)."""
    keys = keys or Keys()
    shown = 0
    try:
        with keys:
            if console.is_terminal:
                with Live(console=console, auto_refresh=False, transient=False) as live:
                    while True:
                        live.update(frame(), refresh=True)
                        shown += 1
                        if _done(shown, iterations) or not _pause(keys, interval):
                            return shown
            while True:
                console.print(frame(), crop=False, soft_wrap=True)
                shown += 1
                if _done(shown, iterations) or not _pause(keys, interval):
                    return shown
                if separate:
                    console.print()
    except KeyboardInterrupt:
        return shown


def _done(shown: int, iterations: int | None) -> bool:
    return iterations is not None and shown >= iterations


def _pause(keys: Keys, interval: float) -> bool:
    """Wait for the next refresh: False when `q` was pressed."""
    deadline = time.monotonic() + interval
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return True
        key = keys.wait(remaining)
        if key in QUIT_KEYS:
            return False
        if key in REFRESH_KEYS:
            return True
