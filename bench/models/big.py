"""Models too big to hold: LLaMA-7B- and 70B-shaped decoders, counted without their weights; and any
definition whose parameters and activations alone outgrow a probe's memory (`too_big`), found before a
container starts.

Their definitions are the zoo's llama kind at the published sizes; they travel to the probe like a
user's (bench/models.payload) and run only when named (`--models llama-7b`). Only the counters in
their catalog entries' `abstract` count them, on shapes alone; every other job is recorded as not run, with the
weights' size as the reason, and no container is started for it.
"""

from __future__ import annotations

import math
import re

from bench.probe import catalog, zoo
from bench.reference.formulas import analyse

BYTES_PER_PARAMETER = 4  # float32, as every counter builds models

MODELS = {
    # LLaMA-7B (Touvron et al. 2023, Table 2): d 4096, 32 layers, 32 heads, SwiGLU 11008, vocabulary 32000
    "llama-7b": zoo.llama(
        dim=4096, layers=32, heads=32, kv_heads=32, ffn=11008, seq=2048, vocab=32000, name="LLaMA-7B"
    ),
    # Llama 2 70B (Touvron et al. 2023b): d 8192, 80 layers, 64 heads with 8 KV heads, SwiGLU 28672
    "llama-70b": zoo.llama(
        dim=8192, layers=80, heads=64, kv_heads=8, ffn=28672, seq=2048, vocab=32000, name="Llama-2-70B"
    ),
}
for _definition in MODELS.values():
    _definition["abstract"] = True  # the probe builds it on shapes alone


def is_abstract(definition: dict) -> bool:
    return bool(definition.get("abstract"))


def parameters(definition: dict) -> int:
    return sum(cost.params for cost in analyse(definition))


def abstract_counters() -> list[str]:
    """The counters that count a model on shapes alone, without its weights (their catalog entries say how)."""
    return sorted(name for name, entry in catalog.COUNTERS.items() if entry.abstract)


def why_not(definition: dict, kind: str, job: str) -> str:
    """Why a job cannot count this model ("" when it can): it needs the model's real weights."""
    if kind == "count" and job in abstract_counters():
        return ""
    params = parameters(definition)
    size = params * BYTES_PER_PARAMETER / 1024**3
    counts = f"counter {job}" if kind == "count" else f"check {job}"
    return (
        f"{counts} needs the model built with real weights: {params:,} float32 parameters are {size:,.1f} GiB;"
        f" counted on shapes alone only by {', '.join(abstract_counters())}"
    )


def memory_bytes(text: str) -> int:
    """A Docker memory size (`8g`, `512m`, `70000000`) in bytes."""
    match = re.fullmatch(r"(\d+)([bkmg]?)", text.strip().lower())
    if match is None:
        raise ValueError(f"{text!r} is not a Docker memory size")
    return int(match[1]) * 1024 ** "bkmg".index(match[2] or "b")


def too_big(definition: dict, memory: str) -> str:
    """Why a definition cannot be built within `memory` ("" when it may be): its float32 parameters and
    every layer's output, a floor under what any build needs. Code (models/<name>.py) and models counted
    on shapes alone are not judged here."""
    if is_abstract(definition) or not definition.get("layers"):
        return ""
    costs = analyse(definition)
    params = sum(cost.params for cost in costs)
    activations = sum(math.prod(cost.out_shape) for cost in costs)
    need = (params + activations) * BYTES_PER_PARAMETER
    if need <= memory_bytes(memory):
        return ""
    return (
        f"too big to hold: {params:,} parameters and {activations:,} activation values are"
        f" {need / 1024**3:,.1f} GiB as float32, more than the probe's memory ({memory}, --memory)"
    )
