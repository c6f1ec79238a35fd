"""The matrix's cells, read from docker/cells.toml (the one place they are listed)."""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from bench import paths
from bench.models import big, libraries
from bench.probe import catalog, variants


class CellError(ValueError):
    """A cell definition or a request for cells that cannot be honoured."""


@dataclass(frozen=True)
class Base:
    """One way to get a cell's Python: a registry image or a local Debian bootstrap."""

    kind: str  # "registry" or "local"
    python: str = ""
    requirements: str = ""
    image: str = ""  # registry only: e.g. python:3.8-slim
    suite: str = ""  # local only: Debian suite to bootstrap
    unavailable: str = ""  # why this base cannot be had, when it cannot


@dataclass(frozen=True)
class Cell:
    name: str
    framework: str
    counters: tuple[str, ...]
    summary: str
    registry: Base
    local: Base
    checks: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    dockerfile: str = "Dockerfile"
    # job ("*": every job) -> model ("*": every model) -> why it fails in this cell (a tool that does not
    # work with this framework version, a layer kind the framework lacks): its failure is a recorded fact,
    # kept for the same inputs like a measurement, and fails no run. A variant inherits its counter's.
    expected_failures: dict[str, dict[str, str]] = field(default_factory=dict)
    # named variants (bench/probe/variants.py) each counter of the cell also runs under, as `<counter>@<variant>`
    variants: tuple[str, ...] = ()
    # variant job -> why it may fail (the variant's own limit): a failure is a recorded fact, a count no surprise
    may_fail: dict[str, str] = field(default_factory=dict)
    # the model libraries the image holds (bench/models/libraries.py): a cell that names any measures those
    # libraries' models and nothing else, and a library's models run only in a cell that names it
    libraries: tuple[str, ...] = ()

    def measures(self, library: str) -> bool:
        """Whether this cell measures a model of `library` ("": the zoo's or the user's)."""
        return library in self.libraries if library else not self.libraries

    def expected(self, job: str, model: str) -> str:
        """Why `job` is expected to fail on `model` in this cell ("" when it should count)."""
        for name in (job, variants.split(job)[0], "*"):
            for_models = self.expected_failures.get(name, {})
            reason = for_models.get(model) or for_models.get("*")
            if reason:
                return reason
        return ""

    def base(self, kind: str) -> Base:
        return self.registry if kind == "registry" else self.local

    def jobs(self) -> list[tuple[str, str]]:
        """(kind, name) of what the cell runs per model: its counters, each under its variants, then its checks."""
        counted = list(self.counters) + [
            variants.job(c, v) for c in self.counters for v in self.variants if _applies(c, v)
        ]
        return [("count", c) for c in counted] + [("check", c) for c in self.checks]


def _applies(counter: str, variant: str) -> bool:
    """A variant's switches exist only in its framework: it applies to that framework's counters alone."""
    return variants.VARIANTS[variant]["framework"] == catalog.COUNTERS[counter].framework


CELL_KEYS = {
    "name": "text",
    "framework": "text",
    "summary": "text",
    "counters": "names",
    "checks": "names",
    "registry": "table",
    "local": "table",
    "env": "text table",
    "dockerfile": "text",
    "expected_failures": "failures",
    "variants": "names",
    "libraries": "names",
}
BASE_KEYS = {key: "text" for key in ("python", "requirements", "image", "suite", "unavailable")}
# values that become paths, image names or command arguments: one name each, nothing that climbs out
FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
FORMS = {
    "name": (re.compile(r"[a-z0-9][a-z0-9._-]*"), "lower-case letters, digits, '.', '_' and '-'"),
    "dockerfile": (FILE_NAME, "a file name in docker/: letters, digits, '.', '_' and '-'"),
    "requirements": (FILE_NAME, "a file name in docker/requirements/: letters, digits, '.', '_' and '-'"),
    "python": (re.compile(r"[0-9]+\.[0-9]+"), "a Python version such as 3.11"),
    "suite": (re.compile(r"[a-z]+"), "a Debian suite such as bookworm"),
    "image": (re.compile(r"[a-z0-9][a-z0-9._/:@-]*"), "an image reference such as python:3.11-slim"),
}
_SHAPES = {
    "text": ("a string", lambda v: isinstance(v, str)),
    "names": ("a list of strings", lambda v: isinstance(v, list) and all(isinstance(n, str) for n in v)),
    "table": ("a table", lambda v: isinstance(v, dict)),
    "text table": ("a table of strings", lambda v: isinstance(v, dict) and all(isinstance(x, str) for x in v.values())),
    "failures": (
        "a table of job -> reason, or job -> table of model -> reason",
        lambda v: (
            isinstance(v, dict)
            and all(
                isinstance(x, str) or (isinstance(x, dict) and all(isinstance(r, str) for r in x.values()))
                for x in v.values()
            )
        ),
    ),
}


