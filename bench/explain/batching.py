"""Per batch or per sample: what a counter's number covers when the model runs on a batch.

Most counters count the batch they are given; a few count one sample whatever the batch
(their catalog entries' per_sample, measured at two batch sizes by tests/test_batches_docker.py). The reference
is computed at the batch the counter counted, so that a per-sample count reconciles with the
per-sample reference rather than leaving the batch as a residual.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.probe import catalog


@dataclass(frozen=True)
class BatchingFinding:
    """What one counter's number covers, and the evidence for it."""

    counter: str
    per_sample: bool
    why: str  # the catalog's reason for a per-sample counter; "" for one that counts the batch


def _per_sample_why(counter: str) -> str:
    """The catalog's word on a per-sample counter; "" for one that counts the batch it is given, or a name
    the catalog does not declare. (The one place this module reads the catalog.)"""
    entry = catalog.COUNTERS.get(counter)
    return entry.per_sample if entry else ""


def per_sample(counter: str) -> bool:
    return bool(_per_sample_why(counter))


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


def findings(counters: list[str]) -> list[BatchingFinding]:
    """Per counter, in name order: whether its number is per batch or per sample, and why."""
    return [BatchingFinding(c, per_sample(c), _per_sample_why(c) or "") for c in sorted(counters)]
