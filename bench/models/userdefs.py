"""A user's model definition in TOML (models/<name>.toml), checked field by field and completed into
the zoo's own format, so that every error names the file and the field before anything is built.

The fields each layer kind takes are those the probe's builders (build_keras.py, build_torch.py)
read; the PyTorch module names (`torch` in the zoo) are derived from the layer's name.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

import tomllib

from bench.probe import zoo

ACTIVATIONS = ("relu", "sigmoid", "tanh")  # those both builders know


class DefinitionError(ValueError):
    """A definition that cannot be built: `<file>: <field>: <why>`, one line."""


@dataclass(frozen=True)
class Field:
    kind: str  # "int", "ints2", "ints", "choice", "bool"
    required: bool = True
    default: object = None
    choices: tuple = ()

    def describe(self) -> str:
        if self.choices:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        return DESCRIPTIONS[self.kind]


DESCRIPTIONS = {
    "int": "a whole number >= 1",
    "ints2": "two whole numbers >= 1, as [a, b]",
    "ints": "a list of whole numbers >= 1",
    "bool": "true or false",
    "str": "a string",
}


def _activation(default: str | None = None) -> Field:
    return Field("choice", default is None, default, ACTIVATIONS)


# layer kind -> its fields (name and kind are every layer's); the PyTorch modules it builds
KINDS: dict[str, dict[str, Field]] = {
    "conv2d": {
        "filters": Field("int"),
        "kernel": Field("ints2"),
        "strides": Field("ints2", False, [1, 1]),
        "activation": _activation(),
        "data_format": Field("choice", False, "channels_first", ("channels_first",)),  # PyTorch's layout
    },
    "dense": {"units": Field("int"), "activation": _activation()},
    "gru": {
        "units": Field("int"),
        "reset_after": Field("bool", False, True),
        "return_sequences": Field("choice", False, True, (True,)),  # the PyTorch build returns the sequence
        "activation": Field("choice", False, "tanh", ("tanh",)),
        "recurrent_activation": Field("choice", False, "sigmoid", ("sigmoid",)),
    },
    "reshape": {"shape": Field("ints")},
}
TOP = {"input": Field("ints"), "summary": Field("str", False), "layers": Field("layers")}


def torch_modules(spec: dict) -> list[str]:
    """The PyTorch module names of a layer, as build_torch.Defined adds them."""
    if spec["kind"] in ("conv2d", "dense"):
        return [spec["name"], f"{spec['name']}_{spec['activation']}"]
    return [spec["name"]] if spec["kind"] == "gru" else []


def load(path: Path, shown: str) -> dict:
    """The file's definition, completed with defaults; DefinitionError naming the file (as `shown`) and field."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise DefinitionError(f"{shown}: not valid TOML: {error}") from None
    return check(data, shown)


def check(data: dict, where: str) -> dict:
    _unknown(data, TOP, where, "")
    for name in ("input", "layers"):
        if name not in data:
            raise DefinitionError(f"{where}: {name}: missing")
    _value(data["input"], TOP["input"], f"{where}: input")
    if not isinstance(data["layers"], list) or not data["layers"]:
        raise DefinitionError(f"{where}: layers: must be one or more [[layers]] tables")
    summary = data.get("summary", f"defined in {Path(where).name}")
    if not isinstance(summary, str):
        raise DefinitionError(f"{where}: summary: must be a string")
    layers, names = [], set()
    for index, spec in enumerate(data["layers"]):
        layer = _layer(spec, f"{where}: layers[{index}]")
        if layer["name"] in names:
            raise DefinitionError(f"{where}: layers[{index}].name: {layer['name']!r} is used twice")
        names.add(layer["name"])
        layers.append(layer)
    definition = {"summary": summary, "verbatim": False, "input": list(data["input"]), "layers": layers}
    try:
        zoo.check(Path(where).stem, definition)  # what the zoo asks of its own definitions
    except zoo.DefinitionError as error:
        raise DefinitionError(f"{where}: {error}") from None
    return definition


def _layer(spec: object, where: str) -> dict:
    if not isinstance(spec, dict):
        raise DefinitionError(f"{where}: must be a table")
    for name in ("name", "kind"):
        if not isinstance(spec.get(name), str) or not spec[name]:
            raise DefinitionError(f"{where}.{name}: missing (a non-empty string)")
    kind = spec["kind"]
    if kind not in KINDS:
        hint = _hint(kind, KINDS)
        raise DefinitionError(f"{where}.kind: unknown layer kind {kind!r}{hint} (known: {', '.join(sorted(KINDS))})")
    fields = KINDS[kind]
    _unknown(spec, {"name": None, "kind": None, **fields}, where, kind)
    layer = {"name": spec["name"], "kind": kind}
    for name, rule in fields.items():
        if name not in spec:
            if rule.required:
                raise DefinitionError(f"{where}.{name}: missing ({kind} needs {name}: {rule.describe()})")
            layer[name] = rule.default
            continue
        layer[name] = _value(spec[name], rule, f"{where}.{name}")
    layer["torch"] = torch_modules(layer)
    return layer


def _unknown(data: dict, known: dict, where: str, kind: str) -> None:
    for name in data:
        if name not in known:
            owner = f"of {kind}" if kind else "at the top level"
            raise DefinitionError(f"{where}{'.' if kind else ': '}{name}: unknown field {owner}{_hint(name, known)}")


def _hint(name: str, known: dict) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _whole(value: object) -> bool:
    return type(value) is int and value >= 1


def _value(value: object, rule: Field, where: str) -> object:
    ok = {
        "int": _whole,
        "ints2": lambda v: isinstance(v, list) and len(v) == 2 and all(map(_whole, v)),
        "ints": lambda v: isinstance(v, list) and bool(v) and all(map(_whole, v)),
        "bool": lambda v: isinstance(v, bool),
        "choice": lambda v: v in rule.choices and type(v) is type(rule.choices[0]),
    }[rule.kind](value)
    if not ok:
        raise DefinitionError(f"{where}: {value!r} is not {rule.describe()}")
    return value
