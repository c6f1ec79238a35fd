import copy
import errno
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from bench import paths
from bench.records import results
from tests import samples
from tests.test_recorded import tamper


def test_a_measurement_lands_in_its_own_file(tmp_path: Path) -> None:
    path = results.write(tmp_path, samples.ok())
    assert path == tmp_path / "torch-x" / "toy" / "thop.json"
    assert json.loads(path.read_text())["probe"]["flops"] == 20
    assert [p.name for p in path.parent.iterdir()] == ["thop.json"]  # no temporary files left


def test_a_failure_never_replaces_a_measurement(tmp_path: Path) -> None:
    results.write(tmp_path, samples.ok(raw=7))
    failure = results.write(tmp_path, samples.failed())
    assert failure.name == "thop.failed.json"
    standing = json.loads((tmp_path / "torch-x" / "toy" / "thop.json").read_text())
    assert standing["probe"]["raw_total"] == 7
    assert {e["status"] for e in results.load(tmp_path).records} == {"ok", "failed"}


def test_a_new_measurement_clears_the_failure_beside_it(tmp_path: Path) -> None:
    results.write(tmp_path, samples.failed())
    results.write(tmp_path, samples.ok(raw=9))
    assert [e["status"] for e in results.load(tmp_path).records] == ["ok"]


def test_unknown_status_is_refused() -> None:
    with pytest.raises(ValueError, match="status 'maybe'"):
        results.record(results.Key("a", "b", "c"), "maybe")


def test_project_commit_names_a_commit() -> None:
    commit = results.project_commit()
    assert len(commit.removesuffix("+dirty")) == 40 or commit.startswith("unknown")


# Loading: every committed record is readable and valid; each way of breaking one is named, and
# the other records are still loaded.


def test_every_committed_record_loads_without_a_problem() -> None:
    loaded = results.load(paths.RESULTS)
    assert loaded.problems == [] and loaded.older == []
    assert len(loaded.records) >= 20


def committed_copy(tmp_path: Path) -> Path:
    """The committed records of the blog's two models, in every cell (what these tests break and read)."""
    copied = tmp_path / "results"
    for model in ("seed", "seed-conv"):
        for record in paths.RESULTS.glob(f"*/{model}/*.json"):
            target = copied / record.relative_to(paths.RESULTS)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(record, target)
    return copied


def edited(change: Callable[[dict], object]) -> Callable[[Path], None]:
    """Breaks a record file by changing its JSON."""

    def breaks(path: Path) -> None:
        record = json.loads(path.read_text())
        change(record)
        path.write_text(json.dumps(record))

    return breaks


TF = "tf-2.5.3/seed/tf-profiler-seed.json"
THOP = "torch-latest/seed-conv/thop.json"
CHECK = "twins/seed/equivalence.json"
FAILED = "tf-2.3.1/seed/tf-profiler-seed.failed.json"


def _probe(key: str, value: object) -> Callable[[dict], object]:
    return lambda record: record["probe"].__setitem__(key, value)


def _add(key: str, amount: int) -> Callable[[dict], object]:
    return lambda record: record["probe"].__setitem__(key, record["probe"][key] + amount)


