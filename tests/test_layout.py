"""The layout of bench/ shows the flow: every module imports only from its own layer or the layers
below it (cli/perf > publish > explain > run > records > models > counters > reference > probe >
paths/errors/progress), read from the sources' import statements, lazy ones too. The longest chain
of imports (`floors`) is what a reader has to hold in mind to follow one module down to the bottom."""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

from bench import paths

# top to bottom; a module's layer is its first name under bench/ (the package itself is at the bottom)
LAYERS: tuple[tuple[str, ...], ...] = (
    ("cli", "perf", "__main__"),
    ("publish",),
    ("explain",),
    ("run",),
    ("records",),
    ("models",),
    ("counters",),
    ("reference",),
    ("probe",),
    ("paths", "errors", "progress", "__init__"),
)
_RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}


def module_name(path: Path, root: Path) -> str:
    """bench/explain/rows.py -> bench.explain.rows; bench/probe/__init__.py -> bench.probe."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" and len(parts) > 1 else parts)


def sources(root: Path = paths.ROOT) -> dict[str, str]:
    """Every module under bench/, by name."""
    return {module_name(p, root): p.read_text() for p in sorted((root / "bench").rglob("*.py"))}


def imports(source: str, known: set[str]) -> set[str]:
    """The bench modules a source imports, anywhere in it: `from bench.x import y` is bench.x.y where
    that is a module, else bench.x."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.split(".")[0] == "bench"}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == "bench":
            for alias in node.names:
                inner = f"{node.module}.{alias.name}"
                found.add(inner if inner in known else node.module)
    return found & known


def graph(modules: dict[str, str]) -> dict[str, set[str]]:
    """Module -> the bench modules it imports (itself left out)."""
    known = set(modules)
    return {name: imports(source, known) - {name} for name, source in modules.items()}


def layer(module: str) -> int:
    parts = module.split(".")
    return _RANK[parts[1] if len(parts) > 1 else "__init__"]


def upward(modules: dict[str, str]) -> list[tuple[str, str]]:
    """Each (importer, imported) where the imported module sits in a higher layer than the importer."""
    return sorted((a, b) for a, found in graph(modules).items() for b in found if layer(b) < layer(a))


def chain(modules: dict[str, str]) -> list[tuple[str, ...]]:
    """The longest chain of imports, top down, one floor per entry: a module, or the modules of a cycle
    (lazy imports make them), which load together."""
    edges = graph(modules)
    group = _cycles(edges)
    members: dict[str, list[str]] = {}
    down: dict[str, set[str]] = {}
    for a, found in edges.items():
        members.setdefault(group[a], []).append(a)
        down.setdefault(group[a], set()).update(group[b] for b in found if group[b] != group[a])

    @cache
    def longest(g: str) -> tuple[str, ...]:
        below = [longest(b) for b in sorted(down[g])]
        return (g, *max(below, key=len, default=()))

    top = max((longest(g) for g in sorted(members)), key=len, default=())
    return [tuple(sorted(members[g])) for g in top]


def floors(modules: dict[str, str]) -> int:
    """How many floors the longest chain of imports has."""
    return len(chain(modules))


def _cycles(edges: dict[str, set[str]]) -> dict[str, str]:
    """Each module -> a name for its strongly connected component (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    group: dict[str, str] = {}

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w not in group:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            members = []
            while True:
                w = stack.pop()
                members.append(w)
                if w == v:
                    break
            for w in members:
                group[w] = min(members)

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return group


# --- the tests


def test_every_module_imports_only_from_its_own_layer_or_below() -> None:
    modules = sources()
    assert "bench.explain.reconcile" in modules and "bench.publish.report" in modules
    assert upward(modules) == []


def test_an_upward_import_is_refused() -> None:
    modules = dict(sources())
    modules["bench.explain.fake"] = "from bench.publish.markdown import number\n"
    modules["bench.reference.fake"] = "def f():\n    import bench.explain.rows\n"  # a lazy one too
    modules["bench.probe.fake"] = "from bench.counters import thop\n"
    assert upward(modules) == [
        ("bench.explain.fake", "bench.publish.markdown"),
        ("bench.probe.fake", "bench.counters.thop"),
        ("bench.reference.fake", "bench.explain.rows"),
    ]


def test_no_explain_or_reference_module_imports_a_publishing_one() -> None:
    edges = graph(sources())
    below = [name for name in edges if layer(name) > layer("bench.publish")]
    assert below and not {b for a in below for b in edges[a] if b.startswith("bench.publish")}


def test_every_module_has_a_layer() -> None:
    assert {name.split(".")[1] for name in sources() if "." in name} <= set(_RANK)
    with pytest.raises(KeyError):  # the twin: a folder no layer names
        layer("bench.elsewhere.thing")


def test_imports_are_read_as_modules_or_their_packages() -> None:
    known = {"bench", "bench.paths", "bench.explain", "bench.explain.rows", "bench.publish.words"}
    source = "from bench import paths\nfrom bench.explain.rows import Row\nfrom bench.explain import rows\nimport os\n"
    assert imports(source, known) == {"bench.paths", "bench.explain.rows"}
    assert imports("from bench.publish.words import clause\n", known) == {"bench.publish.words"}
    assert imports("from .rows import Row\nimport json\n", known) == set()  # neither is a bench import


def test_floors_count_the_longest_chain_and_a_cycle_as_one() -> None:
    line = {"bench.a": "import bench.b\n", "bench.b": "import bench.c\n", "bench.c": "", "bench.d": "import bench.c\n"}
    assert floors(line) == 3
    looped = dict(line, **{"bench.c": "def f():\n    import bench.b\n"})  # b and c load together
    assert floors(looped) == 2
    assert floors({}) == 0
    assert chain(looped) == [("bench.a",), ("bench.b", "bench.c")]


def test_the_longest_chain_of_the_tree_is_a_chain_of_imports() -> None:
    modules = sources()
    edges = graph(modules)
    found = chain(modules)
    assert len(found) == floors(modules) > 1
    for upper, lower in zip(found, found[1:], strict=False):
        assert any(b in edges[a] for a in upper for b in lower), (upper, lower)
    assert found[0] == ("bench.__main__",) and layer(found[-1][0]) >= layer("bench.probe")
