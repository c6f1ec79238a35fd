"""The published rows: one per model x cell x counter, with the number, its explanation and its pins.

Every output of the report (the tables, the CSV and JSON, the charts, the comparison) is drawn
from these rows, so they all say the same thing; the rows hold numbers and evidence, the words are
bench/publish/words.py's. A row is built from a record and, where the
host has a counter adapter for it, that record's reconciliation; nothing here knows a model,
counter or cell by name.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from bench.counters import ADAPTERS
from bench.explain.reconcile import Cause, Pinned, Reason, Reconciliation
from bench.reference.convention import Convention
from bench.reference.formulas import analyse
from bench.run.cells import order_key


@dataclass(frozen=True)
class Layer:
    """One place a counter's total went: a model layer (with its reference) or work outside the model."""

    name: str
    reference: float
    counted: float


@dataclass(frozen=True)
class Failure:
    """Jobs of one cell that gave no number for one reason, and the measurements still standing."""

    cell: str
    status: str  # as recorded: failed, not-run
    reason: str
    jobs: tuple[tuple[str, str], ...]  # (model, job)
    standing: tuple[tuple[str, str], ...]
    expected: str = ""  # why the cell declares this failure expected, if it does


@dataclass(frozen=True)
class Row:
    model: str
    cell: str
    counter: str  # the job that measured it
    tool: str  # the counter tool as installed
    tool_version: str
    framework: str
    framework_version: str
    python: str
    unit: str
    raw_total: int
    flops_per_unit: float  # under the convention when reconciled, else the catalog's
    flops: float
    convention: str
    reference: float | None  # None: no adapter on the host, or an older probe's record
    adjustments: dict[Cause, float]  # every cause -> FLOPs, 0 when none
    residual: float | None
    image_id: str
    image_inputs_hash: str
    base_image: tuple[str, str]  # (kind, reference); ("", "") when the record names none
    project_commit: str
    finished_at: str
    docker_engine: str
    definition_sha256: str
    pins: tuple[str, ...]  # the image's pip freeze
    display: str = ""  # how the report names the tool (the adapter's name), when there is an adapter
    family: str = ""  # the front page's summary column (the adapter's), when there is an adapter
    steps: tuple[tuple[str, int, int], ...] = field(default=(), compare=False)  # (recurrent layer, steps, priced)
    layers: tuple[Layer, ...] = field(default=(), compare=False)
    reasons: tuple[Reason, ...] = field(default=(), compare=False)

    @property
    def key(self) -> tuple[str, str, str]:
        return self.model, self.cell, self.counter

    @property
    def pinned(self) -> Pinned:
        """What the number is pinned to: the column a row is in."""
        return Pinned(
            self.tool, self.tool_version, self.framework, self.framework_version, self.display or self.counter
        )

    @property
    def commit(self) -> str:
        """The project commit, short, still marked when the checkout was dirty."""
        dirty = "+dirty" if self.project_commit.endswith("+dirty") else ""
        return self.project_commit.removesuffix("+dirty")[:12] + dirty

    @property
    def share(self) -> float | None:
        """The total as a fraction of the reference."""
        return self.flops / self.reference if self.reference else None


def build(entry: dict, reconciliation: Reconciliation | None, convention: Convention) -> Row:
    """The row of one ok measurement."""
    probe, host = entry["probe"], entry.get("host") or {}
    prov = probe["provenance"]
    framework = prov.get("framework") or {}
    image = host.get("image") or {}
    base = image.get("base") or {}
    r = reconciliation
    adjustments = dict.fromkeys(Cause, 0.0)
    if r is not None:
        for a in r.adjustments:
            adjustments[a.cause] += a.flops
    adapter = ADAPTERS.get(entry["job"]) or ADAPTERS.get(entry["job"].split("@")[0])  # a run variant: `counter@variant`
    return Row(
        model=entry["model"],
        cell=entry["cell"],
        counter=entry["job"],
        tool=prov["counter_tool"]["name"],
        tool_version=prov["counter_tool"]["version"],
        framework=framework.get("name", ""),
        framework_version=framework.get("version", ""),
        python=prov.get("python", ""),
        unit=probe["unit"],
        raw_total=probe["raw_total"],
        flops_per_unit=r.unit_flops if r else probe["flops_per_unit"],
        flops=r.total if r else probe["flops"],
        convention=convention.name,
        reference=r.reference if r else None,
        adjustments=adjustments,
        residual=r.residual if r else None,
        image_id=image.get("id", ""),
        image_inputs_hash=image.get("inputs_hash", ""),
        base_image=(base.get("kind", ""), base.get("reference", "")) if base else ("", ""),
        project_commit=host.get("project_commit", ""),
        finished_at=host.get("finished_at", ""),
        docker_engine=host.get("docker_engine", ""),
        definition_sha256=probe.get("definition_sha256", ""),
        pins=tuple(prov.get("pip_freeze") or ()),
        display=adapter.tool if adapter else "",
        family=adapter.column if adapter else "",
        steps=tuple((layer, n, r.priced_steps.get(layer, 0)) for layer, n in r.steps.items()) if r else (),
        layers=_layers(r) if r else (),
        reasons=r.reasons() if r else (),
    )


def _layers(r: Reconciliation) -> tuple[Layer, ...]:
    """Where the total went, place by place: each layer's reference plus its adjustments and residual
    (the reconciliation's own terms), then each bucket of work outside the model."""
    costs = analyse(r.definition)
    counted: Counter[str] = Counter()
    for a in r.adjustments:
        counted[a.layer] += a.flops
    for residual in r.residuals:
        counted[residual.place] += residual.flops
    layers = [
        Layer(c.name, r.convention.flops(c.total()), r.convention.flops(c.total()) + counted[c.name]) for c in costs
    ]
    known = {c.name for c in costs}
    layers += [Layer(place, 0.0, flops) for place, flops in counted.items() if place not in known]
    return tuple(layers)


def ordered(rows: list[Row]) -> list[Row]:
    return sorted(rows, key=lambda r: (r.model, order_key(r.cell), r.counter))


def failures(missing: list[dict], measured: set[tuple[str, str, str]]) -> list[Failure]:
    """One group per cell, status and reason: a cell that could not be had fails the same way for
    every model. `measured` holds the (cell, model, job) that have a standing result."""
    groups: dict[tuple[str, str, bool, str, str], list[dict]] = {}
    for e in missing:
        expected = (e.get("host") or {}).get("expected_failure") or ""
        groups.setdefault((e["cell"], e["status"], bool(expected), e["reason"], expected), []).append(e)
    found = []
    for (cell, status, _, reason, expected), group in sorted(
        groups.items(), key=lambda g: (order_key(g[0][0]), g[0][1:])
    ):
        jobs = sorted((e["model"], e["job"]) for e in group)
        standing = [(e["model"], e["job"]) for e in group if (e["cell"], e["model"], e["job"]) in measured]
        found.append(Failure(cell, status, reason, tuple(jobs), tuple(standing), expected))
    return found
