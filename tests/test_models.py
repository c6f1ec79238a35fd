"""Run parameters and the user's own models, on the host: resolved and checked before anything is built."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from bench import paths
from bench.explain import batching, peers
from bench.explain.reconcile import reconcile
from bench.models import selection
from bench.probe import catalog, zoo
from bench.publish import counted, explained
from bench.records import results
from bench.reference.convention import PRESETS, parse
from bench.run import cells, matrix, runner
from tests import test_counters_fvcore_ptflops as ptflops_tests

EXAMPLE = (paths.MODELS / "mine.toml").read_text()
NO_ENGINE = {"DOCKER_HOST": "unix:///nonexistent/docker.sock"}


def bench(*args: str, cwd: Path = paths.ROOT) -> subprocess.CompletedProcess:
    env = {**os.environ, **NO_ENGINE, "PYTHONPATH": str(paths.ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "bench", *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=120
    )


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path


# --- shapes and batches


@pytest.mark.parametrize("text", ["seed-conv", "seed-conv=", "=1x2", "seed-conv=1x0x2", "seed-conv=1,2", "m=1xx2"])
def test_a_shape_that_is_not_model_equals_dims_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="is not model=DIMS"):
        selection.parse_shape(text)


def test_a_shape_names_a_model_and_its_whole_input() -> None:
    assert selection.parse_shape("seed-conv=2x1x64x128") == ("seed-conv", (2, 1, 64, 128))


def test_another_batch_is_a_variant_with_its_own_name_and_input() -> None:
    (variant,) = selection.select(selection.Request(["seed-conv"], batch=8))
    assert variant.name == "seed-conv@8x1x100x256"
    assert variant.definition["input"] == [8, 1, 100, 256]
    assert variant.definition["layers"] == zoo.MODELS["seed-conv"]["layers"]
    assert not variant.in_zoo and variant.fingerprint() != zoo.fingerprint(zoo.MODELS["seed-conv"])
    # its records lie beside the default ones, never over them
    path = results.Key("torch-latest", variant.name, "thop").path(Path("r"), "ok")
    assert path != results.Key("torch-latest", "seed-conv", "thop").path(Path("r"), "ok")


def test_the_default_input_asked_again_is_the_model_itself() -> None:
    (same,) = selection.select(selection.Request(["seed-conv"], batch=1, shapes={"seed-conv": (1, 1, 100, 256)}))
    assert same.name == "seed-conv" and same.in_zoo


def test_a_channels_last_model_gets_its_pytorch_input_at_the_new_shape_too() -> None:
    name = next(n for n, d in zoo.MODELS.items() if d.get("torch_input") and len(d["input"]) == 4)
    _, height, width, channels = zoo.MODELS[name]["input"]
    (variant,) = selection.select(selection.Request([name], batch=3))
    assert variant.definition["torch_input"] == [3, channels, height, width]


def test_a_batch_and_a_shape_combine_batch_first() -> None:
    (variant,) = selection.select(selection.Request(["seed-conv"], batch=4, shapes={"seed-conv": (1, 1, 64, 128)}))
    assert variant.name == "seed-conv@4x1x64x128"


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (selection.Request(["seed-conv"], shapes={"seed-conv": (1, 1, 100)}), "expected 2 spatial dimensions"),
        (
            selection.Request(["seed-conv"], shapes={"seed-conv": (1, 1, 3, 256)}),
            "kernel [4, 4] does not fit the input (3, 256)",
        ),
        (selection.Request(["seed"], shapes={"seed": (1, 1, 100, 255)}), "cannot reshape"),
        (selection.Request(["seed"], shapes={"seed-conv": (1, 1, 100, 256)}), "which this run does not measure"),
    ],
)
def test_shapes_that_do_not_fit_are_refused_before_anything_runs(request_: selection.Request, message: str) -> None:
    with pytest.raises(selection.ModelError, match=re.escape(message)):
        selection.select(request_)


def test_the_inputs_key_follows_a_variants_definition() -> None:
    key = results.Key("torch-latest", "seed-conv@2x1x100x256", "thop")
    (variant,) = selection.select(selection.Request(["seed-conv"], batch=2))
    (other,) = selection.select(selection.Request(["seed-conv"], batch=3))
    assert matrix.inputs_key("i", key, variant.definition) != matrix.inputs_key("i", key, other.definition)


def test_a_per_sample_counter_is_reconciled_at_a_batch_of_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """ptflops runs its own batch of 1: at batch 2 its count is one sample's, and so is its reference."""
    at_two = dict(ptflops_tests.CONV, input=[2, *ptflops_tests.CONV["input"][1:]])
    outputs = ptflops_tests.OUTPUTS
    items = [
        ("conv2d", ptflops_tests.CONV_MACS + outputs, "conv_flops_counter_hook"),
        ("relu", outputs, "relu_flops_counter_hook"),
    ]
    measured = ptflops_tests.record("ptflops-pytorch", items, at_two)
    assert reconcile(measured, PRESETS["macs"]).residual == 0
    monkeypatch.setattr(catalog.COUNTERS["ptflops-pytorch"], "per_sample", "")  # claimed per batch: left over
    assert reconcile(measured, PRESETS["macs"]).residual != 0


