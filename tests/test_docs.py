"""The README and docs/ against today's code: every counter and cell of the catalog is named in docs/,
every file path they name exists, the README stays short, and the lines of the front table it quotes are
the front page's own."""

from __future__ import annotations

import re
from pathlib import Path

from bench import paths
from bench.probe import catalog
from bench.run import cells

DOCS = sorted((paths.ROOT / "docs").glob("*.md"))
README = paths.ROOT / "README.md"
# a path in backticks or a link target: top-level folders of the repository, with a file or folder after
_PATH = re.compile(r"(?:`|\]\()((?:\.\./)?(?:bench|docker|docs|models|results|tests|\.ci)/[A-Za-z0-9_./<>-]*)")


def named_paths(text: str) -> set[str]:
    """File paths a page names (templates such as `results/<cell>/<model>/` are not files)."""
    return {m.rstrip(".") for m in _PATH.findall(text) if "<" not in m and "*" not in m}


def missing_paths(page: Path, text: str) -> set[str]:
    found = set()
    for name in named_paths(text):
        relative = page.parent / name if name.startswith("../") else paths.ROOT / name
        if not relative.exists():
            found.add(name)
    return found


def unnamed(text: str) -> set[str]:
    """The catalog's counters and the cells file's cells that the text never names in backticks."""
    named = set(re.findall(r"`([A-Za-z0-9.@_-]+)`", text))
    return (set(catalog.COUNTERS) | set(cells.load())) - named


def docs_text() -> str:
    return "\n".join(page.read_text() for page in DOCS)


def test_every_counter_and_cell_is_named_in_the_docs() -> None:
    assert DOCS
    assert unnamed(docs_text()) == set()


def test_a_counter_or_cell_the_docs_do_not_name_is_seen() -> None:
    text = docs_text()
    assert unnamed(text.replace("`torchprofile`", "torchprofile")) == {"torchprofile"}
    assert unnamed(text.replace("`keras3-jax`", "keras3-jax")) == {"keras3-jax"}


def test_every_path_the_readme_and_the_docs_name_exists() -> None:
    for page in [README, *DOCS]:
        assert missing_paths(page, page.read_text()) == set(), page.name


def test_a_path_that_does_not_exist_is_seen() -> None:
    page = paths.ROOT / "docs" / "operations.md"
    text = page.read_text() + "\nSee `bench/no_such_module.py` and [there](../docker/nothing.sh).\n"
    assert missing_paths(page, text) == {"bench/no_such_module.py", "../docker/nothing.sh"}


def test_the_readme_is_short_and_keeps_its_two_commands_first() -> None:
    lines = README.read_text().splitlines()
    assert len(lines) <= 200
    commands = [line.split("#")[0].strip() for line in lines[:6] if line.startswith("sh ")]
    assert commands == ["sh docker/setup-host.sh && nox -s matrix", "sh docker/setup-host.sh && nox -s tests"]
    assert "## A fresh machine" in lines


def quoted_rows(readme: str) -> list[str]:
    """The table lines the README quotes in "What it answers"."""
    section = readme.split("## What it answers", 1)[1].split("\n## ", 1)[0]
    return [line for line in section.splitlines() if line.startswith("|")]


def test_the_front_table_the_readme_quotes_is_the_front_pages_own() -> None:
    front = (paths.RESULTS / "README.md").read_text().splitlines()
    quoted = quoted_rows(README.read_text())
    assert len(quoted) >= 3
    assert [line for line in quoted if line not in front] == []
    edited = quoted[2].replace("%", "0%", 1)  # the twin: a number that is not the front page's
    assert edited not in front
