"""How many FLOPs each counted operation is worth. Stated once here; the report prints it.

The default: a multiply-accumulate is 2 FLOPs (a multiply and an add); a bias add and every
other element-wise add, subtraction or product is 1; one evaluation of an activation function
is 1, transcendental or not (sigmoid, tanh, relu alike). `macs` counts multiply-accumulates
alone, as thop and most papers' "FLOPs" do. Any weight can be overridden: `mac=1,act:tanh=4`.

A convention may also price a component by where it comes from: `mac:conv` (the MACs of
convolutions: LayerCost.sources) or `elementwise@batch_norm` (a component of one layer kind). Such a
convention prices itemised counts (`itemise`), never totals: "MACs of conv and matmul only, nothing
else" is `mac=0, mac:conv=1, mac:matmul=1` with every other component 0. A weight is looked up from
the most specific key down: `mac:conv@conv2d`, then `mac:conv`, then `mac`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from bench.reference.formulas import LayerCost

__all__ = ["Convention", "PRESETS", "itemise", "parse"]


@dataclass(frozen=True)
class Convention:
    name: str
    weights: tuple[tuple[str, float], ...]  # component or component family ("act") -> FLOPs each

    def weight(self, component: str) -> float:
        table = dict(self.weights)
        for key in _fallbacks(component):
            if key in table:
                return table[key]
        raise KeyError(f"convention {self.name!r} prices no {component!r}")

    @property
    def itemised(self) -> bool:
        """Whether it prices components by MAC source or layer kind (then totals cannot be priced)."""
        return any(_qualified(component) for component, _ in self.weights)

    def flops(self, counts: Counter[str]) -> float:
        if self.itemised and any(count and "@" not in component for component, count in counts.items()):
            raise ValueError(
                f"convention {self.name!r} prices components by MAC source or layer kind: give it itemised"
                " counts (convention.itemise), not totals"
            )
        return sum(count * self.weight(component) for component, count in counts.items())


PRESETS = {
    "default": Convention("default", (("mac", 2), ("bias", 1), ("elementwise", 1), ("act", 1))),
    "macs": Convention("macs", (("mac", 1), ("bias", 0), ("elementwise", 0), ("act", 0))),
}


def _qualified(component: str) -> bool:
    return "@" in component or component.startswith("mac:")


def _fallbacks(component: str) -> list[str]:
    """`mac:conv@conv2d` -> itself, `mac:conv`, `mac`; `act:relu` -> itself, `act`."""
    base = component.partition("@")[0]
    keys = [component] if base != component else []
    keys.append(base)
    family = base.split(":", 1)[0]
    return keys + ([family] if family != base else [])


def itemise(costs: Iterable[LayerCost]) -> Counter[str]:
    """Component counts keyed `component@kind`, MACs split by source (`mac:conv@conv2d`): what an
    itemised convention prices. A composite layer's parts are itemised as their own kinds; what the
    composite adds itself (a residual add) is keyed by the composite's kind."""
    items: Counter[str] = Counter()
    for cost in costs:
        own = cost.total()
        if cost.parts:
            items.update(itemise(cost.parts))
            for part in cost.parts:
                own.subtract(part.total())
            own = +own
            sources: Counter[str] = Counter()
        else:
            sources = cost.sources
        if own["mac"] != sum(sources.values()):
            raise ValueError(f"{cost.name}: {own['mac']} MACs, but its sources {dict(sources)} add up otherwise")
        for component, count in own.items():
            if component != "mac":
                items[f"{component}@{cost.kind}"] += count
        for source, count in sources.items():
            items[f"mac:{source}@{cost.kind}"] += count
    return items


def parse(text: str) -> Convention:
    """A preset's name, or overrides of the default: `mac=1,act:sigmoid=4`."""
    if text in PRESETS:
        return PRESETS[text]
    weights = dict(PRESETS["default"].weights)
    for item in text.split(","):
        component, _, value = item.partition("=")
        if _qualified(component.strip()):
            raise ValueError(
                f"convention {text!r}: {component.strip()!r} prices by MAC source or layer kind, which prices"
                " published figures (bench/reference/published.py), not the counters' rows"
            )
        try:
            weights[component.strip()] = float(value)
        except ValueError:
            raise ValueError(
                f"convention {text!r}: expected a preset ({', '.join(PRESETS)}) or component=weight pairs"
            ) from None
    return Convention(text, tuple(weights.items()))
