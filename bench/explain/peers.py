"""Models given as code (models/<name>.py) have no definition, so no analytic reference: their
counters are compared with each other instead, each against the median of all of them."""

from __future__ import annotations

import statistics

from bench.publish.markdown import code, number, table, text
from bench.run.cells import order_key

TITLE = "Models without a definition: the counters compared with each other"


def is_code(entry: dict) -> bool:
    """A measurement of a model given as Python code."""
    return bool(((entry.get("probe") or {}).get("definition") or {}).get("python"))


def section(entries: list[dict]) -> str:
    """Per model given as code: each counter's FLOPs and its ratio to the median of the counters."""
    measured = [e for e in entries if e["status"] == "ok" and e["kind"] == "count" and is_code(e)]
    if not measured:
        return ""
    parts = [
        f"## {TITLE}\n\n"
        "These models are Python code that builds the model (`models/<name>.py`), not a definition: there is"
        " no analytic reference to reconcile them with. Each count is shown against the median of all the"
        " counters that counted the model.\n"
    ]
    for model in sorted({e["model"] for e in measured}):
        rows = sorted((e for e in measured if e["model"] == model), key=lambda e: (order_key(e["cell"]), e["job"]))
        median = statistics.median(e["probe"]["flops"] for e in rows)
        table_rows = [
            [
                text(e["cell"]),
                code(e["job"]),
                number(e["probe"]["flops"]),
                text(f"{e['probe']['flops'] / median:.3f}" if median else "-"),
            ]
            for e in rows
        ]
        summary = rows[0]["probe"]["definition"].get("summary", "")
        parts.append(
            f"### {code(model)}\n\n{text(summary)}; median of {len(rows)} counts: {number(median)} FLOPs.\n\n"
            + table(["cell", "counter", "FLOPs", "x median"], table_rows)
        )
    return "\n".join(parts)
