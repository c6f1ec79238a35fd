"""Per batch or per sample: what a counter's number covers when the model runs on a batch.

Most counters count the batch they are given; a few count one sample whatever the batch
(their catalog entries' per_sample, measured at two batch sizes by tests/test_batches_docker.py). The reference
is computed at the batch the counter counted, so that a per-sample count reconciles with the
per-sample reference rather than leaving the batch as a residual.
"""

from __future__ import annotations

from bench.probe import catalog
from bench.publish.markdown import code, table, text

PER_BATCH = "the whole batch it is given"


def per_sample(counter: str) -> bool:
    return bool(_why(counter))


def _why(counter: str) -> str:
    """Why the counter counts one sample ("" for a job or name the catalog does not declare per sample)."""
    entry = catalog.COUNTERS.get(counter)
    return entry.per_sample if entry else ""


def as_counted(counter: str, definition: dict) -> dict:
    """The definition at the batch `counter` counts: batch 1 for a per-sample counter (the PyTorch
    build's own input shape too, where the definition gives one)."""
    shape = definition.get("input") or []
    if not per_sample(counter) or not shape or shape[0] == 1:
        return definition
    one = dict(definition, input=[1, *shape[1:]])
    if definition.get("torch_input"):
        one["torch_input"] = [1, *definition["torch_input"][1:]]
    return one


def section(counters: list[str]) -> str:
    """The report's table: per counter, whether its number is per batch or per sample, and why."""
    rows = [
        [code(c), text("per sample" if per_sample(c) else "per batch"), text(_why(c) or PER_BATCH)]
        for c in sorted(counters)
    ]
    return (
        "## Per batch or per sample\n\n"
        "What each counter's number covers when a model runs on a batch of more than one (`--batch`,"
        " `--shape`): the reference of a per-sample counter is computed at a batch of 1.\n\n"
        + table(["counter", "reports", "why"], rows)
    )
