"""How many FLOPs each counted operation is worth. Stated once here; the report prints it.

The default: a multiply-accumulate is 2 FLOPs (a multiply and an add); a bias add and every
other element-wise add, subtraction or product is 1; one evaluation of an activation function
is 1, transcendental or not (sigmoid, tanh, relu alike). `macs` counts multiply-accumulates
alone, as thop and most papers' "FLOPs" do. Any weight can be overridden: `mac=1,act:tanh=4`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

__all__ = ["Convention", "PRESETS", "parse"]


@dataclass(frozen=True)
class Convention:
    name: str
    weights: tuple[tuple[str, float], ...]  # component or component family ("act") -> FLOPs each

    def weight(self, component: str) -> float:
        table = dict(self.weights)
        if component in table:
            return table[component]
        family = component.split(":", 1)[0]
        if family in table:
            return table[family]
        raise KeyError(f"convention {self.name!r} prices no {component!r}")

    def flops(self, counts: Counter[str]) -> float:
        return sum(count * self.weight(component) for component, count in counts.items())

    def describe(self) -> str:
        return ", ".join(f"{component} = {weight:g}" for component, weight in self.weights)


PRESETS = {
    "default": Convention("default", (("mac", 2), ("bias", 1), ("elementwise", 1), ("act", 1))),
    "macs": Convention("macs", (("mac", 1), ("bias", 0), ("elementwise", 0), ("act", 0))),
}


def parse(text: str) -> Convention:
    """A preset's name, or overrides of the default: `mac=1,act:sigmoid=4`."""
    if text in PRESETS:
        return PRESETS[text]
    weights = dict(PRESETS["default"].weights)
    for item in text.split(","):
        component, _, value = item.partition("=")
        try:
            weights[component.strip()] = float(value)
        except ValueError:
            raise ValueError(
                f"convention {text!r}: expected a preset ({', '.join(PRESETS)}) or component=weight pairs"
            ) from None
    return Convention(text, tuple(weights.items()))
