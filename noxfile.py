"""Sessions: `nox -s matrix`, `nox -s report`, `nox -s tests`, `nox -s lint`. The work lives in bench/."""

import nox

nox.options.sessions = ["lint", "tests"]
nox.options.reuse_existing_virtualenvs = True


@nox.session
def matrix(session: nox.Session) -> None:
    """Build what is missing, run every cell (`-- --cells a,b --models x`), write results/."""
    session.install("-r", "bench/requirements.txt")
    session.run("python", "-m", "bench", "matrix", *session.posargs)


@nox.session
def report(session: nox.Session) -> None:
    """Rewrite results/README.md from the JSON records alone."""
    session.install("-r", "bench/requirements.txt")
    session.run("python", "-m", "bench", "report", *session.posargs)


@nox.session
def tests(session: nox.Session) -> None:
    """Unit tests and real-container integration tests (`-- -m "not docker"` for the quick ones)."""
    session.install("-r", "bench/requirements-dev.txt")
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff==0.17.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
