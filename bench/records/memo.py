"""What the last report computed, kept by the bytes it was computed from, so that a report after a run
that changed one model's records redoes only that model's work: which record files passed validation,
and each measurement's reconciliation and row.

Everything is keyed by the sha256 of a record file's bytes, the convention, and a fingerprint of the
host code and schemas that judge and reconcile it: the same key always gave the same result, so a hit
is that result. The memo lives under .matrix/ (never in results/), in two files so that a reader that
needs only the verdicts (nox -s lookup) does not load the reconciliations; one that cannot be read is
started afresh, one that cannot be written only costs time next run. It sits with the records it is
keyed by, so that loading them (results.load) needs nothing from the publishing side.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from functools import cache
from pathlib import Path

from bench import paths

VALID = "report-valid.txt"  # the fingerprint, then one digest of a valid record file per line
RECONCILED = "report-memo.pickle"


@cache
def fingerprint() -> str:
    """The host code and schemas a verdict or a reconciliation depends on."""
    digest = hashlib.sha256()
    for path in sorted([*paths.ROOT.glob("bench/**/*.py"), *paths.SCHEMAS.glob("*.json")]):
        digest.update(path.relative_to(paths.ROOT).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


fingerprint()  # now, from the code this process imported: a file edited while it runs must not sign its results


def _write(path: Path, data: bytes) -> None:
    """Atomically (a reader never sees half a memo); a failure only costs time next run."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}")
        partial.write_bytes(data)
        os.replace(partial, path)
    except OSError:
        pass


class Memo:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.valid: set[str] = set()
        self._reconciled: dict[str, object] | None = None  # read on first use
        self.used: set[str] = set()
        self.changed = {VALID: False, RECONCILED: False}
        try:
            lines = (folder / VALID).read_text().split()
            if lines and lines[0] == fingerprint():
                self.valid = set(lines[1:])
        except (OSError, UnicodeDecodeError):
            pass

    @property
    def reconciled(self) -> dict[str, object]:
        if self._reconciled is None:
            self._reconciled = {}
            try:
                saved = pickle.loads((self.folder / RECONCILED).read_bytes())
                if saved["fingerprint"] == fingerprint():
                    self._reconciled = dict(saved["reconciled"])
            except Exception:  # missing, truncated, of another version: start afresh
                pass
        return self._reconciled

    def is_valid(self, digest: str) -> bool:
        self.used.add(digest)
        return digest in self.valid

    def add_valid(self, digest: str) -> None:
        self.used.add(digest)
        self.valid.add(digest)
        self.changed[VALID] = True

    def get(self, key: str) -> object | None:
        self.used.add(key)
        return self.reconciled.get(key)

    def put(self, key: str, value: object) -> None:
        self.used.add(key)
        self.reconciled[key] = value
        self.changed[RECONCILED] = True

    def save(self, prune: bool = True) -> None:
        """Keep what was added; with `prune` (a whole report), drop what this one did not use."""
        valid = self.valid & self.used if prune else self.valid
        if self.changed[VALID] or valid != self.valid:
            _write(self.folder / VALID, "\n".join([fingerprint(), *sorted(valid)]).encode() + b"\n")
        if self._reconciled is None:
            return
        reconciled = {k: v for k, v in self._reconciled.items() if k in self.used or not prune}
        if self.changed[RECONCILED] or len(reconciled) != len(self._reconciled):
            kept = {"fingerprint": fingerprint(), "reconciled": reconciled}
            _write(self.folder / RECONCILED, pickle.dumps(kept, protocol=pickle.HIGHEST_PROTOCOL))


def key(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()
