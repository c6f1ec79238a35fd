"""Where the project keeps things, relative to its checkout."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCKER = ROOT / "docker"
CELLS_FILE = DOCKER / "cells.toml"
REQUIREMENTS = DOCKER / "requirements"
PROBE = ROOT / "bench" / "probe"
SCHEMAS = ROOT / "bench" / "schema"
RESULTS = ROOT / "results"
LOGS = ROOT / ".matrix" / "logs"  # full build logs; results keep only their tails
LOCKS = ROOT / ".matrix" / "locks"  # one file lock per image or base being made, shared by concurrent runs
CHARTS = (
    ROOT / ".matrix" / "charts"
)  # SVGs drawn by the last `nox -s report`, by specification: redrawn only when it changed
