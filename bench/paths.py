"""Where the project keeps things, relative to its checkout."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCKER = ROOT / "docker"
CELLS_FILE = DOCKER / "cells.toml"
REQUIREMENTS = DOCKER / "requirements"
DEBIAN = DOCKER / "debian"  # the Debian packages each local base installs, pinned (bench/run/lock.py)
BOOTSTRAP = ROOT / ".matrix" / "bootstrap"  # PyPI's pip wheels the images bootstrap pip from
PROBE = ROOT / "bench" / "probe"
SCHEMAS = ROOT / "bench" / "schema"
RESULTS = ROOT / "results"
MODELS = ROOT / "models"  # the user's own models (bench/models/selection.py)
LOGS = ROOT / ".matrix" / "logs"  # full build logs; results keep only their tails
LOCKS = ROOT / ".matrix" / "locks"  # one file lock per image or base being made, shared by concurrent runs
CHARTS = (
    ROOT / ".matrix" / "charts"
)  # SVGs drawn by the last `nox -s report`, by specification: redrawn only when it changed
