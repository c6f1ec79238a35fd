"""The models a run measures: the zoo's, the user's (files in models/), each at its own input or at
the batch and shapes the command line asks for (`--batch 8`, `--shape seed-conv=1x1x64x128`).

Everything is resolved and checked here, on the host, before any image is built: a model at another
input is a *variant* with a name of its own (`seed-conv@8x1x100x256`), so its records never replace
the default ones, and its definition (the input changed) is what the probe builds, what keys the
cache and what the reference is computed from. Definitions the probe's zoo does not hold travel to
the container with the probe (`payload`).
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from bench import paths
from bench.models import big, libraries, userdefs
from bench.probe import catalog, variants, zoo
from bench.reference.formulas import analyse

PYTHON_FUNCTIONS = {"torch_model": ("torch",), "keras_model": ("tensorflow", "jax")}
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*")
_DIMS = re.compile(r"[1-9][0-9]*(x[1-9][0-9]*)*")


class ModelError(ValueError):
    """A model request or a user's model file that cannot be run; the message is one line."""


@dataclass(frozen=True)
class Model:
    name: str
    definition: dict
    source: str  # "zoo", or the user's file, relative to the models folder's parent
    files: tuple[tuple[str, bytes], ...] = ()  # (file name in USER_FOLDER, content)
    frameworks: tuple[str, ...] = ()  # for Python models: the frameworks it builds for (empty: all)
    library: str = ""  # a library model's library (bench/models/libraries.py): it runs where the cell holds it

    @property
    def in_zoo(self) -> bool:
        """The probe's own zoo holds this definition as it is: nothing to send."""
        return zoo.MODELS.get(self.name) == self.definition

    def fingerprint(self) -> str:
        return zoo.fingerprint(self.definition)

    def why_not(self, kind: str, job: str) -> str:
        """Why this model cannot be given to a job that could run it ("" when it can): too big to hold."""
        return big.why_not(self.definition, kind, job) if big.is_abstract(self.definition) else ""

    def runs(self, kind: str, job: str) -> bool:
        """Whether this model can be asked of a job: a Python model only of counters of its frameworks."""
        if not self.frameworks:
            return True
        return kind == "count" and catalog.COUNTERS[variants.split(job)[0]].framework in self.frameworks


@dataclass(frozen=True)
class Request:
    """What the command line asked: models by name, a batch for all, and input shapes for some."""

    names: list[str] | None = None  # None: every zoo model
    batch: int | None = None
    shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)
    folder: Path = paths.MODELS


def parse_shape(text: str) -> tuple[str, tuple[int, ...]]:
    """`model=1x3x224x224`: a model and its whole input shape, batch first, every dimension >= 1."""
    name, sep, dims = text.partition("=")
    if not sep or not name.strip() or not _DIMS.fullmatch(dims.strip()):
        raise ValueError(f"{text!r} is not model=DIMS with dimensions >= 1 joined by x (e.g. seed-conv=1x1x100x256)")
    return name.strip(), tuple(int(d) for d in dims.strip().split("x"))


def variant_name(name: str, shape: tuple[int, ...]) -> str:
    return f"{name}@{'x'.join(str(d) for d in shape)}"


def select(request: Request) -> list[Model]:
    """The models to run, resolved and checked; ModelError (one line) for anything that cannot run."""
    try:
        names = libraries.expand(request.names) if request.names is not None else list(zoo.MODELS)
    except libraries.LibraryError as error:
        raise ModelError(str(error)) from None
    stray = sorted(set(request.shapes) - set(names))
    if stray:
        raise ModelError(f"--shape names {', '.join(stray)}, which this run does not measure (--models)")
    return [_at_input(find(name, request.folder), request.batch, request.shapes.get(name)) for name in names]


def find(name: str, folder: Path) -> Model:
    """A zoo model, a library's (`torchvision:resnet50`, or as recorded `torchvision-resnet50`), or the user's
    `<folder>/<name>.toml` or `<folder>/<name>.py`."""
    if libraries.is_library(name) or libraries.is_disk_name(name):
        return _library(name)
    if name in zoo.MODELS:
        return Model(name, zoo.MODELS[name], "zoo")
    if name in big.MODELS:
        return Model(name, big.MODELS[name], "bench/models/big.py")
    candidates = [folder / f"{name}.toml", folder / f"{name}.py"]
    found = [path for path in candidates if path.is_file()]
    if not found:
        yours = ", ".join(user_names(folder)) or "none yet"
        raise ModelError(
            f"unknown model {name} (known: {', '.join(sorted(zoo.MODELS))}; too big to hold:"
            f" {', '.join(big.MODELS)}; a library's as library:name, library one of"
            f" {', '.join(libraries.LIBRARIES)}; yours in {shown(folder)}/: {yours}, as <name>.toml or <name>.py)"
        )
    if len(found) > 1:
        raise ModelError(f"{shown(found[0])} and {shown(found[1])} both define {name}: keep one")
    return _python(found[0]) if found[0].suffix == ".py" else _definition(found[0])


def shown(path: Path) -> str:
    """A path as the user would type it: relative to the working folder where it lies below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def user_names(folder: Path) -> list[str]:
    """The models the user's folder defines, by file name."""
    if not folder.is_dir():
        return []
    return sorted({p.stem for p in folder.iterdir() if p.suffix in (".toml", ".py") and _NAME.fullmatch(p.stem)})


