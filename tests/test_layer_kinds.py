"""One declaration per layer kind (zoo.KINDS): every table keyed by kind holds exactly the declared kinds,
checked when its module is imported, and a user's file takes every kind a zoo definition lists."""

from __future__ import annotations

import ast
import importlib.util
import json
import re
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest

from bench import paths
from bench.models import selection, userdefs
from bench.probe import zoo
from bench.reference import formulas

PROBE = paths.ROOT / "bench" / "probe"
# the registries the host can import (build_torch.py needs torch; its table is read from its source)
HOST_REGISTRIES = {
    "bench/reference/formulas.py FORMULAS": paths.ROOT / "bench" / "reference" / "formulas.py",
    "bench/probe/build_keras.py BUILDERS": PROBE / "build_keras.py",
    "bench/probe/equivalence.py WEIGHT_COPIES": PROBE / "equivalence.py",
}


@pytest.fixture
def registries(monkeypatch: pytest.MonkeyPatch) -> dict[str, ModuleType]:
    """Each host registry's module, imported afresh as its cell imports it (the probe's `import zoo` is this
    process's zoo), with zoo.REGISTRIES restored afterwards."""
    monkeypatch.setattr(zoo, "REGISTRIES", dict(zoo.REGISTRIES))
    monkeypatch.setitem(sys.modules, "zoo", zoo)
    return {name: load(path, monkeypatch) for name, path in HOST_REGISTRIES.items()}


def load(path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    name = f"_fresh_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, name, module)  # a dataclass looks its module up while it is made
    spec.loader.exec_module(module)
    return module


def torch_builders() -> list[str]:
    """The kinds of build_torch.py's BUILDERS, read from its source: the host has no torch to import it."""
    tree = ast.parse((PROBE / "build_torch.py").read_text())
    (table,) = [n.value for n in tree.body if isinstance(n, ast.Assign) and n.targets[0].id == "BUILDERS"]
    checked = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "attr", "") == "registry"]
    assert [ast.literal_eval(call.args[0]) for call in checked] == ["bench/probe/build_torch.py BUILDERS"]
    return sorted(ast.literal_eval(key) for key in table.keys)


def test_every_registry_holds_exactly_the_declared_kinds(registries: dict[str, ModuleType]) -> None:
    assert set(HOST_REGISTRIES) <= set(zoo.REGISTRIES)
    assert sorted(registries["bench/reference/formulas.py FORMULAS"].FORMULAS) == sorted(zoo.KINDS)
    assert sorted(registries["bench/probe/build_keras.py BUILDERS"].BUILDERS) == zoo.listed()
    assert torch_builders() == zoo.listed()
    zoo.check_registries()


