"""Command line: `python -m bench matrix|report`, which the nox sessions call.

Every failure the user can act on ends in one line on stderr and a non-zero exit. Bad input is
refused before any engine is contacted or anything is built or written.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import signal
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import NoReturn

from rich.console import Console

from bench import paths
from bench.explain import peers, rows
from bench.models import big, selection
from bench.probe import zoo
from bench.progress import Progress, say
from bench.publish import charts, compare, counted, report, stamp
from bench.records import results, seal
from bench.records.memo import Memo
from bench.reference import convention
from bench.reference.convention import Convention
from bench.run import bases, cells, cluster, context, engine, images, matrix, runner, verify

EXIT_FAILED_CELLS = 1
EXIT_USAGE = 2
EXIT_ENVIRONMENT = 3
EXIT_UNWRITABLE = 4

CELLS_FILE_VARIABLE = "FLOPS_MATRIX_CELLS_FILE"
MIN_MEMORY = 64 * 1024**2  # below this no framework even imports; docker itself would take 6m
_SIZE = re.compile(r"(\d+)([bkmg]?)", re.IGNORECASE)

MATRIX_EPILOG = f"""environment:
  {CELLS_FILE_VARIABLE}  read the cells from this TOML file instead of docker/cells.toml
  PIP_FIND_LINKS, SSL_CERT_FILE, PIP_CERT, DOCKER_HOST  as described in the README

