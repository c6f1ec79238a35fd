"""One declaration per counter: the catalog entry, its probe function and its adapter, checked both ways
when bench.counters is imported. A small counter is added here in temporary files exactly as the docs
say (an entry, a probe module, an adapter module), and each part left out is refused in one line."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from bench import counters as registry
from bench import paths
from bench.counters import ADAPTERS, Adapter, CounterError, Unit
from bench.probe import catalog
from bench.records import results
from tests import samples

FAKE = {
    "name": "fake",
    "framework": "torch",
    "unit": "MAC",
    "recipe": "fake.count(model): a test's counter",
    "module": "count_fake",
    "function": "fake_count",
    "breakdown": "module",
}
PROBE_MODULE = '''"""A fake counter: its probe module, with its catalog entry."""


def fake_count(model_name):
    import answer

    return answer.make(1, [{"name": "fc", "raw": 1}], [], ("torch", "0"), ("fake", "0"))


COUNTERS = {
    "fake": {
        "framework": "torch",
        "unit": "MAC",
        "recipe": "fake.count(model): a test's counter",
        "function": "fake_count",
        "breakdown": "module",
    },
}
'''
ADAPTER_MODULE = '''"""A fake counter's adapter: the module bench/counters/ would hold."""

from bench.counters.base import Adapter, Reading

