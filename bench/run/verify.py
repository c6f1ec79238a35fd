"""`--verify N`: re-measure a seeded random draw of recorded jobs and name every number that moved.

A committed table is worth citing when anyone can rebuild its numbers: this draws the jobs to rebuild
(seeded, so a draw can be repeated), and compares what a fresh measurement gives with the record.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from bench.records import results

MEASURED = ("raw_total", "flops")  # what must come out the same; the rest is provenance


def new_seed() -> int:
    return random.SystemRandom().randrange(1, 1_000_000)


def draw(where: Path, planned: dict[str, list[results.Key]], count: int, seed: int) -> list[results.Key]:
    """`count` of the planned counts that have a measurement recorded, drawn with `seed` (all when fewer)."""
    recorded = sorted(
        (key for keys in planned.values() for key in keys if key.kind == "count" and key.path(where, "ok").is_file()),
        key=lambda k: (k.cell, k.model, k.job),
    )
    drawn = random.Random(seed).sample(recorded, min(count, len(recorded)))
    return sorted(drawn, key=lambda k: (k.cell, k.model, k.job))


def numbers(where: Path, key: results.Key) -> dict[str, object] | None:
    """The measured numbers of the record for `key`, or None when it has no measurement there."""
    try:
        entry = json.loads(key.path(where, "ok").read_text())
    except (OSError, ValueError):
        return None
    probe = entry.get("probe") if isinstance(entry, dict) else None
    return {name: probe.get(name) for name in MEASURED} if isinstance(probe, dict) else None


def differences(recorded: Path, again: Path, keys: list[results.Key]) -> list[str]:
    """One line per drawn job whose fresh measurement differs from its record, or that gave none."""
    lines = []
    for key in keys:
        before, after = numbers(recorded, key), numbers(again, key)
        where = f"{key.cell} / {key.model} / {key.job}"
        if after is None:
            failed = key.path(again, "failed")
            why = ""
            if failed.is_file():
                why = f": {json.loads(failed.read_text()).get('reason', '')}"
            lines.append(f"{where}: no measurement this time{why}")
        elif after != before:
            moved = [f"{n} {before.get(n)} -> {after.get(n)}" for n in MEASURED if before.get(n) != after.get(n)]
            lines.append(f"{where}: {', '.join(moved)}")
    return lines