exit codes: 0 done; 1 a cell failed or a check did not hold; 2 bad input; 3 no Docker engine;
  4 an output could not be written"""


class _Parser(argparse.ArgumentParser):
    """argparse's refusals in one line, like every other error (it prints its usage first otherwise)."""

    def error(self, message: str) -> NoReturn:
        print(f"error: {' '.join(message.split())}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def _names(text: str) -> list[str]:
    """A comma-separated list that names something: an empty one would silently mean `all`."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"the list {text!r} is empty: name at least one, or leave the option out")
    return names


def _memory(text: str) -> str:
    """A Docker memory size: digits with an optional b, k, m or g suffix, and room for a framework."""
    match = _SIZE.fullmatch(text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a Docker memory size (digits, then b, k, m or g; e.g. 4g)")
    if big.memory_bytes(match[0]) < MIN_MEMORY:
        raise argparse.ArgumentTypeError(f"{text!r} is below the minimum of {MIN_MEMORY // 1024**2}m")
    return match[0].lower()


def _seconds(text: str) -> float:
    """A timeout: a finite number of seconds above 0 (0, nan or inf would never or always stop a probe), and
    at most a day (1e308 would overflow every deadline computed from it)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be a finite number of seconds above 0")
    if value > runner.MAX_TIMEOUT_S:
        raise argparse.ArgumentTypeError(f"{text!r} is more than {runner.MAX_TIMEOUT_S:g} seconds (a day)")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be 1 or more")
    return value


def _shape(text: str) -> tuple[str, tuple[int, ...]]:
    try:
        return selection.parse_shape(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _shard(text: str) -> tuple[int, int]:
    """`i/n`: the i-th of n stable subsets of the cells, 1 <= i <= n."""
    match = re.fullmatch(r"(\d+)/(\d+)", text.strip())
    if match is None or not 1 <= int(match[1]) <= int(match[2]):
        raise argparse.ArgumentTypeError(f"{text!r} is not a shard i/n with 1 <= i <= n (e.g. 2/3)")
    return int(match[1]), int(match[2])


def _cpus(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of CPUs above 0 (e.g. 1.5)")
    return value


def _registry(text: str) -> str:
    try:
        return images.check_registry(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _engine(text: str) -> str:
    if not text.startswith(engine.SCHEMES):
        raise argparse.ArgumentTypeError(f"{text!r} is not an engine URL ({', '.join(engine.SCHEMES)}...)")
    return text


def _run_options(run: argparse.ArgumentParser, sizes: bool = True) -> None:
    """The options of a run, shared by `matrix` and `count` (`sizes`: --batch and --shape, for named models)."""
    run.add_argument(
        "--cells",
        type=_names,
        help=f"comma-separated cells of docker/cells.toml or ${CELLS_FILE_VARIABLE} (default: all)",
    )
    if sizes:
        run.add_argument(
            "--batch", type=_count, help="measure every model at this batch size (recorded as <model>@<input shape>)"
        )
        run.add_argument(
            "--shape",
            type=_shape,
            action="append",
            default=[],
            metavar="MODEL=DIMS",
            help="measure MODEL at this whole input shape, batch first (e.g. seed-conv=1x1x64x128; repeatable)",
        )
    run.add_argument(
        "--base",
        choices=bases.MODES,
        default="auto",
        help="registry python:X-slim images, local Debian bootstraps, or the registry where it answers",
    )
    run.add_argument("--debian-mirror", default=bases.DEFAULT_MIRROR, help="mirror for local bases")
    run.add_argument("--ca-bundle", help="CA bundle pip trusts in builds (default: $SSL_CERT_FILE, then $PIP_CERT)")
    run.add_argument(
        "--wheelhouse",
        action="append",
        default=[],
        help="folder of wheels to prefer to PyPI (repeatable; default: the folders in $PIP_FIND_LINKS)",
    )
    run.add_argument("--results", type=Path, default=paths.RESULTS)
    run.add_argument(
        "--probe-timeout",
        type=_seconds,
        default=600.0,
        help="seconds before a job is stopped (above 0, at most a day)",
    )
    run.add_argument(
        "--memory", type=_memory, default="8g", help="memory limit of a probe's container (e.g. 4g; at least 64m)"
    )
    run.add_argument("--cpus", type=_cpus, default=2.0, help="CPU limit of a probe's container (default 2)")
    run.add_argument(
        "--jobs",
        type=_count,
        default=os.cpu_count() or 1,
        help="cells built and run at a time on each engine (default: this machine's cores)",
    )
    run.add_argument("--force", action="store_true", help="re-measure jobs already recorded for the same inputs")
    run.add_argument(
        "--engine",
        type=_engine,
        action="append",
        default=[],
        metavar="URL",
        help="a Docker engine to spread cells over (repeatable: unix://, tcp:// with TLS, ssh://; default: DOCKER_HOST"
        " or the local socket)",
    )
    run.add_argument(
        "--ray",
        metavar="ADDRESS",
        help="run the cells on this Ray cluster (HOST:PORT, or auto) instead of here: each node runs its share on"
        f" the Docker engine it was started with (DOCKER_HOST) and offers it as the resource {cluster.RESOURCE}:N"
        " (N cells at a time; --jobs and --engine do not apply); the records come back to --results",
    )
    run.add_argument("--shard", type=_shard, help="run the i-th of n stable subsets of the cells (i/n), for CI jobs")
    run.add_argument(
        "--registry",
        type=_registry,
        metavar="HOST[:PORT][/PREFIX]",
        help="pull each cell's image from this registry (tagged by its inputs hash) instead of building it, and"
        " push the images built here",
    )


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m bench", description="FLOPs Matrix")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser(
        "matrix",
        help="build what is missing, run every cell, write results/ and the report",
        epilog=MATRIX_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument(
        "--models",
        type=_names,
        help="comma-separated models: the zoo's, a library's as library:name (torchvision:resnet50, timm:*; cells"
        " that hold the library measure them), or yours in --models-dir as <name>.toml or <name>.py (default:"
        " the zoo's)",
    )
    run.add_argument("--models-dir", type=Path, default=paths.MODELS, help="where your models are (default: models/)")
    run.add_argument(
        "--verify",
        type=_count,
        metavar="N",
        help="re-measure N recorded jobs drawn at random (into a scratch folder: results/ is not touched) and fail"
        " naming any number that differs",
    )
    run.add_argument("--seed", type=int, help="the seed --verify draws with (default: a new one, printed)")

    _run_options(run)
    count = commands.add_parser(
        "count",
        help="count one model of yours (a Python file) by every counter of every cell its frameworks allow, against"
        " the exact count",
    )
    count.add_argument(
        "file", type=Path, help="a Python file defining torch_model() and/or keras_model() (see models/mine_code.py)"
    )
    _run_options(count, sizes=False)
    rep = commands.add_parser("report", help="write results/README.md from the JSON under results/")
    rep.add_argument("--results", type=Path, default=paths.RESULTS)
    rep.add_argument(
        "--convention",
        type=convention.parse,
        default=convention.PRESETS["default"],
        help="how the reference prices operations: default, macs, or overrides like mac=1,act:tanh=4",
    )
    rep.add_argument(
        "--compare",
        type=Path,
        metavar="OLD_RESULTS_DIR",
        help="print what changed from an older results folder to --results (per model and counter); writes nothing",
    )
    return parser


def cells_file() -> Path:
    """docker/cells.toml, or the file $FLOPS_MATRIX_CELLS_FILE names (for trying out a cell, and for tests)."""
    return Path(os.environ.get(CELLS_FILE_VARIABLE) or paths.CELLS_FILE)


def _wheelhouses(given: list[str]) -> tuple[Path, ...]:
    folders = given or os.environ.get("PIP_FIND_LINKS", "").split()
    return tuple(Path(f) for f in folders if Path(f).is_dir())


def _report(where: Path, used: Convention = convention.PRESETS["default"], if_changed: bool = False) -> None:
    """Rewrite the report (`if_changed`: only when its records or code changed since it was written); each
    record it had to leave out is one line on stderr, and no failure. A folder it cannot write to is
    refused before any work."""
    results.ensure_writable(where)
    results.ensure_writable(where / report.CHARTS)
    inputs = stamp.digest(where, str(used))
    if if_changed and stamp.current(where) == inputs:
        say(f"report: {where} is up to date (no record and no report code changed since it was written)")
        return
    path, problems = report.write(where, used, charts.Cache(paths.CHARTS), Memo(paths.ROOT / ".matrix"))
    stamp.write(where, inputs)
    for problem in problems:
        print(f"warning: left out {where / problem.path}: {problem.reason}", file=sys.stderr)
    plural = "s" * (len(problems) != 1)
    say(f"report: {path}" + (f" ({len(problems)} unreadable or invalid record{plural} left out)" if problems else ""))


def _matrix(args: argparse.Namespace) -> int:
    if args.ray and args.engine:
        raise ValueError("--ray and --engine: choose one (a Ray node runs cells on the engine it was started with)")
    selected = cells.pick(cells.load(cells_file()), args.cells)
    if args.shard:
        selected = matrix.shard(selected, *args.shard)
    shapes = dict(args.shape)
    if len(shapes) != len(args.shape):
        raise ValueError("--shape names a model twice")
    chosen = selection.select(selection.Request(args.models, args.batch, shapes, args.models_dir))
    options = matrix.Options(
        results=args.results,
        base_mode=args.base,
        mirror=args.debian_mirror,
        ca_bundle=context.ca_bundle_from_env(args.ca_bundle),
        wheelhouses=_wheelhouses(args.wheelhouse),
        limits=runner.Limits(timeout_s=args.probe_timeout, memory=args.memory, cpus=args.cpus),
        workers=args.jobs,
        force=args.force,
        models={model.name: model for model in chosen},
        registry=args.registry,
    )
    if args.verify:
        return _verify(args, selected, [m.name for m in chosen], options)
    results.ensure_writable(args.results)
    if results.project_commit().endswith(results.DIRTY):
        say(
            "warning: the checkout differs from its commit outside results/: what is measured now is recorded as"
            f" from a dirty tree ({results.DIRTY}) and marked so in the report; commit first to publish it"
        )
    progress, cancel = Progress(), threading.Event()
    started = time.monotonic()
    try:
        summary = _spread(args, selected, [m.name for m in chosen], options, progress, cancel)
    except BaseException:
        cancel.set()
        runner.stop_all()  # the records stay; the report is rewritten by the next run or `nox -s report`
        raise
    finally:
        progress.stop()
    say(matrix.describe(summary, time.monotonic() - started))
    _report(args.results, if_changed=True)
    return EXIT_FAILED_CELLS if summary.counts["failed"] or summary.broken else 0


def _spread(
    args: argparse.Namespace,
    selected: list,
    names: list[str],
    options: matrix.Options,
    progress: Progress,
    cancel: threading.Event,
) -> matrix.Summary:
    """The cells over a Ray cluster's nodes (--ray), else over this host's engines (--engine) and workers."""
    if args.ray:
        return cluster.run(args.ray, selected, names, options, progress, cancel)
    engines = engine.engines(args.engine)
    for each in engines:
        removed = runner.remove_leftovers(each.client)
        if removed:
            say(f"removed {removed} probe container(s) an interrupted run left on {each.url}")
    return matrix.run(engines, selected, names, options, progress, cancel)


def _count_file(args: argparse.Namespace) -> int:
    """Every counter of every cell the file's frameworks allow (the matrix, for this one model), then its
    counts against the exact count: on the terminal, and as markdown and CSV beside the results."""
    path, name = args.file, args.file.stem
    if path.suffix != ".py" or not path.is_file():
        raise ValueError(f"{path}: not a Python file (one defining torch_model() and/or keras_model())")
    if name in zoo.MODELS or name in big.MODELS:
        raise ValueError(f"{path}: {name} is a model of the zoo's; name your file otherwise")
    args.models, args.models_dir, args.verify, args.batch, args.shape = [name], path.parent, None, None, []
    status = _matrix(args)
    memo = Memo(paths.ROOT / ".matrix")
    entries, _ = seal.split(results.load(args.results, memo, model=name).records, args.results)
    ok = [e for e in entries if e["status"] == "ok" and e["kind"] == "count"]
    found = peers.compare(ok)
    failed = rows.failures(
        [e for e in entries if e["status"] != "ok" and e["kind"] == "count"], {(e["cell"], name, e["job"]) for e in ok}
    )
    console = Console(highlight=False)
    if not console.is_terminal:
        console.width = max(console.width, 160)
    console.print(counted.terminal(name, found, failed))
    md, sheet = counted.write(args.results, name, found, failed)
    say(f"count: {md} and {sheet}")
    return status


LATER = " (the report: by the next run, or nox -s report)"


def _verify(args: argparse.Namespace, selected: list, names: list[str], options: matrix.Options) -> int:
    """Re-measure a seeded random draw of recorded jobs in a scratch folder; 1 when any number differs."""
    seed = args.seed if args.seed is not None else verify.new_seed()
    drawn = verify.draw(options.results, matrix.plan(selected, names, options.models), args.verify, seed)
    say(f"verify: re-measuring {len(drawn)} recorded job(s) drawn with --seed {seed}")
    if not drawn:
        raise ValueError("verify: no recorded measurement among the chosen cells and models to draw from")
    with tempfile.TemporaryDirectory(prefix="flops-matrix-verify-") as scratch:
        again = replace(options, results=Path(scratch), force=True, only=frozenset(drawn))
        progress, cancel = Progress(), threading.Event()
        try:
            _spread(args, selected, names, again, progress, cancel)
        finally:
            progress.stop()
        differences = verify.differences(options.results, Path(scratch), drawn)
    for line in differences:
        print(f"verify: {line}", file=sys.stderr)
    say(f"verify: {len(drawn) - len(differences)} of {len(drawn)} give the recorded numbers (--seed {seed})")
    return EXIT_FAILED_CELLS if differences else 0


class Stopped(Exception):
    """SIGTERM (what CI cancellation and `timeout` send), handled like Ctrl-C."""


def _stop(signum: int, _frame: object) -> None:
    raise Stopped(signal.Signals(signum).name)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _stop)
    try:
        if args.command == "matrix":
            return _matrix(args)
        if args.command == "count":
            return _count_file(args)
        if args.compare is not None:
            old = compare.rows_of(args.compare, args.convention)
            print(compare.compare(old, compare.rows_of(args.results, args.convention)), end="")
            return 0
        _report(args.results, args.convention)
        return 0
    except results.Unwritable as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_UNWRITABLE
    except (cells.CellError, FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except engine.EngineUnavailable as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_ENVIRONMENT
    except Stopped as stop:
        print(f"error: stopped by {stop}; results written so far are kept{LATER}", file=sys.stderr)
        return 128 + signal.SIGTERM
    except (KeyboardInterrupt, matrix.Cancelled):
        print(f"error: interrupted; results written so far are kept{LATER}", file=sys.stderr)
        return 130
