"""Command line: `python -m bench matrix|report`, which the nox sessions call.

Every failure the user can act on ends in one line on stderr and a non-zero exit.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from bench import bases, cells, context, engine, matrix, paths, report
from bench.progress import say
from bench.reference import convention

EXIT_FAILED_CELLS = 1
EXIT_USAGE = 2
EXIT_ENVIRONMENT = 3


def _names(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description="FLOPs Matrix")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("matrix", help="build what is missing, run every cell, write results/ and the report")
    run.add_argument("--cells", type=_names, help="comma-separated cells (default: all)")
    run.add_argument("--models", type=_names, help="comma-separated models (default: all)")
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
    run.add_argument("--probe-timeout", type=float, default=600.0, help="seconds before a probe is stopped")
    run.add_argument("--memory", default="4g", help="memory limit of a probe's container")

    rep = commands.add_parser("report", help="write results/README.md from the JSON under results/")
    rep.add_argument("--results", type=Path, default=paths.RESULTS)
    rep.add_argument(
        "--convention",
        type=convention.parse,
        default=convention.PRESETS["default"],
        help="how the reference prices operations: default, macs, or overrides like mac=1,act:tanh=4",
    )
    return parser


def _wheelhouses(given: list[str]) -> tuple[Path, ...]:
    folders = given or os.environ.get("PIP_FIND_LINKS", "").split()
    return tuple(Path(f) for f in folders if Path(f).is_dir())


def _matrix(args: argparse.Namespace) -> int:
    selected = cells.pick(cells.load(), args.cells)
    models = cells.pick_models(args.models)
    options = matrix.Options(
        results=args.results,
        base_mode=args.base,
        mirror=args.debian_mirror,
        ca_bundle=context.ca_bundle_from_env(args.ca_bundle),
        wheelhouses=_wheelhouses(args.wheelhouse),
        probe_timeout_s=args.probe_timeout,
        memory=args.memory,
    )
    client = engine.connect()
    started = time.monotonic()
    summary = matrix.run(client, selected, models, options)
    say(matrix.describe(summary, time.monotonic() - started))
    say(f"report: {report.write(args.results)}")
    return EXIT_FAILED_CELLS if summary.counts["failed"] or summary.broken else 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "matrix":
            return _matrix(args)
        say(f"report: {report.write(args.results, args.convention)}")
        return 0
    except (cells.CellError, FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except engine.EngineUnavailable as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_ENVIRONMENT
    except KeyboardInterrupt:
        print("error: interrupted; results written so far are kept", file=sys.stderr)
        return 130