BREAKAGES = [
    # (file, how it is broken, words the reason must hold)
    (TF, lambda p: p.write_text(p.read_text()[: len(p.read_text()) // 2]), "not valid JSON: "),
    (FAILED, lambda p: p.write_bytes(b"\xff\xfe{}"), "not UTF-8 text"),
    (FAILED, lambda p: p.write_text("[1, 2]"), "at the top level: [1, 2] is not of type 'object'"),
    (FAILED, lambda p: p.write_text('{"something": "else"}'), "breaks schema flops-matrix/result/2"),
    (FAILED, lambda p: (p.unlink(), p.mkdir()), "cannot read: Is a directory"),
    (TF, edited(lambda r: r.__setitem__("schema", "flops-matrix/result/1")), "at schema"),
    (TF, edited(lambda r: r.__setitem__("status", "maybe")), "at status: 'maybe'"),
    (TF, edited(lambda r: r.__setitem__("kind", "guess")), "at kind: 'guess'"),
    (TF, edited(lambda r: r.pop("host")), "'host' is a required property"),
    (TF, edited(lambda r: r["host"].pop("image")), "at host: 'image' is a required"),
    (TF, edited(_probe("unit", "GFLOP")), "flops-matrix/probe/3 at probe/unit"),
    (TF, edited(_probe("counter", "thop")), "probe document is of counter 'thop'"),
    (TF, edited(_add("raw_total", 1000)), "probe flops 22,751,397 is not raw_total 22,752,397"),
    (
        TF,
        edited(lambda r: (_add("raw_total", 1000)(r), _add("flops", 1000)(r))),
        "probe breakdown items add up to 22,751,397, not raw_total 22,752,397",
    ),
    (TF, edited(lambda r: r["probe"]["nodes"][0].__setitem__("raw", r["probe"]["nodes"][0]["raw"] + 5)), "nodes add"),
    (THOP, edited(_add("raw_total", 1)), "probe flops 12,614,656 is not raw_total 6,307,329"),
    (CHECK, edited(lambda r: r["probe"]["result"].pop("tolerance")), "'tolerance' is"),
    (CHECK, edited(_probe("holds", "yes")), "flops-matrix/check/1 at probe/holds"),
    (
        "torch-1.10.1/seed-conv/thop.json",
        lambda p: shutil.copy(p.parent.parent.parent / THOP, p),
        "holds cell 'torch-latest', model 'seed-conv', job 'thop', status 'ok', which belongs at " + THOP,
    ),
]


@pytest.mark.parametrize(("name", "breaks", "words"), BREAKAGES)
def test_a_broken_record_is_named_with_the_reason_and_the_rest_still_load(
    tmp_path: Path, name: str, breaks: Callable[[Path], object], words: str
) -> None:
    where = committed_copy(tmp_path)
    before = len(results.load(where).records)
    breaks(where / name)
    loaded = results.load(where)
    assert [p.path for p in loaded.problems] == [name]
    assert words in loaded.problems[0].reason
    assert "\n" not in str(loaded.problems[0]) and len(loaded.problems[0].reason) <= results.REASON_CHARS
    assert len(loaded.records) == before - 1


def test_the_same_edits_consistently_made_are_not_problems(tmp_path: Path) -> None:
    """The twin of the arithmetic checks: a count changed in node, breakdown and totals alike is a
    valid record (the reconciliation then shows it as residual, see test_recorded)."""
    where = committed_copy(tmp_path)
    path = where / TF
    path.write_text(json.dumps(tamper(json.loads(path.read_text()), "gru/gru_cell_1/MatMul", 1000)))
    assert results.load(where).problems == []


def older(record: dict) -> dict:
    record = copy.deepcopy(record)
    record["probe"]["schema"] = "flops-matrix/probe/2"
    for later in ("definition", "definition_sha256", "layers"):
        record["probe"].pop(later)
    return record


def test_a_record_of_an_older_probe_is_kept_and_marked(tmp_path: Path) -> None:
    results.write(tmp_path, older(samples.ok()))
    loaded = results.load(tmp_path)
    assert len(loaded.records) == 1 and loaded.problems == []
    assert [str(p) for p in loaded.older] == [
        "torch-x/toy/thop.json: probe schema flops-matrix/probe/2, not flops-matrix/probe/3"
    ]


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda p: p.__setitem__("raw_total", 11), "probe flops 20 is not raw_total 11"),
        (lambda p: p.pop("flops"), "(older) at probe: 'flops' is a required property"),
        (lambda p: p.__setitem__("schema", "something/else"), "does not match"),
    ],
)
def test_an_older_record_is_still_checked_for_what_the_report_reads(
    tmp_path: Path, change: Callable[[dict], object], words: str
) -> None:
    record = older(samples.ok())
    change(record["probe"])
    results.write(tmp_path, record)
    loaded = results.load(tmp_path)
    assert loaded.records == [] and words in loaded.problems[0].reason


# Writing: atomically, and a failure names the path and leaves the earlier file as it was.


def full_disk(*_: object) -> None:
    raise OSError(errno.ENOSPC, "No space left on device")


def survives_a_full_disk(tmp_path: Path, write: Callable[[Path, str], None], monkeypatch: pytest.MonkeyPatch) -> bool:
    target = tmp_path / "README.md"
    target.write_text("earlier report\n")
    with monkeypatch.context() as patched:
        patched.setattr(os, "fsync", full_disk)
        with pytest.raises((results.Unwritable, OSError)):
            write(target, "new report\n")
    return target.read_text() == "earlier report\n" and [p.name for p in tmp_path.iterdir()] == ["README.md"]


def test_a_full_disk_leaves_the_earlier_file_and_names_the_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert survives_a_full_disk(tmp_path, results.write_text_atomically, monkeypatch)
    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(results.Unwritable) as raised:
        results.write_text_atomically(tmp_path / "README.md", "x")
    assert str(raised.value) == f"cannot write {tmp_path / 'README.md'}: No space left on device"


def test_a_plain_write_on_a_full_disk_is_seen_to_truncate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The twin: what Path.write_text does when the disk is full (truncate, then fail) is caught."""

    def write_text(target: Path, text: str) -> None:
        with target.open("w") as handle:
            os.fsync(handle.fileno())
            handle.write(text)

    assert not survives_a_full_disk(tmp_path, write_text, monkeypatch)


def test_an_atomic_write_replaces_the_file(tmp_path: Path) -> None:
    target = tmp_path / "README.md"
    target.write_text("earlier report\n")
    results.write_text_atomically(target, "new report\n")
    assert target.read_text() == "new report\n" and [p.name for p in tmp_path.iterdir()] == ["README.md"]


def test_a_folder_under_a_regular_file_is_unwritable(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    where = tmp_path / "file" / "results"
    for attempt in (lambda: results.ensure_writable(where), lambda: results.write(where, samples.ok())):
        with pytest.raises(results.Unwritable, match=f"cannot write {tmp_path / 'file'}.*: Not a directory"):
            attempt()
    results.ensure_writable(tmp_path / "fine" / "deeper")  # the twin: a folder that can be made is writable
    assert list(tmp_path.iterdir()) == [tmp_path / "file"]  # and is not made before something is written


def test_the_record_schema_lists_the_statuses_and_kinds_the_code_writes() -> None:
    schema = json.loads((paths.SCHEMAS / "result-2.schema.json").read_text())["properties"]
    assert schema["schema"]["const"] == results.SCHEMA
    assert tuple(schema["status"]["enum"]) == results.STATUSES and tuple(schema["kind"]["enum"]) == results.KINDS
    for status in results.STATUSES:  # the twin: what record() refuses, the schema refuses too
        results.validate(samples.failed(status=status) if status != "ok" else samples.ok())
    with pytest.raises(results.InvalidRecord, match="at status"):
        results.validate(samples.failed() | {"status": "maybe"})
