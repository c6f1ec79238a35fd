"""Result records under results/: one JSON file per (cell, model, job), written atomically.

A job is a counter (a measurement) or a check. Its result lives in `<cell>/<model>/<job>.json`.
An attempt that produced no result (failed, or not run) goes to `<job>.failed.json` beside it, so
it never replaces a standing one; the next success removes it.

Records are files anyone can edit, truncate or copy, so loading checks each one again (envelope,
probe document, arithmetic) and sets aside, with the file and the reason, any it cannot trust.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import hashlib
import json
import os
import platform
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cache
from pathlib import Path
from typing import NamedTuple, cast

import jsonschema

from bench import paths
from bench.errors import plain
from bench.probe import catalog, variants
from bench.records.memo import Memo

SCHEMA = "flops-matrix/result/2"
STATUSES = ("ok", "failed", "not-run")
KINDS = ("count", "check")
PROBE_SCHEMAS = {
    "count": (catalog.COUNT_SCHEMA, "probe-3.schema.json"),
    "check": (catalog.CHECK_SCHEMA, "check-1.schema.json"),
}
REASON_CHARS = 240  # a problem's reason stays one readable line


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
        "reason": plain(reason),
        "log_tail": plain(log_tail),
        "probe": probe,
        "host": host or {},
    }


class Unwritable(Exception):
    """An output that could not be written; the earlier file, if any, is left as it was."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"cannot write {path}: {reason}")
        self.path = path
        self.reason = reason


class InvalidRecord(ValueError):
    """A record that breaks its schema or its own arithmetic; the message is one line."""


@dataclass(frozen=True)
class Problem:
    """A record file set aside: where it is (relative to the results folder) and why, in one line."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


class Loaded(NamedTuple):
    records: list[dict]  # every readable, valid record, measurements and failures alike
    problems: list[Problem]  # unreadable or invalid files, left out of `records`
    older: list[Problem]  # kept in `records`, but written by an older probe: checked only for what the report reads
    digests: list[str]  # the sha256 of each of `records`' files, in the same order


def write(results: Path, entry: dict) -> Path:
    """Store one record atomically, sealed (bench/records/seal.py); a success clears the failure beside it."""
    from bench.records import seal  # seal reads this module's Key

    key = Key(entry["cell"], entry["model"], entry["job"], entry["kind"])
    target = key.path(results, entry["status"])
    write_text_atomically(target, json.dumps(seal.sealed(entry), indent=1, sort_keys=True) + "\n")
    if entry["status"] == "ok":
        key.path(results, "failed").unlink(missing_ok=True)
    return target


def load(results: Path, memo: Memo | None = None, model: str | None = None) -> Loaded:
    """Every record under results/ that can be read and trusted (of one model, if given); each other file,
    named, with the reason. A file whose bytes `memo` saw pass before is not validated again."""
    loaded = Loaded([], [], [], [])
    for path in sorted(results.glob(f"*/{glob.escape(model) if model else '*'}/*.json")):
        name = path.relative_to(results).as_posix()
        try:
            raw = _bytes(path)
            digest = hashlib.sha256(raw).hexdigest()
            entry = _parse(raw)
            if memo is None or not memo.is_valid(digest):
                validate(entry)
                if memo is not None:
                    memo.add_valid(digest)
            _check_place(cast(dict, entry), results, path)
        except InvalidRecord as error:
            loaded.problems.append(Problem(name, one_line(str(error))))
            continue
        except RecursionError:
            loaded.problems.append(Problem(name, "nested too deeply to check"))
            continue
        loaded.records.append(entry)
        loaded.digests.append(digest)
        if not is_current(entry):
            loaded.older.append(Problem(name, f"probe schema {entry['probe']['schema']}, not {catalog.COUNT_SCHEMA}"))
    return loaded


def validate(entry: object) -> None:
    """InvalidRecord unless `entry` is a result record whose contents agree with each other."""
    _conform(entry, load_schema("result-2.schema.json"), SCHEMA, "")
    entry = cast(dict, entry)  # the schema made sure
    probe = entry["probe"]
    if entry["status"] != "ok":
        return
    name, schema_file = PROBE_SCHEMAS[entry["kind"]]
    if entry["kind"] == "count" and not is_current(entry):
        _conform(probe, _older_probe_schema(), f"{probe['schema']} (older)", "probe")
    else:
        _conform(probe, load_schema(schema_file), name, "probe")
    field = "counter" if entry["kind"] == "count" else "check"
    asked = {"cell": entry["cell"], "model": entry["model"], field: entry["job"]}
    wrong = [f"{k} {probe[k]!r}" for k, v in asked.items() if probe[k] != v]
    if wrong:
        raise InvalidRecord(f"probe document is of {', '.join(wrong)}, not of the record's {', '.join(asked.values())}")
    if entry["kind"] == "count":
        _check_sums(probe)


def is_current(entry: dict) -> bool:
    """Whether an ok measurement was written by today's probe schema (failures and checks always are)."""
    if entry["status"] != "ok" or entry["kind"] != "count":
        return True
    return entry["probe"]["schema"] == catalog.COUNT_SCHEMA