def _check_keys(where: str, raw: dict, keys: dict[str, str]) -> None:
    """Unknown keys (a typo would silently drop a setting) and values of the wrong type, named."""
    unknown = [key for key in raw if key not in keys]
    if unknown:
        raise CellError(f"{where}: unknown key {', '.join(map(repr, unknown))} (known: {', '.join(keys)})")
    for key, value in raw.items():
        words, fits = _SHAPES[keys[key]]
        if not fits(value):
            raise CellError(f"{where}: key {key!r} must be {words}, not {type(value).__name__} {str(value)[:60]!r}")


def _check_forms(where: str, raw: dict) -> None:
    """Each value that becomes a path, an image or an argument is one plain name (`../../x` is not)."""
    for key, value in raw.items():
        form, words = FORMS.get(key, (None, ""))
        if form is not None and not form.fullmatch(value):
            raise CellError(f"{where}: key {key!r} must be {words}, not {value[:60]!r}")


def _base(cell: str, kind: str, raw: dict) -> Base:
    _check_keys(f"cell {cell}: {kind} base", raw, BASE_KEYS)
    _check_forms(f"cell {cell}: {kind} base", {k: v for k, v in raw.items() if k != "unavailable"})
    if raw.get("unavailable"):
        return Base(kind=kind, unavailable=raw["unavailable"])
    where = "image" if kind == "registry" else "suite"
    missing = [key for key in ("python", "requirements", where) if not raw.get(key)]
    if missing:
        raise CellError(f"cell {cell}: {kind} base lacks {', '.join(missing)}")
    base = Base(kind=kind, **raw)
    if not (paths.REQUIREMENTS / base.requirements).is_file():
        raise CellError(f"cell {cell}: requirements file docker/requirements/{base.requirements} is missing")
    return base


def _cell(raw: dict, number: int) -> Cell:
    name = raw.get("name") if isinstance(raw.get("name"), str) else f"#{number} (no name)"
    _check_keys(f"cell {name}", raw, CELL_KEYS)
    missing = [key for key in ("name", "framework", "summary") if key not in raw]
    if missing:
        raise CellError(f"cell {name}: missing key {', '.join(map(repr, missing))}")
    _check_forms(f"cell {name!r}", {k: raw[k] for k in ("name", "dockerfile") if k in raw})
    if not (paths.DOCKER / raw.get("dockerfile", "Dockerfile")).is_file():
        raise CellError(f"cell {name}: docker/{raw.get('dockerfile', 'Dockerfile')} is missing")
    unknown = [c for c in raw.get("counters", []) if c not in catalog.COUNTERS]
    if unknown:
        raise CellError(f"cell {name}: unknown counters {unknown} (the probe knows {sorted(catalog.COUNTERS)})")
    unknown = [c for c in raw.get("checks", []) if c not in catalog.CHECKS]
    if unknown:
        raise CellError(f"cell {name}: unknown checks {unknown} (the probe knows {sorted(catalog.CHECKS)})")
    if not raw.get("counters") and not raw.get("checks"):
        raise CellError(f"cell {name}: has neither counters nor checks")
    unknown = [v for v in raw.get("variants", []) if v not in variants.VARIANTS]
    if unknown:
        raise CellError(f"cell {name}: unknown variants {unknown} (known: {sorted(variants.VARIANTS)})")
    unused = [v for v in raw.get("variants", []) if not any(_applies(c, v) for c in raw.get("counters", []))]
    if unused:
        raise CellError(f"cell {name}: variants {unused} apply to none of its counters")
    jobs = set(raw.get("counters", [])) | set(raw.get("checks", [])) | {"*"}
    unknown = [job for job in raw.get("expected_failures", {}) if job not in jobs]
    if unknown:
        raise CellError(f"cell {name}: expected_failures names {unknown}, which the cell does not run")
    failures = {
        job: {"*": why} if isinstance(why, str) else dict(why) for job, why in raw.get("expected_failures", {}).items()
    }
    unknown = [library for library in raw.get("libraries", []) if library not in libraries.LIBRARIES]
    if unknown:
        raise CellError(f"cell {name}: unknown libraries {unknown} (known: {', '.join(libraries.LIBRARIES)})")
    if raw.get("libraries") and raw.get("variants"):
        raise CellError(f"cell {name}: a cell of library models has no variants (a model given as code runs every one)")
    known = set(catalog.MODELS) | set(big.MODELS)
    unknown = sorted(
        {m for why in failures.values() for m in why if m != "*" and m not in known and not libraries.is_disk_name(m)}
    )
    if unknown:
        raise CellError(
            f"cell {name}: expected_failures names models {unknown}, which neither the zoo, bench/models/big.py"
            " nor bench/models/libraries.py (as library-name) holds"
        )
    cell = Cell(
        name=raw["name"],
        framework=raw["framework"],
        counters=tuple(raw.get("counters", [])),
        summary=raw["summary"],
        checks=tuple(raw.get("checks", [])),
        registry=_base(name, "registry", raw.get("registry", {"unavailable": "no registry base defined"})),
        local=_base(name, "local", raw.get("local", {"unavailable": "no local base defined"})),
        env=dict(raw.get("env", {})),
        dockerfile=raw.get("dockerfile", "Dockerfile"),
        expected_failures=failures,
        variants=tuple(raw.get("variants", [])),
        libraries=tuple(raw.get("libraries", [])),
    )
    variant_jobs = [variants.split(job) for kind, job in cell.jobs() if kind == "count" and variants.SEPARATOR in job]
    return replace(
        cell,
        may_fail={
            variants.job(c, v): variants.VARIANTS[v]["may_fail"]
            for c, v in variant_jobs
            if variants.VARIANTS[v]["may_fail"]
        },
    )


