"""Whether the analytic reference reproduces a published figure, at the precision it is printed.

The reference is the zoo model's analytic count (formulas.py) itemised and priced by the convention
the figure's source states. It reproduces the figure when it prints as the figure does: rounded to
the figure's last digit, truncated to it, or either where the source does not say. Where it does not,
the entry's alternative (published.py) is computed the same way, from its own definition or convention.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import floor

from bench.probe import zoo
from bench.reference.convention import Convention, itemise
from bench.reference.formulas import analyse
from bench.reference.published import PUBLISHED, Figure, Published, Rounding

__all__ = ["Count", "Verdict", "count", "verdict", "verdicts"]


@dataclass(frozen=True)
class Count:
    """One analytic count and how it prints at a figure's precision."""

    value: float
    printed: tuple[tuple[Rounding, float], ...]  # (how, value as printed) for each reading the figure allows
    reproduced: bool

    def matched(self, figure: Figure) -> tuple[Rounding, ...]:
        """The readings under which it prints as the figure."""
        target = round(figure.value / figure.quantum)
        return tuple(how for how, shown in self.printed if round(shown / figure.quantum) == target)


@dataclass(frozen=True)
class Verdict:
    entry: Published
    reference: Count  # the zoo model under the entry's convention
    alternative: Count | None  # the entry's alternative, when it has one

    @property
    def reproduced(self) -> bool:
        return self.reference.reproduced

    @property
    def explained(self) -> bool:
        """Reproduced, or reproduced by the stated alternative."""
        return self.reference.reproduced or bool(self.alternative and self.alternative.reproduced)


def _readings(value: float, figure: Figure) -> tuple[tuple[Rounding, float], ...]:
    steps = value / figure.quantum
    nearest, down = floor(steps + 0.5), floor(steps)
    ways = {
        Rounding.NEAREST: ((Rounding.NEAREST, nearest),),
        Rounding.DOWN: ((Rounding.DOWN, down),),
        Rounding.UNSTATED: ((Rounding.NEAREST, nearest), (Rounding.DOWN, down)),
    }[figure.rounding]
    return tuple((how, k * figure.quantum) for how, k in ways)


def count(definition: dict, convention: Convention, figure: Figure) -> Count:
    """The definition's analytic count under the convention, read at the figure's precision."""
    value = convention.flops(itemise(analyse(definition)))
    printed = _readings(value, figure)
    target = round(figure.value / figure.quantum)
    return Count(value, printed, any(round(shown / figure.quantum) == target for _, shown in printed))


def verdict(entry: Published, models: dict[str, dict] | None = None) -> Verdict:
    definition = (models or zoo.MODELS)[entry.model]
    if tuple(definition["input"]) != entry.input:
        raise ValueError(
            f"{entry.key}: the figure is published at input {entry.input}, the zoo's {entry.model!r} takes"
            f" {tuple(definition['input'])}"
        )
    reference = count(definition, entry.convention, entry.figure)
    other = entry.alternative
    if other is None:
        return Verdict(entry, reference, None)
    variant = other.variant(definition) if other.variant else definition
    return Verdict(entry, reference, count(variant, other.convention or entry.convention, entry.figure))


def verdicts(models: dict[str, dict] | None = None) -> list[Verdict]:
    """Every published figure whose model the zoo (or `models`) defines, in registry order."""
    known = models or zoo.MODELS
    return [verdict(entry, known) for entry in PUBLISHED if entry.model in known]
