"""Progress lines on stderr, so long builds and runs never look stuck."""

from __future__ import annotations

import sys
import time


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