def load(path: Path = paths.CELLS_FILE) -> dict[str, Cell]:
    """All cells, in file order; a CellError that names the file, and the line or the cell and key, otherwise."""
    try:
        with path.open("rb") as handle:
            raw = tomllib.load(handle)
    except OSError as error:
        raise CellError(f"{path}: cannot read: {error.strerror or error}") from None
    except tomllib.TOMLDecodeError as error:
        raise CellError(f"{path}: not valid TOML: {error}") from None
    except UnicodeDecodeError as error:
        raise CellError(f"{path}: not UTF-8 text: byte {error.start} ({error.reason})") from None
    entries = raw.get("cell", [])
    unknown = [key for key in raw if key != "cell"]
    if unknown or not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise CellError(f"{path}: expected only [[cell]] tables, found {', '.join(map(repr, unknown or ['cell']))}")
    if not entries:
        raise CellError(f"{path}: defines no [[cell]]")
    cells: dict[str, Cell] = {}
    for number, entry in enumerate(entries, 1):
        try:
            cell = _cell(entry, number)
        except CellError as error:
            raise CellError(f"{path}: {error}") from None
        if cell.name in cells:
            raise CellError(f"{path}: cell {cell.name} is defined twice")
        cells[cell.name] = cell
    return cells


def order_key(name: str) -> list:
    """Cell names in reading order: tf before torch, versions numerically, `latest` last."""
    return [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"[.-]", name)]


def pick(available: dict[str, Cell], names: list[str] | None) -> list[Cell]:
    """The requested cells (all when `names` is None), or a CellError naming the unknown ones.
    An empty list is refused: it would otherwise mean `all` by accident."""
    if names is None:
        return list(available.values())
    if not names:
        raise CellError("the list of cells is empty: name at least one, or none for all")
    unknown = [n for n in names if n not in available]
    if unknown:
        raise CellError(f"unknown cell {', '.join(unknown)} (known: {', '.join(available)})")
    return [available[n] for n in names]


def pick_models(names: list[str] | None) -> list[str]:
    """The requested models (all when `names` is None); an empty list is refused, as in `pick`."""
    if names is None:
        return list(catalog.MODELS)
    if not names:
        raise CellError("the list of models is empty: name at least one, or none for all")
    unknown = [n for n in names if n not in catalog.MODELS]
    if unknown:
        raise CellError(f"unknown model {', '.join(unknown)} (known: {', '.join(catalog.MODELS)})")
    return names
