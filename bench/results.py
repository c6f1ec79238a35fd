"""Result records under results/: one JSON file per (cell, model, job), written atomically.

A job is a counter (a measurement) or a check. Its result lives in `<cell>/<model>/<job>.json`.
An attempt that produced no result (failed, or not run) goes to `<job>.failed.json` beside it, so
it never replaces a standing one; the next success removes it.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from bench import paths

SCHEMA = "flops-matrix/result/2"
STATUSES = ("ok", "failed", "not-run")


KINDS = ("count", "check")


@dataclass(frozen=True)
class Key:
    cell: str
    model: str
    job: str  # a counter's or a check's name
    kind: str = "count"

    def path(self, results: Path, status: str) -> Path:
        suffix = ".json" if status == "ok" else ".failed.json"
        return results / self.cell / self.model / f"{self.job}{suffix}"


def record(
    key: Key, status: str, *, probe: dict | None = None, reason: str = "", log_tail: str = "", host: dict | None = None
) -> dict:
    if status not in STATUSES:
        raise ValueError(f"status {status!r} is not one of {STATUSES}")
    if key.kind not in KINDS:
        raise ValueError(f"kind {key.kind!r} is not one of {KINDS}")
    return {
        "schema": SCHEMA,
        "status": status,
        "cell": key.cell,
        "model": key.model,
        "job": key.job,
        "kind": key.kind,
        "reason": reason,
        "log_tail": log_tail,
        "probe": probe,
        "host": host or {},
    }


def write(results: Path, entry: dict) -> Path:
    """Store one record atomically; a success clears the failure beside it."""
    key = Key(entry["cell"], entry["model"], entry["job"], entry["kind"])
    target = key.path(results, entry["status"])
    _write_atomically(target, json.dumps(entry, indent=1, sort_keys=True) + "\n")
    if entry["status"] == "ok":
        key.path(results, "failed").unlink(missing_ok=True)
    return target


def load(results: Path) -> list[dict]:
    """Every record under results/, measurements and failures alike."""
    entries = []
    for path in sorted(results.glob("*/*/*.json")):
        entry = json.loads(path.read_text())
        if entry.get("schema") == SCHEMA:
            entries.append(entry)
    return entries


def host_provenance(engine_version: str) -> dict[str, str]:
    """What the host side knows about a run; the image's part is added by the caller."""
    return {
        "docker_engine": engine_version,
        "project_commit": project_commit(),
        "host": platform.node(),
        "host_platform": platform.platform(),
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def project_commit() -> str:
    """HEAD, marked dirty when tracked files outside results/ differ from it."""

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=paths.ROOT, capture_output=True, text=True).stdout.strip()

    head = git("rev-parse", "HEAD") or "unknown (not a git checkout)"
    dirty = git("status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)results")
    return f"{head}+dirty" if dirty else head


def _write_atomically(target: Path, text: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile("w", dir=target.parent, prefix=f".{target.name}.", delete=False)
    try:
        with handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(handle.name, target)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
