"""One matrix run: cells spread over engines and workers; per cell base -> image -> one container
for the jobs whose results are not already recorded for the same inputs -> results/.

A measurement is keyed by the hash of everything that determines it (the image's inputs, the
probe's code, the model's definition, the job): a job whose key has a record is not run again
unless `force` says so. A cell whose jobs are all recorded needs no image and no container.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import docker
import docker.errors
import requests

from bench import paths
from bench.errors import first_line
from bench.models import big, selection
from bench.probe import catalog, variants, zoo
from bench.progress import Progress, say
from bench.records import results, seal
from bench.run import bases, context, images, runner
from bench.run.bases import BaseUnavailable
from bench.run.cells import Cell
from bench.run.engine import Engine


@dataclass(frozen=True)
class Options:
    results: Path
    base_mode: str = "auto"
    mirror: str | None = None  # None: mmdebstrap's own default
    ca_bundle: Path | None = None
    wheelhouses: tuple[Path, ...] = ()
    limits: runner.Limits = runner.Limits()
    workers: int = 1  # cells at a time on each engine
    force: bool = False  # re-measure jobs whose results are recorded
    registry: str | None = None  # HOST[:PORT][/PREFIX]: pull images built elsewhere, push those built here
    only: frozenset[results.Key] | None = None  # run these of the planned jobs alone (None: all)
    models: dict[str, selection.Model] = field(default_factory=dict)  # by name, where not the zoo's as it is


@dataclass
class Summary:
    counts: dict[str, int] = field(default_factory=lambda: {s: 0 for s in results.STATUSES})
    cached: int = 0
    expected: int = 0  # jobs that failed where cells.toml says they fail: recorded facts, not failures
    built: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    broken: list[str] = field(default_factory=list)  # checks whose claim did not hold
    engine_errors: list[str] = field(default_factory=list)
    fatal: BaseException | None = None  # what stopped a worker and must stop the run (a full disk, say)
    sink: Callable[[dict], None] | None = None  # also given each record written (a Ray node: to its driver)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, status: str) -> None:
        with self.lock:
            self.counts[status] += 1


class Cancelled(Exception):
    """The run was asked to stop (Ctrl-C, SIGTERM): workers finish nothing new."""


def inputs_key(image_inputs: str, key: results.Key, definition: dict | None = None) -> str:
    """The hash of everything that determines one measurement (`definition`: the model's, when it
    is not the zoo's: a user's, or one at another input)."""
    parts = {
        "image_inputs": image_inputs,
        "probe": runner.probe_hash(key.job),
        "definition": zoo.fingerprint(zoo.MODELS[key.model] if definition is None else definition),
        "schema": catalog.COUNT_SCHEMA if key.kind == "count" else catalog.CHECK_SCHEMA,
        "cell": key.cell,
        "kind": key.kind,
        "job": key.job,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def recorded_key(where: Path, key: results.Key, status: str = "ok") -> str:
    """The inputs key of the standing record for `key` (a measurement, or a failure), or "" when there is none."""
    return str(_recorded_host(where, key, status).get("inputs_key", ""))


def _recorded_host(where: Path, key: results.Key, status: str) -> dict:
    try:
        entry = json.loads(key.path(where, status).read_text())
    except (OSError, ValueError):
        return {}
    host = entry.get("host") if isinstance(entry, dict) else None
    return host if isinstance(host, dict) and not seal.edited(entry) else {}  # an edited one is measured again


def shard(cells: list[Cell], index: int, count: int) -> list[Cell]:
    """Shard `index` of `count` (1-based): a stable subset, each cell in exactly one shard, decided
    by its name alone so that adding a cell moves no other."""
    return [c for c in cells if int(hashlib.sha256(c.name.encode()).hexdigest(), 16) % count == index - 1]


def plan(
    cells: list[Cell], names: list[str], chosen: dict[str, selection.Model] | None = None
) -> dict[str, list[results.Key]]:
    """Every job of every cell for every model, but those a model cannot be asked (a Python model's
    counters of a framework it does not build for, checks of code that has no definition, variants whose
    switches change nothing a defined model runs). A model given as code runs every variant: nothing says
    which of its layers a switch changes, and exact, its reference, is measured under each. A library's model
    runs only in the cells that hold its library, and those cells measure nothing else."""
    chosen = chosen or {}

    def runs(cell: Cell, model: str, kind: str, job: str) -> bool:
        if not cell.measures(chosen[model].library if model in chosen else ""):
            return False  # a library's model where the image lacks the library, or the zoo where it measures one
        definition = chosen[model].definition if model in chosen else zoo.MODELS[model]
        code = bool(definition.get("python"))
        if kind == "count" and not (code or variants.runs_on(job, definition, big.is_abstract(definition))):
            return False  # a switch that cannot change what this model runs, or no weights to run it on
        return model not in chosen or chosen[model].runs(kind, job)

    return {
        cell.name: [
            results.Key(cell.name, model, job, kind)
            for model in names
            for kind, job in cell.jobs()
            if runs(cell, model, kind, job)
        ]
        for cell in cells
    }


def run(
    engines: list[Engine],
    cells: list[Cell],
    models: list[str],
    options: Options,
    progress: Progress,
    cancel: threading.Event,
) -> Summary:
    """Every cell once, on whichever engine's worker is free first."""
    summary = Summary()
    keys = planned(cells, models, options)
    pending = by_length(options.results, cells, keys)
    take = threading.Lock()

    def next_cell() -> Cell | None:
        with take:
            return pending.pop(0) if pending and not cancel.is_set() else None

    def worker(engine: Engine) -> None:
        while not engine.broken and (cell := next_cell()) is not None:  # a broken engine leaves cells to others
            if not guarded(engine, cell, keys[cell.name], options, summary, progress, cancel):
                return

    progress.start(sum(len(k) for k in keys.values()))
    threads = [  # engines interleaved, so that each gets a cell before any gets two
        threading.Thread(target=worker, args=(engine,), daemon=True, name=f"{engine.url}#{n}")
        for n in range(options.workers)
        for engine in engines
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive():  # join in short waits, so that signals reach the main thread
            thread.join(0.2)
    if summary.fatal is not None:
        raise summary.fatal
    if cancel.is_set():
        raise Cancelled
    for cell in pending:  # every engine stopped answering before these were taken
        why = "; ".join(sorted({e.broken for e in engines}))
        write_all(options.results, keys[cell.name], "failed", why, "", {}, summary, progress)
    return summary


def planned(cells: list[Cell], models: list[str], options: Options) -> dict[str, list[results.Key]]:
    """The run's jobs by cell: the plan, or those of it that `options.only` names."""
    keys = plan(cells, models, options.models)
    if options.only is not None:
        keys = {cell: [k for k in jobs if k in options.only] for cell, jobs in keys.items()}
    return keys


def by_length(where: Path, cells: list[Cell], keys: dict[str, list[results.Key]]) -> list[Cell]:
    """The cells, the longest first (see _expected_seconds)."""
    return sorted(cells, key=lambda cell: -_expected_seconds(where, keys[cell.name]))


def guarded(
    engine: Engine,
    cell: Cell,
    keys: list[results.Key],
    options: Options,
    summary: Summary,
    progress: Progress,
    cancel: threading.Event,
) -> bool:
    """One cell on one engine (_cell); an engine that stops answering fails the cell's unfinished jobs in one
    line and is marked broken. False when the worker must stop: cancelled, or `summary.fatal` is set."""
    finished: set[results.Key] = set()
    try:
        _cell(engine, cell, keys, options, summary, progress, cancel, finished)
    except Cancelled:
        return False
    except (docker.errors.DockerException, requests.exceptions.RequestException) as error:
        if cancel.is_set():
            return False
        if not engine.broken:
            engine.broken = f"engine {engine.url} stopped answering: {first_line(error)}"
            progress.fail(cell.name, engine.broken)
        with summary.lock:
            summary.engine_errors.append(f"{cell.name}: {engine.broken}")
        left = [k for k in keys if k not in finished]
        try:
            write_all(options.results, left, "failed", engine.broken, "", {}, summary, progress)
        except Exception as fatal:  # handed to the main thread by the caller
            summary.fatal = fatal
            cancel.set()
            return False
    except Exception as error:  # a full disk, say: the main thread raises it
        summary.fatal = error
        cancel.set()
        return False
    return True


def _expected_seconds(where: Path, keys: list[results.Key]) -> float:
    """How long the cell took last time (from its records), so that the longest start first and no
    worker waits alone on a long cell at the end; a cell never measured counts as the longest."""
    total = 0.0
    for key in keys:
        try:
            host = json.loads(key.path(where, "ok").read_text()).get("host") or {}
        except (OSError, ValueError, AttributeError):
            return float("inf")
        total += float(host.get("probe_wall_s", 0)) + float(host.get("probe_startup_s", 0))
    return total


def _cell(
    engine: Engine,
    cell: Cell,
    keys: list[results.Key],
    options: Options,
    summary: Summary,
    progress: Progress,
    cancel: threading.Event,
    finished: set[results.Key],
) -> None:
    host = results.host_provenance(engine.version) | {"engine": engine.url}
    keys = _not_for_this_model(options, keys, host, summary, progress)
    if not keys:
        return
    declared, unavailable = declarations(cell, options.base_mode)
    if not declared:
        say(f"not run: {unavailable}", cell.name)
        write_all(options.results, keys, "not-run", unavailable, "", host, summary, progress)
        return
    chosen = options.models
    wanted = {
        kind: {key: inputs_key(d.inputs_hash, key, _definition(chosen, key.model)) for key in keys}
        for kind, d in declared.items()
    }
    todo = [
        k for k in keys if options.force or not any(_recorded(options.results, k, w[k], cell) for w in wanted.values())
    ]
    if len(todo) < len(keys):
        with summary.lock:
            summary.cached += len(keys) - len(todo)
        progress.advance(len(keys) - len(todo))
    if not todo:
        say(f"all {len(keys)} results recorded for these inputs: nothing to run", cell.name)
        return
    try:
        with _locked(f"image-{engine.url}-{cell.name}"):
            image = _image(engine, cell, declared, options)
    except BaseUnavailable as why:
        say(f"not run: {why}", cell.name)
        write_all(options.results, todo, "not-run", str(why), "", host, summary, progress)
        return
    except images.BuildFailed as failure:
        progress.fail(cell.name, str(failure))
        write_all(options.results, todo, "failed", str(failure), failure.log_tail, host, summary, progress)
        return
    wanted_here = wanted[image.declaration.base.kind]
    with summary.lock:
        (summary.built if image.built else summary.reused).append(cell.name)
    provenance = host | {"image": image.provenance()}
    for group in containers(todo, chosen):
        extra = selection.payload([chosen[name] for name in sorted({k.model for k in group}) if name in chosen])
        for run in runner.run_cell(engine.client, image.tag, cell.name, group, cell.env, options.limits, extra=extra):
            if cancel.is_set():
                raise Cancelled
            predicted = cell.expected(run.key.job, run.key.model)
            expected = predicted or cell.may_fail.get(run.key.job, "")
            surprise = bool(predicted)  # a count where cells.toml predicts a failure
            host = provenance | {"inputs_key": wanted_here[run.key]}
            _record(options.results, run, host, summary, progress, expected, surprise)
            finished.add(run.key)


def containers(keys: list[results.Key], chosen: dict[str, selection.Model]) -> list[list[results.Key]]:
    """The jobs of one cell, split by the container they run in: a user's code (models/<name>.py) runs in
    one of its own, never beside another model's jobs, so that what it does can touch no other record."""
    code = sorted({k.model for k in keys if k.model in chosen and chosen[k.model].definition.get("python")})
    shared = [k for k in keys if k.model not in code]
    return [group for group in [shared, *([k for k in keys if k.model == name] for name in code)] if group]


def declarations(cell: Cell, mode: str) -> tuple[dict[str, context.Declaration], str]:
    """The cell's declared image on each base the mode allows (kind -> declaration, in the order they are
    tried), and why none is, when none is: computed from the repository alone, no engine asked."""
    declared, reasons = {}, []
    for kind in bases.kinds(mode):
        try:
            declared[kind] = context.declare(cell, bases.declare(cell, kind))
        except (BaseUnavailable, context.ContextError) as why:
            reasons.append(f"{kind} base: {why}")
    return declared, "; ".join(reasons)


def _image(engine: Engine, cell: Cell, declared: dict[str, context.Declaration], options: Options) -> images.CellImage:
    """An image made for any allowed base (the engine's, else the registry's), else one built here on
    the first base the engine can have."""
    for declaration in declared.values():
        found = images.find(engine.client, declaration, options.registry)
        if found is not None:
            return found
    with _locked(f"base-{engine.url}"):
        base = engine.bases(options.base_mode, options.mirror).resolve(cell)
    try:
        built = context.assemble(declared[base.kind], options.ca_bundle, list(options.wheelhouses), engine.arch)
    except context.ContextError as error:
        raise images.BuildFailed(f"build not started: {error}", "") from None
    return images.build(engine.client, cell, base, built, options.registry)


def _not_for_this_model(
    options: Options, keys: list[results.Key], host: dict, summary: Summary, progress: Progress
) -> list[results.Key]:
    """Record the jobs that cannot take their model (too big to hold for a counter that needs its
    weights, or for the probe's memory) as not run, with the reason; the keys left to run."""
    left, told = [], set()
    for key in keys:
        model = options.models.get(key.model)
        reason = model.why_not(key.kind, key.job) if model else ""
        definition = model.definition if model else zoo.MODELS[key.model]
        too_big = big.too_big(definition, options.limits.memory)
        if too_big and not reason and key.model not in told:
            say(f"{key.model}: not run: {too_big}", key.cell)  # once per model: every job has the same reason
            told.add(key.model)
        reason = reason or too_big
        if reason:
            write_all(options.results, [key], "not-run", reason, "", host, summary, progress)
        else:
            left.append(key)
    return left


def _definition(chosen: dict[str, selection.Model], name: str) -> dict | None:
    return chosen[name].definition if name in chosen else None


def _recorded(where: Path, key: results.Key, wanted: str, cell: Cell) -> bool:
    """A measurement stands for these inputs, or (for a job expected to fail here) its failure does, when it
    was recorded as expected for today's reason (a failure recorded before cells.toml expected it runs again)."""
    if recorded_key(where, key) == wanted:
        return True
    expected = cell.expected(key.job, key.model) or cell.may_fail.get(key.job, "")
    failure = _recorded_host(where, key, "failed")
    return bool(expected) and failure.get("inputs_key") == wanted and failure.get("expected_failure") == expected


def _record(
    where: Path,
    run: runner.ProbeRun,
    provenance: dict,
    summary: Summary,
    progress: Progress,
    expected: str = "",
    surprise: bool = True,
) -> None:
    key = run.key
    finished = datetime.now(timezone.utc).isoformat(timespec="seconds")
    host = provenance | {"finished_at": finished, "probe_wall_s": run.seconds}
    if run.startup_s:
        host["probe_startup_s"] = run.startup_s  # the container's start and the frameworks' import
    if run.document is None and expected:
        host["expected_failure"] = expected
        _write(where, summary, results.record(key, "failed", reason=run.failure, log_tail=run.log_tail, host=host))
        with summary.lock:
            summary.expected += 1
        progress.done(key.cell, f"{key.model} / {key.job}: failed, as expected ({expected}): {run.failure}")
        return
    if run.document is None:
        progress.fail(key.cell, f"{key.model} / {key.job}: {run.failure}")
        _write(where, summary, results.record(key, "failed", reason=run.failure, log_tail=run.log_tail, host=host))
        summary.add("failed")
        progress.advance()
        return
    if expected and surprise:
        say(f"{key.model} / {key.job}: counted, though cells.toml expects it to fail ({expected})", key.cell)
    _write(where, summary, results.record(key, "ok", probe=run.document, host=host))
    summary.add("ok")
    if run.document.get("holds") is False:
        with summary.lock:
            summary.broken.append(f"{key.cell} {key.model} {key.job}")
    progress.done(key.cell, f"{key.model} / {key.job}: {_verdict(run.document)} ({run.seconds} s)")


def _verdict(doc: dict) -> str:
    if "flops" in doc:
        return f"{doc['flops']:,} FLOPs ({doc['raw_total']:,} {doc['unit']})"
    return "holds" if doc["holds"] else "DOES NOT HOLD"


def write_all(
    where: Path,
    keys: list[results.Key],
    status: str,
    reason: str,
    log_tail: str,
    host: dict,
    summary: Summary,
    progress: Progress,
) -> None:
    for key in keys:
        if not _same_failure(where, key, status, reason):  # a rerun that changed nothing rewrites nothing
            _write(where, summary, results.record(key, status, reason=reason, log_tail=log_tail, host=host))
        summary.add(status)
        progress.advance()


def _write(where: Path, summary: Summary, entry: dict) -> None:
    results.write(where, entry)
    if summary.sink is not None:
        summary.sink(entry)


def _same_failure(where: Path, key: results.Key, status: str, reason: str) -> bool:
    try:
        entry = json.loads(key.path(where, status).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(entry, dict) and entry.get("status") == status and entry.get("reason") == reason


_thread_locks: dict[str, threading.Lock] = {}
_guard = threading.Lock()


@contextmanager
def _locked(name: str) -> Iterator[None]:
    """One holder at a time, across this run's threads and other runs on this host (a file lock):
    two runs that need the same image build it once."""
    safe = hashlib.sha256(name.encode()).hexdigest()[:16]
    with _guard:
        lock = _thread_locks.setdefault(safe, threading.Lock())
    paths.LOCKS.mkdir(parents=True, exist_ok=True)
    with lock, (paths.LOCKS / f"{safe}.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def describe(summary: Summary, seconds: float) -> str:
    counts = ", ".join(f"{n} {status}" for status, n in summary.counts.items() if n)
    if summary.expected:
        counts = ", ".join(filter(None, [counts, f"{summary.expected} failed as expected"]))
    if summary.cached:
        counts = ", ".join(filter(None, [counts, f"{summary.cached} already recorded for the same inputs"]))
    return (
        f"matrix done in {seconds:.1f} s: {counts or 'nothing to do'}; images built: "
        f"{', '.join(summary.built) or 'none'}; reused: {', '.join(summary.reused) or 'none'}"
        + (f"; checks that DO NOT HOLD: {', '.join(summary.broken)}" if summary.broken else "")
        + (f"; engine errors: {'; '.join(summary.engine_errors)}" if summary.engine_errors else "")
    )