@pytest.mark.parametrize("name", sorted(HOST_REGISTRIES))
def test_a_declared_kind_a_registry_lacks_fails_its_import(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setattr(zoo, "REGISTRIES", dict(zoo.REGISTRIES))
    monkeypatch.setitem(sys.modules, "zoo", zoo)
    monkeypatch.setitem(zoo.KINDS, "negate", zoo.declare({}))
    with pytest.raises(ValueError, match=f"^layer kind 'negate': no entry in {re.escape(name)} "):
        load(HOST_REGISTRIES[name], monkeypatch)


@pytest.mark.parametrize("name", sorted(HOST_REGISTRIES))
def test_a_registrys_kind_the_zoo_does_not_declare_fails_its_import(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setattr(zoo, "REGISTRIES", dict(zoo.REGISTRIES))
    monkeypatch.setitem(sys.modules, "zoo", zoo)
    monkeypatch.delitem(zoo.KINDS, "zero_pad2d")
    with pytest.raises(ValueError, match=f"^layer kind 'zero_pad2d': in {re.escape(name)} but not declared"):
        load(HOST_REGISTRIES[name], monkeypatch)


def test_a_field_type_the_user_files_cannot_check_fails_their_import(monkeypatch: pytest.MonkeyPatch) -> None:
    path = paths.ROOT / "bench" / "models" / "userdefs.py"
    load(path, monkeypatch)  # today's declarations: every type is one it checks
    monkeypatch.setitem(zoo.KINDS, "max_pool2d", dict(zoo.KINDS["max_pool2d"], fields={"pool": "triple"}))
    with pytest.raises(ValueError, match="^layer kind 'max_pool2d': field 'pool' has type 'triple'"):
        load(path, monkeypatch)


# --- adding a layer kind


def _negate(spec: dict, in_shape: tuple) -> formulas.LayerCost:
    """y = -x: one element-wise op per value."""
    values = 1
    for d in in_shape:
        values *= d
    return formulas.LayerCost(spec["name"], spec["kind"], in_shape, 0, Counter({"elementwise": values}))


def files_to_add_a_layer_kind() -> list[str]:
    """The files docs/extending.md lists under "Adding a layer kind"."""
    text = (paths.ROOT / "docs" / "extending.md").read_text()
    section = text.split("## Adding a layer kind\n", 1)[1].split("\n## ", 1)[0]
    return sorted(set(re.findall(r"^- `([^`]+)`", section, re.MULTILINE)))


def test_adding_a_layer_kind_touches_the_files_the_docs_list(
    registries: dict[str, ModuleType], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A small kind added through each registry and nothing else: the import checks accept it, the reference
    prices it and a user's file takes it, with no other table touched."""
    monkeypatch.setitem(zoo.KINDS, "negate", zoo.declare({}))
    with pytest.raises(ValueError, match="'negate': no entry in bench/probe/build_keras.py BUILDERS"):
        zoo.check_registries()
    # its declaration, its PyTorch builder (build_torch.py needs torch), the docs' row of it
    touched = {"bench/probe/zoo.py", "bench/probe/build_torch.py", "docs/extending.md"}
    tables = {"FORMULAS": _negate, "BUILDERS": lambda k, spec: k.layers.Lambda(lambda x: -x), "WEIGHT_COPIES": None}
    for name, module in registries.items():
        path, table = name.split()
        monkeypatch.setitem(getattr(module, table), "negate", tables[table])
        touched.add(path)
    zoo.check_registries()
    assert files_to_add_a_layer_kind() == sorted(touched)

    monkeypatch.setitem(formulas.FORMULAS, "negate", _negate)
    layers = [{"name": "flip", "kind": "negate"}]
    definition = userdefs.check({"input": [1, 8], "layers": layers}, "models/flip.toml")
    assert definition["layers"] == [{"name": "flip", "kind": "negate", "torch": ["flip"]}]
    (cost,) = formulas.analyse(definition)
    assert cost.total() == {"elementwise": 8}


def test_the_docs_list_no_file_a_layer_kind_does_not_need() -> None:
    listed = files_to_add_a_layer_kind()
    assert listed and all((paths.ROOT / path).is_file() for path in listed)
    assert "bench/models/userdefs.py" not in listed  # derived from the declaration
    assert len(listed) == len({Path(p).name for p in listed})


# --- user files take every kind a zoo definition lists


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    return "[" + ", ".join(_toml(v) for v in value) + "]"


def _tables(layers: list[dict], prefix: str) -> list[str]:
    lines = []
    for spec in layers:
        lines.append(f"[[{prefix}]]")
        nested = {k: v for k, v in spec.items() if isinstance(v, list) and v and isinstance(v[0], dict)}
        lines += [f"{k} = {_toml(v)}" for k, v in spec.items() if k != "torch" and k not in nested]
        for key, value in nested.items():
            lines += _tables(value, f"{prefix}.{key}")
    return lines


def as_toml(definition: dict) -> str:
    """A zoo definition as a user writes it: the zoo's format less `verbatim` and the PyTorch names."""
    top = [f"{k} = {_toml(v)}" for k, v in definition.items() if k not in ("layers", "verbatim")]
    return "\n".join(top + _tables(definition["layers"], "layers")) + "\n"


def _layers(specs: list[dict]) -> list[dict]:
    """Every layer, a residual block's included."""
    found = []
    for spec in specs:
        found.append(spec)
        for key in ("body", "shortcut"):
            found += _layers(spec.get(key, []))
    return found


def _named_by_declaration(definition: dict) -> dict:
    """The definition with each layer's PyTorch names as the declaration derives them."""

    def rename(spec: dict) -> dict:
        spec = {k: [rename(s) for s in v] if k in ("body", "shortcut") else v for k, v in spec.items()}
        return dict(spec, torch=zoo.torch_names(spec))

    return dict(definition, layers=[rename(spec) for spec in definition["layers"]])


# zoo layers named by hand, not as the declaration names them: the blog's module names, and a Flatten
# that PyTorch builds as a step with no module
NAMED_BY_HAND = {("seed", "conv"), ("seed", "output"), ("seed-conv", "conv"), ("vgg16", "flatten")}


@pytest.mark.parametrize("model", sorted(zoo.MODELS))
def test_a_user_file_builds_the_definition_the_zoo_would(tmp_path: Path, model: str) -> None:
    """Every zoo definition written as a user's file (the seed's too: as data, not the blog's code)."""
    definition = zoo.MODELS[model]
    (tmp_path / "mine.toml").write_text(as_toml(definition))
    (loaded,) = selection.select(selection.Request(["mine"], folder=tmp_path))
    assert loaded.definition == dict(_named_by_declaration(definition), verbatim=False)
    renamed = [(model, s["name"]) for s in _layers(definition["layers"]) if s["torch"] != zoo.torch_names(s)]
    assert set(renamed) <= NAMED_BY_HAND


def test_a_field_left_out_stays_out_so_the_definition_differs(tmp_path: Path) -> None:
    """The twin: a file that leaves out the stem's `use_bias = false` is another model (the builders' bias)."""
    definition = zoo.MODELS["resnet50"]
    (tmp_path / "mine.toml").write_text(as_toml(definition).replace("use_bias = false\n", "", 1))
    (loaded,) = selection.select(selection.Request(["mine"], folder=tmp_path))
    assert "use_bias" not in loaded.definition["layers"][0]
    assert loaded.definition != dict(_named_by_declaration(definition), verbatim=False)


def test_the_user_files_cover_every_kind_a_definition_lists() -> None:
    used = {spec["kind"] for definition in zoo.MODELS.values() for spec in _layers(definition["layers"])}
    assert sorted(used) == zoo.listed()


def test_a_hand_named_layer_is_not_what_the_declaration_names() -> None:
    """The twin of the naming check above: the blog's conv names its modules its own way."""
    conv = zoo.MODELS["seed-conv"]["layers"][0]
    assert conv["torch"] == ["conv2d", "relu"] and zoo.torch_names(conv) == ["conv", "conv_act"]


@pytest.mark.parametrize(
    ("layer", "message"),
    [
        ('kind = "max_pool2d"\npool = [2]\nstrides = [2, 2]', "layers[0].pool: [2] is not two whole numbers >= 1"),
        ('kind = "embedding"\nvocab = 0\ndim = 4', "layers[0].vocab: 0 is not a whole number >= 1"),
        ('kind = "llama_block"\nheads = 2\nffn = 8', "layers[0].kv_heads: missing (llama_block needs kv_heads"),
        ('kind = "lstm"\nunits = 4\nactivation = "relu"', "layers[0].activation: 'relu' is not one of 'tanh'"),
        ('kind = "layer_norm"\nepsilon = -1.0', "layers[0].epsilon: -1.0 is not a number > 0"),
        ('kind = "zero_pad2d"\npadding = "same"', "layers[0].padding: 'same' is not two whole numbers >= 0"),
        ('kind = "gru"\nunits = 4\nuse_bias = false', "layers[0].use_bias: false is not one of true"),
        ('kind = "attention"\nheads = 2\nkv_heads = 2\nhead_dim = 4', "layers[0].kind: 'attention' is only a part"),
        (
            'kind = "residual"\nshortcut = []\n[[layers.body]]\nname = "c"\nkind = "conv2d"\nfiltres = 4',
            "layers[0].body[0].filtres: unknown field of conv2d (did you mean 'filters'?)",
        ),
    ],
)
def test_a_bad_field_of_a_newly_allowed_kind_gets_one_line(tmp_path: Path, layer: str, message: str) -> None:
    (tmp_path / "bad.toml").write_text(f'input = [1, 4, 4, 8]\n[[layers]]\nname = "x"\n{layer}\n')
    with pytest.raises(ValueError) as raised:
        selection.select(selection.Request(["bad"], folder=tmp_path))
    said = str(raised.value)
    assert said.startswith("bad.toml: ") or "/bad.toml: " in said
    assert message in said and "\n" not in said


def kinds_table() -> str:
    """The table of docs/extending.md, as the declarations give it."""
    rows = ["| kind | required fields | optional fields |", "|---|---|---|"]
    for kind in zoo.listed():
        declared = zoo.KINDS[kind]
        required = ", ".join(f"`{f}`" for f in declared["required"]) or "none"
        optional = ", ".join(f"`{f}`" for f in sorted(set(declared["fields"]) - set(declared["required"])))
        rows.append(f"| `{kind}` | {required} | {optional or 'none'} |")
    return "\n".join(rows) + "\n"


def test_the_docs_table_of_kinds_is_the_declarations() -> None:
    assert kinds_table() in (paths.ROOT / "docs" / "extending.md").read_text()


def test_a_kind_missing_from_the_docs_table_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(zoo.KINDS, "negate", zoo.declare({}))
    assert kinds_table() not in (paths.ROOT / "docs" / "extending.md").read_text()