def _bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise InvalidRecord(f"cannot read: {error.strerror or error}") from None


def _parse(raw: bytes) -> object:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidRecord(f"not UTF-8 text: byte {error.start} ({error.reason})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidRecord(f"not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})") from None
    except RecursionError:
        raise InvalidRecord("not valid JSON: nested too deeply") from None


def _conform(document: object, schema: dict, name: str, prefix: str) -> None:
    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(document))
    if error is not None:
        where = "/".join([prefix] * bool(prefix) + [str(p) for p in error.absolute_path]) or "the top level"
        raise InvalidRecord(f"breaks schema {name} at {where}: {error.message}")


def _check_place(entry: dict, results: Path, path: Path) -> None:
    """A record copied or renamed to another cell's place would be reported as that cell's."""
    home = Key(entry["cell"], entry["model"], entry["job"], entry["kind"]).path(results, entry["status"])
    if home != path:
        said = f"cell {entry['cell']!r}, model {entry['model']!r}, job {entry['job']!r}, status {entry['status']!r}"
        raise InvalidRecord(f"holds {said}, which belongs at {home.relative_to(results).as_posix()}")


def _check_sums(probe: dict) -> None:
    """The totals and the breakdown must agree: a total edited alone must never pass for a measurement."""
    raw, per, flops = probe["raw_total"], probe["flops_per_unit"], probe["flops"]
    if flops != raw * per:
        raise InvalidRecord(f"probe flops {flops:,} is not raw_total {raw:,} x flops_per_unit {per}")
    items = sum(item["raw"] for item in probe["breakdown"]["items"])
    if items != raw:
        raise InvalidRecord(f"probe breakdown items add up to {items:,}, not raw_total {raw:,}")
    entry = catalog.COUNTERS.get(variants.split(probe["counter"])[0])
    nodes = sum(node["raw"] for node in probe["nodes"])
    if entry is not None and entry.nodes_add_up and nodes != raw:
        raise InvalidRecord(f"probe nodes add up to {nodes:,}, not raw_total {raw:,}")


@cache
def load_schema(file_name: str) -> dict:
    return json.loads((paths.SCHEMAS / file_name).read_text())


@cache
def _older_probe_schema() -> dict:
    """What every probe schema so far holds and the report reads: a record of an older probe keeps these."""
    current = load_schema("probe-3.schema.json")
    kept = ["cell", "model", "counter", "unit", "flops_per_unit", "raw_total", "flops"]
    kept += ["breakdown", "unsupported", "provenance"]
    node = {"type": "object", "required": ["name", "raw"], "properties": {"raw": {"type": "integer"}}}
    return {
        "type": "object",
        "required": ["schema", *kept, "nodes"],
        "properties": {k: current["properties"][k] for k in kept}
        | {
            "schema": {"type": "string", "pattern": "^flops-matrix/probe/[0-9]+$"},
            "nodes": {"type": "array", "items": node},
        },
    }


def one_line(text: str) -> str:
    """A reason fit for one line of a table or of stderr."""
    flat = " ".join(text.split())
    return flat if len(flat) <= REASON_CHARS else flat[: REASON_CHARS - 3] + "..."


def host_provenance(engine_version: str) -> dict[str, str]:
    """What the host side knows about a run; the image's part is added by the caller."""
    return {
        "docker_engine": engine_version,
        "project_commit": project_commit(),
        "host": platform.node(),
        "host_platform": platform.platform(),
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


DIRTY = "+dirty"  # the end of project_commit when tracked files outside results/ differ from HEAD


def project_commit() -> str:
    """HEAD, marked dirty when tracked files outside results/ differ from it."""

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=paths.ROOT, capture_output=True, text=True).stdout.strip()

    head = git("rev-parse", "HEAD") or "unknown (not a git checkout)"
    dirty = git("status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)results")
    return f"{head}{DIRTY}" if dirty else head


def ensure_writable(folder: Path) -> None:
    """Unwritable unless files can be made in `folder`, or, where it does not exist yet, in the folder that
    would hold it: found before a run, not after it. Nothing is left behind (a failed run makes no folder)."""
    existing = folder
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    try:
        if not existing.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR))
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as error:
        raise Unwritable(folder, error.strerror or str(error)) from None


def write_text_atomically(target: Path, text: str) -> None:
    """Write to a temporary file beside `target`, then rename it over: a reader (or a full disk) never
    sees half a file, and a failure leaves the earlier one intact. Unwritable says which path and why."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle = tempfile.NamedTemporaryFile("w", dir=target.parent, prefix=f".{target.name}.", delete=False)
    except OSError as error:
        raise Unwritable(target, error.strerror or str(error)) from None
    try:
        with handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(handle.name, target)
    except BaseException as error:
        with contextlib.suppress(OSError):
            Path(handle.name).unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise Unwritable(target, error.strerror or str(error)) from None
        raise
