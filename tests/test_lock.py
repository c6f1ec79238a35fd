"""nox -s lock's pure parts: which locks and pin lists there are, the uv command, reading apt's plan."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import paths
from bench.run import cells, lock

APT_PLAN = """NOTE: This is only a simulation!
Inst libexpat1 (2.5.0-1+deb12u5 Debian-Security:12/stable-security [amd64])
Inst python3.11 (3.11.2-6+deb12u9 Debian:12.12/stable [amd64])
Conf python3.11 (3.11.2-6+deb12u9 Debian:12.12/stable [amd64])
"""


def test_every_cells_lock_and_pin_list_is_named_once() -> None:
    locks = lock.python_locks(cells.load())
    assert sorted(p.target.name for p in locks) == sorted(p.name for p in paths.REQUIREMENTS.glob("*.txt"))
    assert all(p.source.is_file() for p in locks)  # each lock has its top-level pins
    pins = lock.debian_pin_lists(cells.load())
    assert sorted(p.target.name for p in pins) == sorted(p.name for p in paths.DEBIAN.glob("*.txt"))


def test_python_2_gets_hashes_for_its_full_list_and_python_3_is_resolved() -> None:
    by_python = {p.python: p for p in lock.python_locks(cells.load())}
    old, new = lock.uv_command(by_python["2.7"], False, []), lock.uv_command(by_python["3.11"], True, ["/w"])
    assert "--no-deps" in old and old[old.index("--python-version") + 1] == "3.6"
    assert "--no-deps" not in new and new[new.index("--python-version") + 1] == "3.11"
    assert "--upgrade" in new and "--upgrade" not in old
    assert new[new.index("--find-links") + 1] == "/w" and "--generate-hashes" in new


def test_apts_plan_becomes_sorted_pins_and_an_empty_one_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pins = lock.DebianPins("bookworm", "3.11")
    assert pins.packages == ("python3.11", "python3-distutils")
    asked = []
    resolved = lock.resolve_debian(pins, lambda suite, script: asked.append((suite, script)) or APT_PLAN)
    assert resolved == ["libexpat1=2.5.0-1+deb12u5", "python3.11=3.11.2-6+deb12u9"]
    assert asked[0][0] == "bookworm" and "python3.11 python3-distutils" in asked[0][1]
    monkeypatch.setattr(paths, "DEBIAN", tmp_path)
    lock.write_debian(pins, resolved)
    assert (tmp_path / "bookworm-python3.11.txt").read_text().splitlines()[1:] == resolved
    with pytest.raises(lock.LockError, match="apt resolved no package"):
        lock.write_debian(pins, lock.resolve_debian(pins, lambda suite, script: "nothing to do\n"))
