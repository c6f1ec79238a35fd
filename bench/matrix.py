"""One matrix run: for each cell, base -> image -> a probe per (model, job) -> results/."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import docker

from bench import context, engine, images, results, runner
from bench.bases import DEFAULT_MIRROR, Bases, BaseUnavailable
from bench.cells import Cell
from bench.progress import say


@dataclass(frozen=True)
class Options:
    results: Path
    base_mode: str = "auto"
    mirror: str = DEFAULT_MIRROR
    ca_bundle: Path | None = None
    wheelhouses: tuple[Path, ...] = ()
    probe_timeout_s: float = 600.0
    memory: str = "4g"


@dataclass
class Summary:
    counts: dict[str, int] = field(default_factory=lambda: {s: 0 for s in results.STATUSES})
    built: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    broken: list[str] = field(default_factory=list)  # checks whose claim did not hold

    def add(self, status: str) -> None:
        self.counts[status] += 1


def run(client: docker.DockerClient, cells: list[Cell], models: list[str], options: Options) -> Summary:
    summary = Summary()
    engine_version = engine.engine_version(client)
    arch = str(client.version().get("Arch", "amd64"))
    bases = Bases(client, options.base_mode, options.mirror)
    for cell in cells:
        keys = [results.Key(cell.name, model, job, kind) for model in models for kind, job in cell.jobs()]
        host = results.host_provenance(engine_version)
        try:
            base = bases.resolve(cell)
        except BaseUnavailable as why:
            say(f"not run: {why}", cell.name)
            _write_all(options.results, keys, "not-run", str(why), "", host, summary)
            continue
        say(f"base: {base.kind} {base.reference}, Python {base.python}", cell.name)
        build_context = context.assemble(cell, base, options.ca_bundle, list(options.wheelhouses), arch)
        try:
            image = images.ensure(client, cell, base, build_context)
        except images.BuildFailed as failure:
            say(f"failed: {failure}", cell.name)
            _write_all(options.results, keys, "failed", str(failure), failure.log_tail, host, summary)
            continue
        (summary.built if image.built else summary.reused).append(cell.name)
        for key in keys:
            _measure(client, cell, image, key, options, engine_version, summary)
    return summary


def _measure(
    client: docker.DockerClient,
    cell: Cell,
    image: images.CellImage,
    key: results.Key,
    options: Options,
    engine_version: str,
    summary: Summary,
) -> None:
    say(f"{key.model} / {key.job}: probing", cell.name)
    run = runner.probe(client, image.tag, key, cell.env, options.probe_timeout_s, options.memory)
    host = results.host_provenance(engine_version) | {"image": image.provenance(), "probe_wall_s": run.seconds}
    if run.document is None:
        say(f"{key.model} / {key.job}: failed: {run.failure}", cell.name)
        _write_all(options.results, [key], "failed", run.failure, run.log_tail, host, summary)
        return
    results.write(options.results, results.record(key, "ok", probe=run.document, host=host))
    summary.add("ok")
    if run.document.get("holds") is False:
        summary.broken.append(f"{key.cell} {key.model} {key.job}")
    say(f"{key.model} / {key.job}: {_verdict(run.document)} ({run.seconds} s)", cell.name)


def _verdict(doc: dict) -> str:
    if "flops" in doc:
        return f"{doc['flops']:,} FLOPs ({doc['raw_total']:,} {doc['unit']})"
    return "holds" if doc["holds"] else "DOES NOT HOLD"


def _write_all(
    where: Path, keys: list[results.Key], status: str, reason: str, log_tail: str, host: dict, summary: Summary
) -> None:
    for key in keys:
        results.write(where, results.record(key, status, reason=reason, log_tail=log_tail, host=host))
        summary.add(status)


def describe(summary: Summary, seconds: float) -> str:
    counts = ", ".join(f"{n} {status}" for status, n in summary.counts.items() if n)
    return (
        f"matrix done in {seconds:.0f} s: {counts or 'nothing to do'}; images built: "
        f"{', '.join(summary.built) or 'none'}; reused: {', '.join(summary.reused) or 'none'}"
        + (f"; checks that DO NOT HOLD: {', '.join(summary.broken)}" if summary.broken else "")
    )