def test_the_report_says_per_counter_whether_it_counts_a_batch_or_a_sample() -> None:
    found = batching.findings(["thop", "keras-flops"])
    assert [(f.counter, f.per_sample, bool(f.why)) for f in found] == [
        ("keras-flops", True, True),
        ("thop", False, False),
    ]
    page = explained.batching(found)
    assert "| `keras-flops` | per sample |" in page and "| `thop` | per batch | the whole batch it is given |" in page
    assert batching.as_counted("thop", {"input": [4, 3]})["input"] == [4, 3]
    assert batching.as_counted("keras-flops", {"input": [4, 3]})["input"] == [1, 3]
    both = batching.as_counted("ptflops-aten", {"input": [4, 8, 3], "torch_input": [4, 3, 8]})
    assert both["input"] == [1, 8, 3] and both["torch_input"] == [1, 3, 8]


# --- definitions in models/<name>.toml


def test_the_readme_example_loads_and_completes_into_the_zoos_format() -> None:
    model = selection.find("mine", paths.MODELS)
    assert model.source == "models/mine.toml" or model.source.endswith("models/mine.toml")
    modules = [layer["torch"] for layer in model.definition["layers"]]
    assert modules == [["conv", "conv_act"], [], ["gru"], ["tags", "tags_act"]]
    assert model.definition["layers"][0]["strides"] == [1, 2] and model.definition["layers"][0]["data_format"]
    assert "```toml\n" + EXAMPLE in (paths.ROOT / "README.md").read_text()  # the README shows this very file


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('kind = "conv2d"', 'kind = "conv3d"', "layers[0].kind: unknown layer kind 'conv3d' (did you mean 'conv2d'?)"),
        ("filters = 16\n", "", "layers[0].filters: missing (conv2d needs filters: a whole number >= 1)"),
        ("filters = 16", "filtres = 16", "layers[0].filtres: unknown field of conv2d (did you mean 'filters'?)"),
        ("filters = 16", "filters = 0", "layers[0].filters: 0 is not a whole number >= 1"),
        ('activation = "relu"', 'activation = "swish"', "layers[0].activation: 'swish' is not one of 'linear', 'relu'"),
        ("units = 64", 'units = "64"', "layers[2].units: '64' is not a whole number >= 1"),
        ("input = [1, 1, 64, 128]", "inputs = [1, 1, 64, 128]", "inputs: unknown field at the top level"),
        (
            "shape = [62, 1008]",
            "shape = [62, 1000]",
            "layers: layers[1] (frames): shapes do not fit: frames: cannot reshape",
        ),
        (
            "input = [1, 1, 64, 128]",
            "input = [1, 1, 2, 128]",
            "layers[0] (conv): shapes do not fit: conv: kernel [3, 3]",
        ),
        ('name = "gru"', 'name = "conv"', "layers[2].name: 'conv' is used twice"),
        ("[[layers]]", "[[layers]", "not valid TOML"),
    ],
)
def test_a_wrong_definition_gets_one_line_naming_the_file_and_field(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    assert old in EXAMPLE
    write(tmp_path, "bad.toml", EXAMPLE.replace(old, new, 1))
    with pytest.raises(ValueError) as raised:
        selection.select(selection.Request(["bad"], folder=tmp_path))
    said = str(raised.value)
    assert "bad.toml" in said and message in said and "\n" not in said


def test_the_command_line_refuses_a_wrong_definition_before_any_engine(tmp_path: Path) -> None:
    """Exit 2 with no engine at all: the file was read and refused before one was looked for."""
    write(tmp_path / "models", "bad.toml", EXAMPLE.replace("filters = 16", "filtres = 16"))
    run = bench("matrix", "--models", "bad", "--models-dir", "models", "--results", "out", cwd=tmp_path)
    assert run.returncode == 2, run.stderr
    assert (
        run.stderr == "error: models/bad.toml: layers[0].filtres: unknown field of conv2d (did you mean 'filters'?)\n"
    )
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--batch", "0"], "error: argument --batch: '0' must be 1 or more"),
        (["--batch", "two"], "error: argument --batch: 'two' is not a whole number"),
        (["--shape", "seed-conv:1x1x100x256"], "error: argument --shape: 'seed-conv:1x1x100x256' is not model=DIMS"),
        (["--models", "seed-conv", "--shape", "seed-conv=1x1x100"], "error: --shape/--batch for seed-conv: input"),
        (["--models", "mine_code", "--batch", "2"], "error: mine_code is Python code"),
    ],
)
def test_bad_run_parameters_get_one_line_and_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    run = bench("matrix", "--results", str(tmp_path / "out"), *args)
    assert run.returncode == 2 and run.stderr.startswith(message), run.stderr
    assert len(run.stderr.strip().splitlines()) == 1 and not (tmp_path / "out").exists()


