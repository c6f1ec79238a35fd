"""Library models (bench/models/libraries.py): every registry name becomes a well-formed code model that
runs only where its library is, under a name that is a plain file name on disk and `library:name` in the
report; a name the registry lacks is one line naming what it has."""

from __future__ import annotations

import ast
import re
from dataclasses import replace
from pathlib import Path

import pytest

from bench import paths
from bench.models import libraries, selection
from bench.probe import zoo
from bench.records import results
from bench.run import cells, matrix

EVERY = libraries.every()
PORTABLE = re.compile(r"[a-z0-9][a-z0-9_-]*")  # selection._NAME: a user's file name, a folder on any system


def test_the_lists_are_as_long_as_the_issue_asks() -> None:
    counts = {name: len(library.models) for name, library in libraries.LIBRARIES.items()}
    assert counts["torchvision"] >= 30 and counts["timm"] >= 20 and counts["hf"] >= 4
    timm_families = {entry.family for entry in libraries.TIMM.values()}
    assert {"resnet", "convnext", "efficientnet", "vit", "deit", "mobilenetv3", "regnety"} <= timm_families


@pytest.mark.parametrize("name", EVERY)
def test_every_registry_name_builds_a_well_formed_code_model(name: str) -> None:
    (model,) = selection.select(selection.Request([name]))
    library, entry_name = libraries.split(name)
    assert model.name == f"{library}-{entry_name}" and model.library == library
    assert PORTABLE.fullmatch(model.name) and model.frameworks == ("torch",)
    ((file_name, source),) = model.files
    assert file_name == model.definition["python"] and PORTABLE.fullmatch(file_name.removesuffix(".py"))
    tree = ast.parse(source)
    (function,) = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
    assert function.name == "torch_model"
    entry = libraries.LIBRARIES[library].models[entry_name]
    assert repr(entry.input) in source.decode() and entry.family in entry_name.replace("-", "_") + entry.build.lower()
    assert "pretrained=True" not in source.decode() and "from_pretrained" not in source.decode()


def test_a_built_file_that_does_not_parse_is_refused_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    broken = replace(libraries.TORCHVISION["resnet18"], build="torchvision.models.resnet18(")
    monkeypatch.setitem(libraries.TORCHVISION, "resnet18", broken)
    with pytest.raises(selection.ModelError, match=r"^bench/models/libraries.py: line \d+: .*") as error:
        selection.select(selection.Request(["torchvision:resnet18"]))
    assert "\n" not in str(error.value)


def test_a_family_not_in_the_name_or_build_fails_the_check() -> None:
    entry = libraries.TORCHVISION["resnet18"]
    assert entry.family not in "vgg16" + entry.build.lower()


def test_the_builders_take_random_weights_and_no_hub() -> None:
    sources = {name: libraries.source(name).decode() for name in EVERY}
    assert all("weights=None" in s for n, s in sources.items() if n.startswith("torchvision:"))
    assert all("pretrained=False" in s for n, s in sources.items() if n.startswith("timm:"))
    assert all("Config(" in s for n, s in sources.items() if n.startswith("hf:"))


@pytest.mark.parametrize(
    ("name", "words"),
    [
        (
            "torchvision:resnet51",
            r"unknown torchvision model 'resnet51' \(did you mean torchvision:resnet50\?\); known: ",
        ),
        ("timm:nope", r"unknown timm model 'nope'; known: .*convnext_tiny"),
        ("keras:MobileNetV2", r"unknown library 'keras' in 'keras:MobileNetV2' \(known: torchvision, timm, hf;"),
        ("nope:*", r"unknown library 'nope'"),
    ],
)
def test_a_bad_library_name_is_one_line_naming_the_known_ones(name: str, words: str) -> None:
    with pytest.raises(selection.ModelError, match=f"^{words}") as error:
        selection.select(selection.Request([name]))
    assert "\n" not in str(error.value)


def test_a_library_wildcard_is_every_model_of_that_library_and_no_other() -> None:
    chosen = selection.select(selection.Request(["timm:*", "seed"]))
    assert [m.name for m in chosen] == [f"timm-{n}" for n in libraries.TIMM] + ["seed"]


def test_the_recorded_name_finds_the_same_model_as_the_typed_one(tmp_path: Path) -> None:
    typed = selection.find("hf:bert-base-uncased", tmp_path)
    assert selection.find("hf-bert-base-uncased", tmp_path) == typed
    assert selection.today("hf-bert-base-uncased", tmp_path) == typed.definition
    assert selection.today("hf-bert-base-cased", tmp_path) is None  # an entry the registry no longer has


