"""`nox -s lock`: the images' pins, made from short lists by tools that know how.

- Python: each `docker/requirements/<name>.in` (top-level pins) becomes `<name>.txt`, the lock with
  hashes the image installs with `--require-hashes`, resolved by `uv pip compile` for the cell's
  Python. uv resolves for Python 3.6 and newer only: for older Pythons the `.in` lists every package
  and uv only adds the hashes (`--no-deps`). Versions already in a lock are kept unless `--upgrade`.
- Debian: each local base's packages (`docker/debian/<suite>-python<version>.txt`, name=version), as
  apt resolves `python<version>` in a container of that base today. Kept unless `--upgrade`.

Mirrors come from the user: uv reads UV_INDEX_URL / UV_DEFAULT_INDEX, and the wheel folders of
PIP_FIND_LINKS are offered to it (torch's CPU build lies in one here).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench import paths
from bench.run import cells

PLATFORM = "x86_64-manylinux_2_28"  # the images' machine; a lock holds every file's hash, any platform
OLDEST_RESOLVED = (3, 6)  # uv resolves for this Python and newer


class LockError(RuntimeError):
    """A lock or a pin list could not be made; the message says which and why."""


@dataclass(frozen=True)
class PythonLock:
    source: Path  # the .in
    target: Path  # the .txt
    python: str


@dataclass(frozen=True)
class DebianPins:
    suite: str
    python: str

    @property
    def target(self) -> Path:
        return debian_pins_file(self.suite, self.python)

    @property
    def packages(self) -> tuple[str, ...]:
        """What the image asks apt for (apt adds what these need): the interpreter, and for Python 3 the
        distutils Debian splits off (pip and old setuptools import it)."""
        return (f"python{self.python}",) + (("python3-distutils",) if self.python.startswith("3.") else ())


def debian_pins_file(suite: str, python: str) -> Path:
    return paths.DEBIAN / f"{suite}-python{python}.txt"


def python_locks(defined: dict[str, cells.Cell]) -> list[PythonLock]:
    """One lock per requirements file any cell's base names, with the Python that base has."""
    found: dict[str, PythonLock] = {}
    for cell in defined.values():
        for base in (cell.registry, cell.local):
            if base.unavailable:
                continue
            target = paths.REQUIREMENTS / base.requirements
            found.setdefault(target.name, PythonLock(target.with_suffix(".in"), target, base.python))
    return [found[name] for name in sorted(found)]


def debian_pin_lists(defined: dict[str, cells.Cell]) -> list[DebianPins]:
    wanted = {DebianPins(c.local.suite, c.local.python) for c in defined.values() if not c.local.unavailable}
    return sorted(wanted, key=lambda p: (p.suite, p.python))


def uv_command(lock: PythonLock, upgrade: bool, find_links: list[str]) -> list[str]:
    version = tuple(int(p) for p in lock.python.split(".")[:2])
    command = [
        "uv",
        "pip",
        "compile",
        str(lock.source.relative_to(paths.ROOT)),
        "--output-file",
        str(lock.target.relative_to(paths.ROOT)),
        "--generate-hashes",
        "--python-platform",
        PLATFORM,
        "--custom-compile-command",
        "nox -s lock",
        "--quiet",
    ]
    if version < OLDEST_RESOLVED:  # uv refuses to resolve for it: hashes for the listed versions only
        command += ["--python-version", ".".join(map(str, OLDEST_RESOLVED)), "--no-deps"]
    else:
        command += ["--python-version", lock.python]
    if upgrade:
        command.append("--upgrade")
    for folder in find_links:
        command += ["--find-links", folder]
    return command


def lock_python(lock: PythonLock, upgrade: bool, find_links: list[str]) -> None:
    if not lock.source.is_file():
        raise LockError(f"{lock.source.relative_to(paths.ROOT)} is missing: write the top-level pins there")
    if shutil.which("uv") is None:
        raise LockError("uv is not installed (nox -s lock installs it)")
    run = subprocess.run(uv_command(lock, upgrade, find_links), cwd=paths.ROOT, capture_output=True, text=True)
    if run.returncode != 0:
        tail = " | ".join(line for line in run.stderr.strip().splitlines()[-4:] if line.strip())
        raise LockError(f"{lock.source.name}: uv pip compile failed (exit {run.returncode}): {tail}")


RunIn = Callable[[str, str], str]  # (Debian suite, shell script) -> what it printed, run in that base


def resolve_debian(pins: DebianPins, run_in: RunIn) -> list[str]:
    """name=version of every package apt installs for the pin list's packages, on the base today."""
    script = "apt-get update -q >/dev/null && apt-get install -s -q --no-install-recommends " + " ".join(pins.packages)
    out = run_in(pins.suite, script)
    return sorted(f"{name}={version}" for name, version in re.findall(r"^Inst (\S+) \((\S+) ", out, re.M))


def write_debian(pins: DebianPins, resolved: list[str]) -> None:
    if not resolved:
        raise LockError(f"{pins.suite}: apt resolved no package for {' '.join(pins.packages)}")
    header = (
        f"# Debian {pins.suite}'s packages for Python {pins.python} (asked for: {' '.join(pins.packages)}),"
        " pinned: nox -s lock -- --upgrade refreshes them.\n"
    )
    pins.target.parent.mkdir(parents=True, exist_ok=True)
    pins.target.write_text(header + "".join(line + "\n" for line in resolved))


def _container_runner() -> RunIn:
    import docker  # the host's engine makes the bases and runs apt in them

    from bench.run.bases import DEFAULT_MIRROR, Bases

    client = docker.from_env(timeout=600)
    bases = Bases(client, "local", DEFAULT_MIRROR)

    def run_in(suite: str, script: str) -> str:
        image = bases.local_image(suite)
        output = client.containers.run(image, ["sh", "-c", script], remove=True, stderr=True)
        return output.decode("utf-8", "replace")

    return run_in


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="nox -s lock --", description=__doc__.splitlines()[0])
    parser.add_argument("--upgrade", action="store_true", help="take the newest versions the pins and archive allow")
    parser.add_argument("--python-only", action="store_true", help="leave the Debian pins as they are")
    args = parser.parse_args(argv)
    try:
        defined = cells.load()
        find_links = [f for f in os.environ.get("PIP_FIND_LINKS", "").split() if f]
        for lock in python_locks(defined):
            print(f"lock: {lock.target.relative_to(paths.ROOT)} (Python {lock.python})", file=sys.stderr)
            lock_python(lock, args.upgrade, find_links)
        if not args.python_only:
            run_in: RunIn | None = None
            for pins in debian_pin_lists(defined):
                if pins.target.is_file() and not args.upgrade:
                    continue
                run_in = run_in or _container_runner()
                print(f"lock: {pins.target.relative_to(paths.ROOT)}", file=sys.stderr)
                write_debian(pins, resolve_debian(pins, run_in))
    except (LockError, cells.CellError) as error:
        print(f"lock: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