def test_a_user_model_may_not_take_a_zoo_models_name(tmp_path: Path) -> None:
    write(tmp_path, "seed.toml", EXAMPLE)
    with pytest.raises(selection.ModelError, match="unknown model nope"):
        selection.find("nope", tmp_path)
    assert selection.find("seed", tmp_path).source == "zoo"  # the zoo's comes first; the file is refused alone:
    with pytest.raises(selection.ModelError, match="is a zoo model already"):
        selection._definition(tmp_path / "seed.toml")


# --- Python files in models/<name>.py


def test_a_python_model_is_found_without_importing_it(tmp_path: Path) -> None:
    write(tmp_path, "only_torch.py", "import not_installed_here\n\ndef torch_model():\n    return None, None\n")
    model = selection.find("only_torch", tmp_path)
    assert model.frameworks == ("torch",) and model.definition["python"] == "only_torch.py"
    assert model.runs("count", "thop") and not model.runs("count", "keras-flops")
    assert not model.runs("check", "equivalence")
    torch_cell = cells.load()["torch-latest"]
    planned = matrix.plan([torch_cell, cells.load()["tf-latest"]], ["only_torch"], {"only_torch": model})
    counts = [job for kind, job in torch_cell.jobs() if kind == "count"]  # every variant too: code has no kinds
    assert planned["tf-latest"] == [] and len(planned["torch-latest"]) == len(counts) > len(torch_cell.counters)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("def build():\n    pass\n", "defines neither torch_model() nor keras_model()"),
        ("def torch_model(:\n", "line 1"),
    ],
)
def test_a_python_file_that_builds_nothing_is_refused(tmp_path: Path, source: str, message: str) -> None:
    write(tmp_path, "code.py", source)
    with pytest.raises(selection.ModelError, match=re.escape(message)):
        selection.find("code", tmp_path)


def test_the_users_files_travel_beside_the_probe_and_key_its_results(tmp_path: Path) -> None:
    write(tmp_path, "code.py", "def torch_model():\n    return 1, 2\n")
    code = selection.find("code", tmp_path)
    zoo_model = selection.find("seed-conv", tmp_path)
    assert selection.payload([zoo_model]) == {}
    files = selection.payload([zoo_model, code])
    assert json.loads(files["models.json"]) == {"code": code.definition}
    assert files["code.py"] == (tmp_path / "code.py").read_bytes()
    with tarfile.open(fileobj=io.BytesIO(runner.archive({f"user/{k}": v for k, v in files.items()}))) as tar:
        assert sorted(tar.getnames()) == ["user", "user/code.py", "user/models.json"]
    write(tmp_path, "code.py", "def torch_model():\n    return 1, 3\n")
    assert selection.find("code", tmp_path).fingerprint() != code.fingerprint()  # a changed file is measured again


def _code_entry(job: str, flops: int, cell: str = "torch-latest") -> dict:
    """A count of a model given as code: its raw total in its counter's unit (FLOPs under the default
    convention); a counter of the reference's components counts element-wise ops."""
    definition = {"python": "m.py", "summary": "code", "input": [], "layers": []}
    raw = flops // catalog.COUNTERS[job.split("@")[0]].flops_per_unit
    items = [{"name": "m", "raw": raw, "components": {"elementwise": raw}}]
    probe = {"flops": flops, "raw_total": raw, "definition": definition, "breakdown": {"items": items}}
    return {"status": "ok", "kind": "count", "model": "m", "cell": cell, "job": job, "probe": probe}


def test_a_code_models_reference_is_its_exact_count() -> None:
    entries = [_code_entry("thop", 100), _code_entry("exact", 250), _code_entry("fvcore", 300)]
    entries += [_code_entry("exact@no-grad", 250), _code_entry("tf-profiler-seed", 80, "tf-latest")]
    keras_build, torch_build = peers.compare(entries)  # by model, then build
    assert (torch_build.build, torch_build.reference, torch_build.exact.counter) == ("torch_model", 250, "exact")
    assert [(c.counter, c.distance(250)) for c in torch_build.counts] == [
        ("exact", 0), ("exact@no-grad", 0), ("fvcore", 50), ("thop", -150)]  # fmt: skip
    page = explained.peers([torch_build, keras_build])
    assert "### `m`: `torch_model()`" in page and "the exact count (`exact` in torch-latest): 250 FLOPs" in page
    assert "| `thop` | 100 | - 150 | 0.400 |" in page
    # twin: the keras build is another model; no exact counter counted it, so it is not set against torch's count
    assert (keras_build.build, keras_build.exact, keras_build.reference) == ("keras_model", None, 80)
    assert "no exact count: median of 1 counts" in page


