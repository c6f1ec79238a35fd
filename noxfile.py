"""Sessions: `nox -s matrix`, `nox -s count`, `nox -s report`, `nox -s tests`, `nox -s lint`, `nox -s perf`,
`nox -s lock`, `nox -s lookup`.
The work lives in bench/."""

import hashlib
from pathlib import Path

import nox

nox.options.sessions = ["lint", "tests"]
nox.options.reuse_existing_virtualenvs = True


def _install(session: nox.Session, requirements: str) -> None:
    """pip only when the pins changed: a rerun with nothing to do should not pay for an install."""
    digest = hashlib.sha256()
    for name in sorted(Path("bench").glob("requirements*.txt")):
        digest.update(name.read_bytes())
    stamp = Path(session.virtualenv.location) / ".requirements.sha256"
    if stamp.is_file() and stamp.read_text() == f"{requirements} {digest.hexdigest()}":
        return
    session.install("-r", requirements)
    stamp.write_text(f"{requirements} {digest.hexdigest()}")


@nox.session
def matrix(session: nox.Session) -> None:
    """Build what is missing, run what is not recorded (`-- --cells a,b --models x --force`), write results/."""
    _install(session, "bench/requirements.txt")
    session.run("python", "-m", "bench", "matrix", *session.posargs)


@nox.session
def count(session: nox.Session) -> None:
    """One model of yours, every counter against the exact count: `-- path/to/model.py [--cells a,b]`."""
    _install(session, "bench/requirements.txt")
    session.run("python", "-m", "bench", "count", *session.posargs)


@nox.session
def report(session: nox.Session) -> None:
    """Rewrite results/ (the front page, model pages, site, flops.csv/json, charts) from the JSON records alone;
    `-- --compare OLD_RESULTS_DIR` prints what changed instead."""
    _install(session, "bench/requirements.txt")
    session.run("python", "-m", "bench", "report", *session.posargs)


@nox.session
def tests(session: nox.Session) -> None:
    """Unit tests and real-container integration tests (`-- -m "not docker"` for the quick ones)."""
    _install(session, "bench/requirements-dev.txt")
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff==0.17.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def lock(session: nox.Session) -> None:
    """Resolve docker/requirements/*.in into hash locks (uv) and pin each local base's Debian packages
    (`-- --upgrade`: the newest the pins and the archive allow; then compare with `nox -s report -- --compare`)."""
    _install(session, "bench/requirements.txt")
    session.install("uv==0.13.9")
    session.run("python", "-m", "bench.run.lock", *session.posargs)


@nox.session
def perf(session: nox.Session) -> None:
    """The speed benchmark (bench/perf.py): figures to .matrix/perf.json."""
    _install(session, "bench/requirements.txt")
    session.run("python", "-m", "bench.perf", *session.posargs)


@nox.session
def lookup(session: nox.Session) -> None:
    """One model's numbers from its records, as a table: `-- MODEL [COUNTER]` (e.g. `-- seed thop`)."""
    _install(session, "bench/requirements.txt")
    session.run("python", "-m", "bench.publish.lookup", *session.posargs)
