"""A user's model definition in TOML (models/<name>.toml), checked field by field and completed into
the zoo's own format, so that every error names the file and the field before anything is built.

A file takes every layer kind a zoo definition may list, with the fields and types the kind's
declaration gives (zoo.KINDS): the zoo's format less `torch`, the PyTorch module names, which the
declaration derives from the layer's name (zoo.torch_names). A field left out takes the builders'
default, as in the zoo.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from pathlib import Path

import tomllib

from bench.probe import zoo


class DefinitionError(ValueError):
    """A definition that cannot be built: `<file>: <field>: <why>`, one line."""


def _whole(value: object, least: int = 1) -> bool:
    return type(value) is int and value >= least


def _wholes(count: int | None, least: int = 1) -> Callable[[object], bool]:
    """A list of whole numbers >= least: `count` of them, or one or more."""
    return lambda v: isinstance(v, list) and bool(v) and count in (None, len(v)) and all(_whole(x, least) for x in v)


# a declared field type (zoo.KINDS) -> whether a value is one, and what a value must be
TYPES: dict[str, tuple[Callable[[object], bool], str]] = {
    "count": (_whole, "a whole number >= 1"),
    "sizes1": (_wholes(1), "one whole number >= 1, as [a]"),
    "sizes2": (_wholes(2), "two whole numbers >= 1, as [a, b]"),
    "sizes": (_wholes(None), "a list of whole numbers >= 1"),
    "pads2": (_wholes(2, 0), "two whole numbers >= 0, as [a, b]"),
    "padding": (
        lambda v: v in ("valid", "same") or _wholes(None, 0)(v),
        "'valid', 'same' or a whole number >= 0 per axis, as [a, b]",
    ),
    "bool": (lambda v: isinstance(v, bool), "true or false"),
    "number": (lambda v: type(v) in (int, float) and v > 0, "a number > 0"),
    "text": (lambda v: isinstance(v, str), "a string"),
    "layers": (lambda v: isinstance(v, list), "a list of layer tables"),
}
TOP = {
    "input": "sizes",
    "torch_input": "sizes",  # the PyTorch build's input where it differs (channels first of a channels-last input)
    "input_dtype": ("float32", "int64"),  # int64: token ids, for a model that starts with an embedding
    "summary": "text",
    "layers": "layers",
}


def _check_declaration() -> None:
    """Every field type the declaration uses is one this module checks: one line naming kind and field."""
    for kind in zoo.listed():
        for name, declared in sorted(zoo.KINDS[kind]["fields"].items()):
            if not isinstance(declared, tuple) and declared not in TYPES:
                raise ValueError(
                    f"layer kind {kind!r}: field {name!r} has type {declared!r}, not one of"
                    f" bench.models.userdefs.TYPES ({', '.join(sorted(TYPES))})"
                )


def load(path: Path, shown: str) -> dict:
    """The file's definition in the zoo's format; DefinitionError naming the file (as `shown`) and field."""
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
    definition = {"summary": f"defined in {Path(where).name}", "verbatim": False}
    for name in ("input", "torch_input", "input_dtype", "summary"):
        if name in data:
            definition[name] = _value(data[name], TOP[name], f"{where}: {name}")
    if not isinstance(data["layers"], list) or not data["layers"]:
        raise DefinitionError(f"{where}: layers: must be one or more [[layers]] tables")
    definition["layers"] = _layers(data["layers"], f"{where}: layers")
    try:
        zoo.check(Path(where).stem, definition)  # what the zoo asks of its own definitions
    except zoo.DefinitionError as error:
        raise DefinitionError(f"{where}: {error}") from None
    return definition


def _layers(specs: list, where: str) -> list[dict]:
    layers, names = [], set()
    for index, spec in enumerate(specs):
        layer = _layer(spec, f"{where}[{index}]")
        if layer["name"] in names:
            raise DefinitionError(f"{where}[{index}].name: {layer['name']!r} is used twice")
        names.add(layer["name"])
        layers.append(layer)
    return layers


def _layer(spec: object, where: str) -> dict:
    if not isinstance(spec, dict):
        raise DefinitionError(f"{where}: must be a table")
    for name in ("name", "kind"):
        if not isinstance(spec.get(name), str) or not spec[name]:
            raise DefinitionError(f"{where}.{name}: missing (a non-empty string)")
    kind, known = spec["kind"], zoo.listed()
    if kind in zoo.KINDS and kind not in known:
        raise DefinitionError(
            f"{where}.kind: {kind!r} is only a part of {', '.join(zoo.KINDS[kind]['part_of'])} layers"
        )
    if kind not in known:
        raise DefinitionError(
            f"{where}.kind: unknown layer kind {kind!r}{_hint(kind, known)} (known: {', '.join(known)})"
        )
    fields = zoo.KINDS[kind]["fields"]
    _unknown(spec, {"name": None, "kind": None, **fields}, where, kind)
    for name in zoo.KINDS[kind]["required"]:
        if name not in spec:
            raise DefinitionError(f"{where}.{name}: missing ({kind} needs {name}: {_describe(fields[name])})")
    layer = {"name": spec["name"], "kind": kind}
    for name, value in spec.items():
        if name in fields:
            layer[name] = _value(value, fields[name], f"{where}.{name}")
            if fields[name] == "layers":
                layer[name] = _layers(value, f"{where}.{name}")
    layer["torch"] = zoo.torch_names(layer)
    return layer


def _unknown(data: dict, known: dict, where: str, kind: str) -> None:
    for name in data:
        if name not in known:
            owner = f"of {kind}" if kind else "at the top level"
            raise DefinitionError(f"{where}{'.' if kind else ': '}{name}: unknown field {owner}{_hint(name, known)}")


def _hint(name: str, known: object) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _shown(value: object) -> str:
    """A value as the TOML file writes it."""
    return str(value).lower() if isinstance(value, bool) else repr(value)


def _describe(declared: str | tuple) -> str:
    if isinstance(declared, tuple):
        return "one of " + ", ".join(_shown(c) for c in declared)
    return TYPES[declared][1]


def _value(value: object, declared: str | tuple, where: str) -> object:
    if isinstance(declared, tuple):
        ok = any(value == c and type(value) is type(c) for c in declared)
    else:
        ok = TYPES[declared][0](value)
    if not ok:
        raise DefinitionError(f"{where}: {_shown(value)} is not {_describe(declared)}")
    return value


_check_declaration()