def _with_modules(entry: dict, **modules: int) -> dict:
    items = [
        {"name": n, "raw": raw, "type": n.title(), "components": {"elementwise": raw}} for n, raw in modules.items()
    ]
    return dict(entry, probe=dict(entry["probe"], breakdown={"items": items}))


def test_where_a_count_departs_from_exact_is_named_by_module() -> None:
    exact = _with_modules(_code_entry("exact", 250), conv=200, relu=50)
    thop = _with_modules(_code_entry("thop", 200), conv=100)  # MACs: 200 FLOPs at conv, the ReLU unpriced
    fvcore = _with_modules(_code_entry("fvcore", 250), conv=100, relu=25)  # twin: the same work everywhere
    (found,) = peers.compare([exact, thop, fvcore])
    assert {c.counter: c.departures for c in found.counts} == {
        "exact": (),
        "fvcore": (),
        "thop": (("relu (Relu)", -50),),
    }
    table = counted.markdown("m", [found], [])
    assert "| torch_model | torch-latest | thop | 200 | - 50 | 80.0 | relu (Relu) - 50 |" in table
    assert "| torch_model | torch-latest | exact | 250 | + 0 | 100.0 | the reference |" in table
    assert "torch_model,torch-latest,thop,200,250,-50,0.800000,relu (Relu)=-50" in counted.to_csv([found])
    # under another convention both sides are priced again: a MAC at 1 halves thop's, exact's element-wise stay
    (macs,) = peers.compare([exact, thop, fvcore], parse("mac=1"))
    assert macs.reference == 250 and {c.counter: c.flops for c in macs.counts}["thop"] == 100


def test_a_code_model_without_an_exact_count_is_set_against_the_median() -> None:
    (found,) = peers.compare([_code_entry("thop", 100), _code_entry("fvcore", 300), _code_entry("calflops", 200)])
    assert (found.model, found.summary, found.reference, found.exact) == ("m", "code", 200, None)
    assert [(c.counter, c.ratio) for c in found.counts] == [("calflops", 1.0), ("fvcore", 1.5), ("thop", 0.5)]
    # a variant of exact is no reference: its switches are what is being compared
    (variant,) = peers.compare([_code_entry("thop", 100), _code_entry("exact@no-grad", 300)])
    assert variant.exact is None and variant.reference == 200
    page = explained.peers([found])
    assert "median of 3 counts: 200 FLOPs" in page and "| `fvcore` | 300 | + 100 | 1.500 |" in page
    assert "no analytic reference" in page
    assert peers.compare([dict(_code_entry("thop", 1), probe={"flops": 1, "definition": {"layers": []}})]) == []
    assert explained.peers([]) == ""
    (zero,) = peers.compare([_code_entry("thop", 0), _code_entry("fvcore", 0)])  # a median of 0: no ratio
    assert [c.ratio for c in zero.counts] == [None, None] and "| 0 | + 0 | - |" in explained.peers([zero])


def test_a_recorded_variant_is_matched_with_todays_definition() -> None:
    assert selection.today("seed-conv@2x1x100x256")["input"] == [2, 1, 100, 256]
    assert selection.today("nothing@2x1") is None and selection.today("seed-conv@2x1") is None


def test_where_a_count_departs_is_read_against_the_exact_count_of_its_own_cell() -> None:
    """A Keras build names its layers by what its process built before (conv2d here, conv2d_1 there): a count is
    compared module by module with the exact count of its own cell, and its distance with the build's reference."""
    here = _with_modules(_code_entry("exact", 250, "torch-1.10.1"), conv_1=200, relu=50)
    there = _with_modules(_code_entry("exact", 250), conv=200, relu=50)
    thop = _with_modules(_code_entry("thop", 200, "torch-1.10.1"), conv_1=100)
    (found,) = peers.compare([there, here, thop])
    assert found.exact.cell == "torch-1.10.1"  # the first cell in the cells' order
    assert {c.counter: c.departures for c in found.counts if c.cell == "torch-1.10.1"}["thop"] == (
        ("relu (Relu)", -50),
    )
    # the twin: read against the other cell's exact count, every module would depart
    assert len(peers.departures(thop, there, PRESETS["default"])) == 3
