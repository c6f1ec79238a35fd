"""results/flops.csv and results/flops.json: the published rows for other tools (pandas, a spreadsheet).

One row per model x cell x counter, flat, with the same columns in both files: the counter's raw
number and unit, FLOPs under the report's convention, the reference, one column per named
adjustment (every cause, 0 when it does not apply), the residual, and the pins of the cell. The CSV
is written by the csv module, so a name holding a comma, a quote or a newline stays one field.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence

from bench.explain.reconcile import Cause
from bench.explain.rows import Row, ordered
from bench.publish.headings import columns
from bench.publish.words import base_image

SCHEMA = "flops-matrix/table/1"
NAMES = [
    "model",
    "cell",
    "counter",
    "column",
    "counter_tool",
    "counter_tool_version",
    "framework",
    "framework_version",
    "python",
    "unit",
    "raw_total",
    "flops_per_unit",
    "flops",
    "convention",
    "reference",
    *(f"adjustment_{cause}" for cause in Cause),
    "residual",
    "share_of_reference",
    "image_id",
    "image_inputs_hash",
    "base_image",
    "project_commit",
    "finished_at",
    "docker_engine",
    "definition_sha256",
    "pins",
]


def _number(value: float | None) -> int | float | None:
    """Whole numbers as integers (as the counters report them); None stays empty."""
    if value is None:
        return None
    return int(value) if float(value).is_integer() else value


def flat(rows: list[Row]) -> list[dict]:
    """The rows as plain records, in reading order; `pins` is a list (joined by spaces in the CSV)."""
    heading = columns(rows)
    out = []
    for r in ordered(rows):
        reconciled = r.reference is not None
        record = {
            "model": r.model,
            "cell": r.cell,
            "counter": r.counter,
            "column": heading[(r.cell, r.counter)],
            "counter_tool": r.tool,
            "counter_tool_version": r.tool_version,
            "framework": r.framework,
            "framework_version": r.framework_version,
            "python": r.python,
            "unit": r.unit,
            "raw_total": r.raw_total,
            "flops_per_unit": _number(r.flops_per_unit),
            "flops": _number(r.flops),
            "convention": r.convention,
            "reference": _number(r.reference),
        }
        for cause in Cause:
            record[f"adjustment_{cause}"] = _number(r.adjustments[cause]) if reconciled else None
        record |= {
            "residual": _number(r.residual),
            "share_of_reference": None if r.share is None else round(r.share, 6),
            "image_id": r.image_id,
            "image_inputs_hash": r.image_inputs_hash,
            "base_image": base_image(*r.base_image),
            "project_commit": r.project_commit,
            "finished_at": r.finished_at,
            "docker_engine": r.docker_engine,
            "definition_sha256": r.definition_sha256,
            "pins": list(r.pins),
        }
        out.append(record)
    return out


def to_csv(rows: list[Row]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, NAMES, lineterminator="\n")
    writer.writeheader()
    for record in flat(rows):
        writer.writerow(record | {"pins": " ".join(record["pins"])})
    return buffer.getvalue()


def to_json(rows: list[Row], published: Sequence[dict] = ()) -> str:
    """The rows; and, when given, the figures published for their models (bench/publish/published_rows.py)."""
    document: dict = {"schema": SCHEMA, "columns": NAMES, "rows": flat(rows)}
    if published:
        document["published"] = list(published)
    return json.dumps(document, indent=1, ensure_ascii=False, sort_keys=False) + "\n"
