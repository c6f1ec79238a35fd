"""The usual closed form of a LLaMA-style decoder's forward FLOPs, a second reference beside the
per-layer one: 2 FLOPs per weight of the matrix products for each token, plus attention's
Q K^T and A V, 4 x layers x context x attention width per token (Kaplan et al. 2020, Table 1, with
A V counted as well, as in Chowdhery et al. 2022, Appendix B). It is written from the architecture's
numbers alone (width, layers, heads, FFN, vocabulary), not from bench/reference/formulas.py, so
that each checks the other: they must agree within TOLERANCE, the per-layer reference being the
larger by the element-wise work the closed form leaves out (norms, rotary, softmax, SwiGLU's
product, residual adds).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from bench.reference.convention import PRESETS, Convention

TOLERANCE = 0.01  # the element-wise work is well under 1% of a LLaMA-7B-sized decoder's


@dataclass(frozen=True)
class ClosedForm:
    tokens: int  # batch x sequence
    context: int  # the sequence each token attends over
    layers: int
    attention_width: int  # heads x head_dim
    weights: int  # N: the weights of the matrix products (q, k, v, o, gate, up, down; the LM head)

    @property
    def per_token_macs(self) -> int:
        return self.weights + 2 * self.layers * self.context * self.attention_width

    def per_token(self, convention: Convention = PRESETS["default"]) -> float:
        return convention.flops(Counter({"mac": self.per_token_macs}))

    def total(self, convention: Convention = PRESETS["default"]) -> float:
        return self.tokens * self.per_token(convention)


def decoder(definition: dict) -> ClosedForm | None:
    """The closed form of a definition made of llama_block layers; None for any other model."""
    layers = definition.get("layers") or []
    blocks = [spec for spec in layers if spec["kind"] == "llama_block"]
    if not blocks or len(definition.get("input") or []) < 2:
        return None
    embedding = next((spec for spec in layers if spec["kind"] == "embedding"), None)
    width = embedding["dim"] if embedding else definition["input"][-1]
    batch, context = definition["input"][0], definition["input"][1]
    weights = 0
    for block in blocks:
        head_dim = width // block["heads"]
        weights += 2 * width * width + 2 * width * block["kv_heads"] * head_dim + 3 * width * block["ffn"]
    weights += sum(width * spec["units"] for spec in layers if spec["kind"] == "dense")  # the LM head
    return ClosedForm(batch * context, context, len(blocks), width, weights)


def departure(closed: ClosedForm, reference: float, convention: Convention = PRESETS["default"]) -> float:
    """How far the per-layer reference lies from the closed form, as a fraction of the closed form."""
    return (reference - closed.total(convention)) / closed.total(convention)


def agrees(closed: ClosedForm, reference: float, convention: Convention = PRESETS["default"]) -> bool:
    return 0 <= departure(closed, reference, convention) <= TOLERANCE


def flops_per_weight(convention: Convention = PRESETS["default"]) -> float:
    """FLOPs per weight of the matrix products per token: the price of one multiply-accumulate."""
    return convention.flops(Counter({"mac": 1}))