def test_a_record_path_is_plain_and_the_report_names_library_and_name(tmp_path: Path) -> None:
    (model,) = selection.select(selection.Request(["torchvision:wide_resnet50_2"]))
    path = results.Key("torch-libraries", model.name, "exact").path(tmp_path, "ok")
    assert path.relative_to(tmp_path).parts == ("torch-libraries", "torchvision-wide_resnet50_2", "exact.json")
    assert ":" not in str(path.relative_to(tmp_path))
    assert libraries.shown(model.name) == "torchvision:wide_resnet50_2"
    assert libraries.shown("seed-conv") == "seed-conv" and libraries.shown("torchvision-nope") == "torchvision-nope"


def test_a_users_file_cannot_take_a_library_models_name(tmp_path: Path) -> None:
    (tmp_path / "timm-resnet18.py").write_text("def torch_model():\n    return None, None\n")
    (tmp_path / "timm-mine.py").write_text("def torch_model():\n    return None, None\n")
    assert selection.find("timm-resnet18", tmp_path).source == "bench/models/libraries.py"
    with pytest.raises(selection.ModelError, match="a name starting timm- is a timm model's: rename the file"):
        selection.find("timm-mine", tmp_path)


def test_library_models_run_only_in_the_cells_that_hold_their_library() -> None:
    everything = list(cells.load().values())
    chosen = {m.name: m for m in selection.select(selection.Request(["torchvision:resnet18", "hf:gpt2", "seed"]))}
    planned = matrix.plan(everything, list(chosen), chosen)
    holders = [c.name for c in everything if c.libraries]
    assert holders == ["torch-libraries"]
    for cell in everything:
        models = {k.model for k in planned[cell.name]}
        if cell.libraries:
            assert models == {"torchvision-resnet18", "hf-gpt2"}
            assert {k.job for k in planned[cell.name]} == set(cell.counters)  # no variants, no checks
        else:
            assert not models & {"torchvision-resnet18", "hf-gpt2"}


def test_a_cell_without_the_library_would_measure_none_of_its_models() -> None:
    cell = cells.load()["torch-libraries"]
    chosen = {m.name: m for m in selection.select(selection.Request(["timm:resnet18"]))}
    assert matrix.plan([replace(cell, libraries=("torchvision",))], list(chosen), chosen)["torch-libraries"] == []
    assert matrix.plan([replace(cell, libraries=())], list(chosen), chosen)["torch-libraries"] == []
    zoo_only = {m.name: m for m in selection.select(selection.Request(["seed"]))}
    assert matrix.plan([cell], ["seed"], zoo_only)["torch-libraries"] == []


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ('libraries = ["keras"]', r"unknown libraries \['keras'\] \(known: torchvision, timm, hf\)"),
        ('libraries = ["timm"]\nvariants = ["no-grad"]', "a cell of library models has no variants"),
        (
            'libraries = ["timm"]\nexpected_failures = { thop = { "timm-nope" = "why" } }',
            r"expected_failures names models \['timm-nope'\]",
        ),
    ],
)
def test_a_cell_naming_libraries_wrongly_is_refused(tmp_path: Path, entry: str, message: str) -> None:
    path = tmp_path / "cells.toml"
    path.write_text(
        '[[cell]]\nname = "x"\nframework = "torch"\ncounters = ["thop"]\nsummary = "s"\n'
        f'local = {{ unavailable = "u" }}\n{entry}\n'
    )
    with pytest.raises(cells.CellError, match=message):
        cells.load(path)


def test_a_cell_naming_a_library_and_its_models_failures_loads(tmp_path: Path) -> None:
    path = tmp_path / "cells.toml"
    path.write_text(
        '[[cell]]\nname = "x"\nframework = "torch"\ncounters = ["thop"]\nsummary = "s"\n'
        'local = { unavailable = "u" }\nlibraries = ["timm"]\n'
        'expected_failures = { thop = { "timm-resnet18" = "why" } }\n'
    )
    cell = cells.load(path)["x"]
    assert cell.libraries == ("timm",) and cell.expected("thop", "timm-resnet18") == "why"


def test_a_library_model_is_not_the_zoos() -> None:
    assert not set(m.replace(":", "-") for m in EVERY) & set(zoo.MODELS)


def listed_in_docs(text: str) -> dict[str, list[str]]:
    """The models docs/extending.md lists per library ("- `timm` (...): `a`, `b` (288), ...")."""
    section = text.split("### Library models", 1)[1].split("\n## ", 1)[0]
    found = {}
    for line in section.splitlines():
        if line.startswith("- `"):
            library, rest = line[3:].split("`", 1)
            found[library] = re.findall(r"`([^`]+)`", rest.split(":", 1)[1])
    return found


def test_the_docs_list_every_registry_model_and_no_other() -> None:
    text = (paths.ROOT / "docs" / "extending.md").read_text()
    assert listed_in_docs(text) == {name: list(library.models) for name, library in libraries.LIBRARIES.items()}


def test_a_model_the_docs_leave_out_is_seen() -> None:
    text = (paths.ROOT / "docs" / "extending.md").read_text().replace("`vit_b_32`, ", "", 1)
    assert "vit_b_32" not in listed_in_docs(text)["torchvision"]
