"""Each record's seal: the digest of everything it holds (its measured content, its inputs key and the
rest of the host's provenance) that the host writes into it as it records it (`host.seal`).

A record edited afterwards, however consistently (raw total, flops and breakdown together), no longer
matches its seal: the report leaves it out, naming the file, and a run does not take it as recorded
for its inputs. Records written before records were sealed carry none and are read as before.
"""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path

from bench.records.results import Key, Problem

FIELD = "seal"  # in the record's host provenance
EDITED = "edited after measurement: its content no longer matches the seal the host wrote"


def digest(entry: dict) -> str:
    """The hash of the record as written, its seal left out."""
    content = copy.deepcopy(entry)
    if isinstance(content.get("host"), dict):
        content["host"].pop(FIELD, None)
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def sealed(entry: dict) -> dict:
    """The record with its seal."""
    return {**entry, "host": {**entry["host"], FIELD: digest(entry)}}


def edited(entry: dict) -> bool:
    """Whether a sealed record's content changed since the host wrote it (an unsealed one: not known)."""
    host = entry.get("host")
    return isinstance(host, dict) and FIELD in host and host[FIELD] != digest(entry)


def split(entries: list[dict], where: Path) -> tuple[list[dict], list[Problem]]:
    """The records that hold to their seal, and each other one as a problem that names its file."""
    kept, found = [], []
    for entry in entries:
        if edited(entry):
            key = Key(entry["cell"], entry["model"], entry["job"], entry["kind"])
            found.append(Problem(key.path(where, entry["status"]).relative_to(where).as_posix(), EDITED))
        else:
            kept.append(entry)
    return kept, found
