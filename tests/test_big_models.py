"""Models too big to hold: which counters may take them, and the closed form beside the reference."""

from __future__ import annotations

import json
import threading
from collections import Counter
from pathlib import Path

import pytest

from bench.models import big, selection
from bench.probe import zoo
from bench.progress import Progress
from bench.publish import explained
from bench.records import results
from bench.reference import closed_form, formulas
from bench.reference.convention import PRESETS
from bench.reference.formulas import analyse
from bench.run import cells, matrix

SEVEN_B = big.MODELS["llama-7b"]
ALL_CELLS = list(cells.load().values())


def reference(definition: dict, convention: str = "default") -> float:
    return sum(PRESETS[convention].flops(cost.total()) for cost in analyse(definition))


def test_the_7b_closed_form_by_hand() -> None:
    closed = closed_form.decoder(SEVEN_B)
    d, ffn, layers, vocab, context = 4096, 11008, 32, 32000, 2048
    assert closed.weights == layers * (4 * d * d + 3 * d * ffn) + d * vocab == 6_607_077_376
    assert closed.per_token() == 2 * closed.weights + 4 * layers * context * d == 14_287_896_576
    assert closed.total() == context * closed.per_token()
    assert big.parameters(SEVEN_B) == 6_738_415_616  # the paper's "6.7B": with the embedding and norms


@pytest.mark.parametrize("name", sorted(big.MODELS))
@pytest.mark.parametrize("convention", ["default", "macs"])
def test_the_reference_matches_the_closed_form(name: str, convention: str) -> None:
    definition = big.MODELS[name]
    closed = closed_form.decoder(definition)
    found = reference(definition, convention)
    assert closed_form.agrees(closed, found, PRESETS[convention])
    assert "they agree" in explained.closed_form_line(definition, found, PRESETS[convention])


def test_a_reference_that_forgets_attention_fails_the_closed_form(monkeypatch: pytest.MonkeyPatch) -> None:
    honest = formulas.FORMULAS["attention"]

    def no_matmuls(spec: dict, in_shape: tuple) -> formulas.LayerCost:
        cost = honest(spec, in_shape)
        return formulas.LayerCost(cost.name, cost.kind, cost.out_shape, cost.params, Counter({"elementwise": 1}))

    monkeypatch.setitem(formulas.FORMULAS, "attention", no_matmuls)
    found = reference(SEVEN_B)
    closed = closed_form.decoder(SEVEN_B)
    assert not closed_form.agrees(closed, found)
    assert "THEY DO NOT AGREE" in explained.closed_form_line(SEVEN_B, found)


def test_a_closed_form_of_another_width_fails_too() -> None:
    wrong = dict(
        SEVEN_B, layers=[dict(s, ffn=2 * 11008) if s["kind"] == "llama_block" else s for s in SEVEN_B["layers"]]
    )
    assert not closed_form.agrees(closed_form.decoder(wrong), reference(SEVEN_B))


def test_only_decoders_have_a_closed_form() -> None:
    assert closed_form.decoder(zoo.MODELS["seed-conv"]) is None
    assert explained.closed_form_line(zoo.MODELS["seed-conv"], 1.0) == ""


def test_only_counters_that_count_on_shapes_take_a_model_too_big_to_hold(tmp_path: Path) -> None:
    giant = selection.find("llama-7b", tmp_path)
    assert not giant.in_zoo and giant.why_not("count", "torch-flop-counter") == ""
    assert giant.why_not("count", "keras3-jax-xla") == ""
    why = giant.why_not("count", "thop")
    assert "6,738,415,616 float32 parameters are 25.1 GiB" in why and "torch-flop-counter" in why
    assert giant.why_not("check", "equivalence")
    assert selection.find("seed-conv", tmp_path).why_not("count", "thop") == ""
    assert big.abstract_counters() == ["exact", "exact-jax", "keras3-jax-xla", "torch-flop-counter"]


def test_the_jobs_that_need_weights_are_recorded_as_not_run_without_a_container(tmp_path: Path) -> None:
    giant = selection.find("llama-7b", tmp_path)
    options = matrix.Options(results=tmp_path, models={giant.name: giant})
    keys = [results.Key("torch-latest", "llama-7b", job) for job in ("thop", "torch-flop-counter")]
    progress = Progress()
    progress.start(len(keys))
    left = matrix._not_for_this_model(options, keys, {}, matrix.Summary(), progress)
    progress.stop()
    assert left == [keys[1]]
    record = json.loads(keys[0].path(tmp_path, "not-run").read_text())
    assert record["status"] == "not-run" and "needs the model built with real weights" in record["reason"]


HUGE = """input = [1, 1000000]
[[layers]]
name = "wide"
kind = "dense"
units = {units}
activation = "relu"
"""


class NoContainer:
    """An engine that fails the test if the run gets as far as a base, an image or a container."""

    url, version, arch, broken = "fake", "0", "amd64", ""

    def __getattr__(self, name: str) -> object:  # its client, its bases: anything beyond the plan
        raise AssertionError(f"the run went on towards a container (engine.{name})")


def measured(tmp_path: Path, units: int) -> tuple[dict, BaseException | None]:
    (tmp_path / "models").mkdir(exist_ok=True)
    (tmp_path / "models" / "huge.toml").write_text(HUGE.format(units=units))
    chosen = selection.select(selection.Request(["huge"], folder=tmp_path / "models"))
    cell = next(c for c in ALL_CELLS if c.name == "torch-latest")
    options = matrix.Options(results=tmp_path / "results", models={m.name: m for m in chosen})
    try:
        matrix.run([NoContainer()], [cell], ["huge"], options, Progress(live=False), threading.Event())
    except AssertionError as error:
        return {}, error
    return {p.name: json.loads(p.read_text()) for p in (tmp_path / "results").rglob("*.json")}, None


def test_a_layer_too_big_to_hold_is_recorded_as_such_before_any_container(tmp_path: Path) -> None:
    found, error = measured(tmp_path, 1_000_000)  # 10^12 parameters
    assert error is None and found
    assert {e["status"] for e in found.values()} == {"not-run"}
    reason = next(iter(found.values()))["reason"]
    assert reason.startswith("too big to hold: 1,000,001,000,000 parameters") and "(8g, --memory)" in reason


def test_a_layer_that_fits_goes_on_to_its_container(tmp_path: Path) -> None:
    """The twin: the same layer, small, is not refused; the run goes on towards a container."""
    found, error = measured(tmp_path, 10)
    assert error is not None and found == {}
    assert big.too_big(zoo.MODELS["vgg16"], "8g") == "" and big.too_big(zoo.MODELS["vgg16"], "256m")
