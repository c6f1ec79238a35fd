"""What the last report computed, kept by the bytes it was computed from, so that a report after a run
that changed one model's records redoes only that model's work: which record files passed validation,
and each measurement's reconciliation and row.

Everything is keyed by the sha256 of a record file's bytes, the convention, and a fingerprint of the
host code and schemas that judge and reconcile it: the same key always gave the same result, so a hit
is that result. The memo lives under .matrix/ (never in results/); one that cannot be read is
started afresh, one that cannot be written only costs time next run.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from functools import cache
from pathlib import Path

from bench import paths

FILE = "report-memo.pickle"


@cache
def fingerprint() -> str:
    """The host code and schemas a verdict or a reconciliation depends on."""
    digest = hashlib.sha256()
    for path in sorted([*paths.ROOT.glob("bench/**/*.py"), *paths.SCHEMAS.glob("*.json")]):
        digest.update(path.relative_to(paths.ROOT).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


class Memo:
    def __init__(self, folder: Path) -> None:
        self.path = folder / FILE
        self.valid: set[str] = set()
        self.reconciled: dict[str, object] = {}
        self.used: set[str] = set()
        self.changed = False
        try:
            saved = pickle.loads(self.path.read_bytes())
            if saved["fingerprint"] == fingerprint():
                self.valid, self.reconciled = set(saved["valid"]), dict(saved["reconciled"])
        except Exception:  # missing, truncated, of another version: start afresh
            pass

    def is_valid(self, digest: str) -> bool:
        self.used.add(digest)
        return digest in self.valid

    def add_valid(self, digest: str) -> None:
        self.used.add(digest)
        self.valid.add(digest)
        self.changed = True

    def get(self, key: str) -> object | None:
        self.used.add(key)
        return self.reconciled.get(key)

    def put(self, key: str, value: object) -> None:
        self.used.add(key)
        self.reconciled[key] = value
        self.changed = True

    def save(self) -> None:
        """Keep what this report used, drop the rest."""
        if not self.changed and self.used >= self.valid | set(self.reconciled):
            return
        kept = {
            "fingerprint": fingerprint(),
            "valid": sorted(self.valid & self.used),
            "reconciled": {k: v for k, v in self.reconciled.items() if k in self.used},
        }
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            partial = self.path.with_name(f".{self.path.name}.{os.getpid()}")
            partial.write_bytes(pickle.dumps(kept, protocol=pickle.HIGHEST_PROTOCOL))
            os.replace(partial, self.path)  # a reader never sees half a memo
        except OSError:
            pass


def key(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()
