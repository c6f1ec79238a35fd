"""Progress on stderr, so long builds and runs never look stuck.

On a terminal a live bar shows jobs done / total, elapsed time and time left (rich); elsewhere
(CI logs, pipes) each finished job is one line with the same count. Failures are always one line
each, and the run ends with a summary line (matrix.describe).
"""

from __future__ import annotations

import sys
import threading
import time

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.progress import Progress as Bar


def say(message: str, cell: str = "") -> None:
    prefix = f"[{cell}] " if cell else ""
    print(f"{time.strftime('%H:%M:%S')} {prefix}{message}", file=sys.stderr, flush=True)


class Heartbeat:
    """Echoes a long step's latest output line at most every `every` seconds."""

    def __init__(self, cell: str, every: float = 15.0) -> None:
        self._cell = cell
        self._every = every
        self._started = time.monotonic()
        self._last = self._started

    def tick(self, latest: str) -> None:
        now = time.monotonic()
        if now - self._last >= self._every and latest:
            self._last = now
            say(f"  ... {now - self._started:.0f} s: {latest[:120]}", self._cell)


class Progress:
    """Jobs done out of the run's total; thread-safe."""

    def __init__(self, live: bool | None = None) -> None:
        self._live = sys.stderr.isatty() if live is None else live
        self._lock = threading.Lock()
        self._done = 0
        self._total = 0
        self._failures = 0
        self._bar: Bar | None = None
        self._task = None

    def start(self, total: int) -> None:
        self._total = total
        if self._live and total:
            self._bar = Bar(
                TextColumn("jobs"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("left"),
                TimeRemainingColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self._task = self._bar.add_task("jobs", total=total)
            self._bar.start()

    def advance(self, count: int = 1) -> None:
        with self._lock:
            self._done += count
            if self._bar is not None:
                self._bar.update(self._task, completed=self._done)

    def done(self, cell: str, message: str) -> None:
        self.advance()
        say(f"[{self._done}/{self._total}] {message}", cell)

    def fail(self, cell: str, message: str) -> None:
        with self._lock:
            self._failures += 1
        say(f"FAILED: {message}", cell)

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