def _check_name(path: Path) -> None:
    if not _NAME.fullmatch(path.stem):
        raise ModelError(f"{shown(path)}: a model file name (its name) takes lower-case letters, digits, - and _")
    if path.stem in zoo.MODELS:
        raise ModelError(f"{shown(path)}: {path.stem} is a zoo model already: rename the file")
    library = path.stem.partition(libraries.ON_DISK)[0]
    if library in libraries.LIBRARIES:
        raise ModelError(f"{shown(path)}: a name starting {library}- is a {library} model's: rename the file")


def _definition(path: Path) -> Model:
    _check_name(path)
    definition = userdefs.load(path, shown(path))
    _fits(shown(path), definition, "layers")
    return Model(path.stem, definition, shown(path))


def _python(path: Path) -> Model:
    """The user's Python file that builds the model itself."""
    _check_name(path)
    return _code(path.stem, path.read_bytes(), shown(path), f"Python code in {path.name}")


def _library(name: str) -> Model:
    """A library's model: code the registry writes, run like the user's."""
    try:
        disk = libraries.disk_name(name)
    except libraries.LibraryError as error:
        raise ModelError(str(error)) from None
    library = libraries.split(name)[0]
    summary = f"{libraries.shown(disk)}, as {libraries.LIBRARIES[library].package} builds it"
    return replace(_code(disk, libraries.source(name), "bench/models/libraries.py", summary), library=library)


def _code(name: str, source: bytes, where: str, summary: str) -> Model:
    """Code defining torch_model() and/or keras_model(): found without importing it (the host need not have
    torch or TensorFlow); the probe imports it in the cell."""
    try:
        tree = ast.parse(source, filename=where)
    except SyntaxError as error:
        raise ModelError(f"{where}: line {error.lineno}: {error.msg}") from None
    defined = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    frameworks = tuple(f for function, fs in PYTHON_FUNCTIONS.items() if function in defined for f in fs)
    if not frameworks:
        raise ModelError(f"{where}: defines neither torch_model() nor keras_model() at its top level")
    file_name = f"{name.replace('-', '_')}.py"
    definition = {
        "summary": f"{summary} ({', '.join(n + '()' for n in PYTHON_FUNCTIONS if n in defined)})",
        "verbatim": False,
        "python": file_name,
        "python_sha256": hashlib.sha256(source).hexdigest(),
        "input": [],  # the code's example input decides
        "layers": [],
    }
    return Model(name, definition, where, ((file_name, source),), frameworks)


def _at_input(model: Model, batch: int | None, shape: tuple[int, ...] | None) -> Model:
    """The model at the requested input (a variant with its own name), or as it is."""
    if batch is None and shape is None:
        return model
    if model.definition.get("python"):
        raise ModelError(f"{model.name} is Python code ({model.source}): its example input fixes batch and shape")
    wanted = list(shape or model.definition["input"])
    if batch is not None:
        wanted[0] = batch
    if wanted == list(model.definition["input"]):
        return model
    definition = dict(model.definition, input=wanted)
    if "torch_input" in definition:
        definition["torch_input"] = _channels_first(model, wanted)
    definition["summary"] = f"{model.definition['summary']}; input {'x'.join(map(str, wanted))}"
    _fits(f"--shape/--batch for {model.name}", definition, "input")
    return replace(model, name=variant_name(model.name, tuple(wanted)), definition=definition)


def _channels_first(model: Model, wanted: list[int]) -> list[int]:
    """The PyTorch build's input for a channels-last input: the channels moved after the batch, as the
    zoo's `torch_input` has them."""
    before, torch_before = model.definition["input"], model.definition["torch_input"]
    if torch_before != [before[0], before[-1], *before[1:-1]]:
        raise ModelError(f"{model.name}: its PyTorch input {torch_before} is not its input {before} channels first")
    return [wanted[0], wanted[-1], *wanted[1:-1]]


def _fits(where: object, definition: dict, what: str) -> None:
    """The layers' shapes follow from the input: the first layer that cannot take what it is given is named."""
    layers = definition["layers"]
    for index, spec in enumerate(layers):
        try:
            cost = analyse(dict(definition, layers=layers[: index + 1]))[-1]
        except (ValueError, KeyError, TypeError, IndexError) as error:
            raise ModelError(f"{where}: {what}: layers[{index}] ({spec['name']}): shapes do not fit: {error}") from None
        if min(cost.out_shape, default=1) < 1:
            raise ModelError(
                f"{where}: {what}: layers[{index}] ({spec['name']}): output shape {cost.out_shape} is empty"
            )


def today(name: str, folder: Path = paths.MODELS) -> dict | None:
    """Today's definition of a recorded model name (a variant's too), or None where none is defined."""
    base, _, dims = name.partition("@")
    try:
        model = find(base, folder)
        if dims:
            model = _at_input(model, None, tuple(int(d) for d in dims.split("x")))
    except (ValueError, OSError):
        return None
    return model.definition


def payload(models: list[Model]) -> dict[str, bytes]:
    """The files a container needs for these models beyond the probe: the definitions its zoo lacks
    (models.json) and the user's code. Empty when the zoo has them all."""
    extra = [m for m in models if not m.in_zoo]
    if not extra:
        return {}
    files = {"models.json": json.dumps({m.name: m.definition for m in extra}, sort_keys=True).encode()}
    for model in extra:
        files.update(dict(model.files))
    return files
