"""Hand-made records for the pure parts (parsing, storing, rendering); never used as results."""

from __future__ import annotations

import signal
from collections import Counter
from collections.abc import Callable

from bench.counters import adapter_for
from bench.explain.reconcile import Reconciliation, reconcile
from bench.probe import catalog, variants, zoo
from bench.records import results
from bench.reference.convention import PRESETS

TOY = {
    "summary": "Dense(256) on 96 features",
    "input": [1, 96],
    "layers": [{"name": "output", "kind": "dense", "units": 256, "activation": "sigmoid", "torch": ["fc", "sigmoid"]}],
}


def probe_document(cell: str = "torch-x", model: str = "toy", counter: str = "thop", raw: int = 10) -> dict:
    return {
        "schema": "flops-matrix/probe/3",
        "cell": cell,
        "model": model,
        "counter": counter,
        "recipe": "test",
        "unit": "MAC",
        "flops_per_unit": 2,
        "raw_total": raw,
        "flops": 2 * raw,
        "definition": TOY,
        "definition_sha256": zoo.fingerprint(TOY),
        "breakdown": {"by": "module", "items": [{"name": "fc", "type": "Linear", "raw": raw}]},
        "nodes": [],
        "layers": [{"name": "fc", "class": "Linear", "params": 24832, "config": {"bias": True}}],
        "unsupported": ["sigmoid (Sigmoid): no thop rule, counted as 0"],
        "notes": [],
        "duration_s": 0.5,
        "provenance": {
            "python": "3.9.2",
            "python_implementation": "CPython",
            "platform": "Linux",
            "framework": {"name": "torch", "version": "1.10.1"},
            "counter_tool": {"name": "thop", "version": "0.0.31"},
            "pip_freeze": ["thop==0.0.31"],
        },
    }


def host(finished_at: str = "2026-01-01T00:00:00+00:00") -> dict:
    return {
        "docker_engine": "20.10",
        "project_commit": "0123456789abcdef",
        "host": "h",
        "host_platform": "Linux",
        "finished_at": finished_at,
        "image": {
            "tag": "t",
            "id": "sha256:0123456789abcdef0123",
            "inputs_hash": "x",
            "wheelhouse_files": [],
            "base": {"kind": "local", "reference": "flops-matrix/base:bullseye", "id": "b", "recipe": "r"},
        },
    }


def ok(cell: str = "torch-x", model: str = "toy", counter: str = "thop", raw: int = 10) -> dict:
    key = results.Key(cell, model, counter)
    return results.record(key, "ok", probe=probe_document(cell, model, counter, raw), host=host())


def failed(
    cell: str = "torch-x",
    model: str = "toy",
    counter: str = "thop",
    status: str = "failed",
    reason: str = "probe exited with code 1: boom",
) -> dict:
    return results.record(results.Key(cell, model, counter), status, reason=reason, log_tail="boom", host=host())


def check_every_item_is_placed(made: Callable[[], dict], layer: str = "gru") -> None:
    """counted = reference + adjustments + residual under every convention; an item tampered by 3
    (the third of the breakdown, on `layer`) is residual at that layer alone."""
    for convention in PRESETS.values():
        for tampered in (False, True):
            rec = made()
            if tampered:
                rec["probe"]["breakdown"]["items"][2]["raw"] += 3
                rec["probe"]["raw_total"] += 3
            result = reconcile(rec, convention)
            assert result.total == result.reference + sum(a.flops for a in result.adjustments) + result.residual
            assert Counter(r.place for r in result.residuals) == (Counter({layer: 1}) if tampered else Counter())


def item(name: str, raw: int, rule: str, **more: object) -> dict:
    """One item of a per-module counter's breakdown, as its probe function writes it."""
    return {"name": name, "type": "?", "raw": raw, "rule": rule, **more}


def module_record(
    job: str,
    definition: dict,
    items: list[dict],
    config: dict[str, dict],
    tool: str = "?",
    cell: str = "torch-latest",
    total: int | None = None,
    framework: str = "2.13.0+cpu",
    nodes: tuple = (),
) -> dict:
    """A record of a counter that reports per module: `items` as its breakdown, `config` module -> the options
    build_torch.describe records for the modules the items name (the model's own forward is no module)."""
    names = [name for name in dict.fromkeys(i["name"] for i in items) if not name.startswith("(")]
    probe = {
        "counter": job,
        "raw_total": sum(i["raw"] for i in items) if total is None else total,
        "breakdown": {"by": catalog.COUNTERS[variants.split(job)[0]].breakdown, "items": items},
        "nodes": list(nodes),
        "layers": [{"name": name, "class": "?", "params": 0, "config": config.get(name, {})} for name in names],
        "definition": definition,
        "definition_sha256": zoo.fingerprint(definition),
        "provenance": {
            "counter_tool": {"name": variants.split(job)[0].split("-")[0], "version": tool},
            "framework": {"name": "torch", "version": framework},
        },
    }
    return {"cell": cell, "model": "m", "job": job, "probe": probe}


def graph_record(
    job: str,
    definition: dict,
    nodes: list[dict],
    tool: tuple[str, str],
    framework: tuple[str, str] = ("tensorflow", "2.5.3"),
    cell: str = "tf-x",
    total: int | None = None,
    items: tuple = (),
    unsupported: tuple = (),
) -> dict:
    """A record of a counter that reports a graph's nodes: the total their sum unless given, the breakdown's
    label the one its catalog entry declares; `tool` and `framework` as (name, version)."""
    probe = {
        "counter": job,
        "raw_total": sum(n["raw"] for n in nodes) if total is None else total,
        "breakdown": {"by": catalog.COUNTERS[variants.split(job)[0]].breakdown, "items": list(items)},
        "nodes": nodes,
        "layers": [],
        "unsupported": list(unsupported),
        "definition": definition,
        "definition_sha256": zoo.fingerprint(definition),
        "provenance": {
            "counter_tool": {"name": tool[0], "version": tool[1]},
            "framework": {"name": framework[0], "version": framework[1]},
        },
    }
    return {"cell": cell, "model": "m", "job": job, "probe": probe}


def by_cause(result: Reconciliation) -> dict[tuple[str, str], float]:
    """Adjustments summed per (cause, layer): a GRU's activations are one adjustment per function."""
    found: dict[tuple[str, str], float] = {}
    for adjustment in result.adjustments:
        key = (adjustment.cause, adjustment.layer)
        found[key] = found.get(key, 0) + adjustment.flops
    return found


def predicted(rec: dict) -> int:
    """What the record's counter's rule model predicts for the whole record, in the tool's unit."""
    probe = rec["probe"]
    return sum(i.expected for i in adapter_for(rec["job"]).read(probe["definition"], probe).items)


def check_the_rule_model_predicts(made: Callable[[], dict], measured: int) -> None:
    """The record `made` (from a test's hand counts) holds what a container counted, and its counter's rule model
    predicts exactly that; one item counted one more than its rules make departs from the prediction."""
    assert made()["probe"]["raw_total"] == measured == predicted(made())
    tampered = made()
    tampered["probe"]["breakdown"]["items"][0]["raw"] += 1
    tampered["probe"]["raw_total"] += 1
    assert predicted(tampered) == measured != tampered["probe"]["raw_total"]


def default_signals() -> None:
    """For a child process that is sent SIGINT: its default handling, even where the tests were started in the
    background (a shell's `&` starts them with SIGINT ignored, which the run would keep, as a background job should)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