ADAPTERS = (Adapter("fake", "fake tool", lambda definition, probe: Reading([])),)
'''


def add_counter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, probe: str = PROBE_MODULE) -> Path:
    """The two files adding a counter writes: its probe module with its entry (beside a copy of the probe's
    own), and its adapter module (in a package of adapters)."""
    folder = tmp_path / "probe"
    folder.mkdir()
    for source in paths.PROBE.glob("*.py"):
        (folder / source.name).write_text(source.read_text())
    (folder / "count_fake.py").write_text(probe)
    package = tmp_path / "fakecounters"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "fake.py").write_text(ADAPTER_MODULE)
    for name in [n for n in sys.modules if n.split(".")[0] == "fakecounters"]:  # another test's package
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.syspath_prepend(str(tmp_path))
    return folder


def entry(**fields: object) -> catalog.Counter:
    return catalog.Counter(**{**FAKE, **fields})


def test_the_project_declares_every_counter_once_in_each_place() -> None:
    assert registry.check(catalog.COUNTERS, registry.discover(), paths.PROBE) == ADAPTERS
    assert list(ADAPTERS) == list(catalog.COUNTERS)
    assert all(ADAPTERS[name].counter == name for name in ADAPTERS)


def test_a_counter_added_as_the_docs_say_is_accepted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    probe = add_counter(tmp_path, monkeypatch)
    entries = catalog.collect(str(probe))
    assert set(entries) == set(catalog.COUNTERS) | {"fake"} and entries["fake"].module == "count_fake"
    monkeypatch.setattr(catalog, "COUNTERS", entries)
    adapters = registry.check(entries, registry.discover() + registry.discover("fakecounters"), probe)
    assert set(adapters) == set(ADAPTERS) | {"fake"}
    assert adapters["fake"].tool == "fake tool" and adapters["fake"].unit is Unit.MAC  # the unit: the catalog's


def test_a_catalog_entry_without_its_probe_function_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    probe = add_counter(tmp_path, monkeypatch, PROBE_MODULE.replace("def fake_count", "def other_count"))
    entries = catalog.collect(str(probe))
    with pytest.raises(CounterError, match=r"^counter fake: no function fake_count in the probe's count_fake.py$"):
        registry.check(entries, registry.discover() + registry.discover("fakecounters"), probe)
    with pytest.raises(CounterError, match="^counter fake: no function fake_count in the probe's count_none.py$"):
        registry.check({"fake": entry(module="count_none")}, registry.discover("fakecounters"), probe)


def test_a_catalog_entry_without_an_adapter_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    probe = add_counter(tmp_path, monkeypatch)
    entries = catalog.collect(str(probe))
    with pytest.raises(CounterError, match="^counter fake: a catalog entry but no adapter in bench/counters/$"):
        registry.check(entries, registry.discover(), probe)


def test_an_adapter_without_a_catalog_entry_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    probe = add_counter(tmp_path, monkeypatch)
    with pytest.raises(CounterError, match=r"^counter fake: an adapter \('fake tool'\) but no catalog entry$"):
        registry.check(catalog.COUNTERS, registry.discover() + registry.discover("fakecounters"), probe)
    twice = [*registry.discover(), Adapter("thop", "thop again", ADAPTERS["thop"].read)]
    with pytest.raises(CounterError, match=r"^counter thop: two adapters"):
        registry.check(catalog.COUNTERS, twice, paths.PROBE)


def test_an_adapter_module_without_adapters_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    add_counter(tmp_path, monkeypatch)
    (tmp_path / "fakecounters" / "fake.py").write_text('"""No ADAPTERS here."""\n')
    with pytest.raises(CounterError, match="^adapter module fakecounters.fake declares no ADAPTERS$"):
        registry.discover("fakecounters")


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"unit": "FLOPS"}, "counter fake: unit 'FLOPS' is none of FLOP, MAC"),
        ({"breakdown": "layer"}, "counter fake: breakdown 'layer' is none of"),
        ({"framework": "mxnet"}, "counter fake: framework 'mxnet' is none of"),
        ({"colour": "red"}, "counter fake: missing [], unknown ['colour']"),
    ],
)
def test_a_catalog_entry_is_checked_when_declared(fields: dict, words: str) -> None:
    with pytest.raises(ValueError, match="^" + re.escape(words)):
        entry(**fields)
    assert entry().flops_per_unit == 2 and entry(unit="FLOP").flops_per_unit == 1


def test_a_catalog_entry_missing_a_field_or_declared_twice_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fields = {k: v for k, v in FAKE.items() if k != "function"}
    with pytest.raises(ValueError, match=r"^counter fake: missing \['function'\], unknown \[\]$"):
        catalog.Counter(**fields)
    probe = add_counter(tmp_path, monkeypatch)
    (probe / "count_fake2.py").write_text(PROBE_MODULE)
    with pytest.raises(ValueError, match="^counter fake: declared in count_fake and count_fake2$"):
        catalog.collect(str(probe))
    (probe / "count_fake2.py").write_text("def fake_count(model_name):\n    return {}\n")
    with pytest.raises(ValueError, match=r"^count_fake2.py: declares no COUNTERS literal"):
        catalog.collect(str(probe))


def test_the_record_schema_knows_every_breakdown_the_catalog_declares() -> None:
    by = results.load_schema("probe-3.schema.json")["properties"]["breakdown"]["properties"]["by"]["enum"]
    assert sorted(by) == sorted(catalog.BREAKDOWNS)
    assert {entry.breakdown for entry in catalog.COUNTERS.values()} == set(catalog.BREAKDOWNS)


def nodes_record(counter: str, nodes: list[int], total: int) -> dict:
    probe = samples.probe_document(counter=counter, raw=total)
    probe["nodes"] = [{"name": f"n{i}", "raw": raw} for i, raw in enumerate(nodes)]
    return json.loads(json.dumps(probe))


def test_the_nodes_must_add_up_where_the_catalog_says_they_carry_the_count() -> None:
    assert catalog.COUNTERS["torchprofile"].nodes_add_up and not catalog.COUNTERS["keras3-jax-xla"].nodes_add_up
    results._check_sums(nodes_record("torchprofile@meta", [6, 4], 10))
    with pytest.raises(results.InvalidRecord, match="probe nodes add up to 9, not raw_total 10"):
        results._check_sums(nodes_record("torchprofile@meta", [5, 4], 10))
    results._check_sums(nodes_record("keras3-jax-xla", [0, 0], 10))  # XLA's nodes are evidence: raw 0 each
