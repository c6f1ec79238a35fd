"""What `nox -s report` publishes besides the README: flops.csv/json, the site, the charts, the
comparison. Each property is also shown to fail on something made wrong."""

from __future__ import annotations

import copy
import csv
import dataclasses
import io
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from bench import cli
from bench.explain import rows
from bench.explain.reconcile import Cause
from bench.publish import charts, compare, export, page, report
from bench.publish.headings import columns, pinned
from bench.records import results
from bench.records.memo import Memo
from tests import samples
from tests.test_report import seed_conv

HOSTILE = 'a|b,"c"\n<script>alert(1)</script>&amp'


def measured(model: str = "seed-conv", cell: str = "torch-x", raw: int = 6307328) -> dict:
    """seed_conv's record, placed in another cell and with another total (kept consistent)."""
    entry = seed_conv(model)
    entry["cell"] = entry["probe"]["cell"] = cell
    delta = raw - entry["probe"]["raw_total"]
    entry["probe"]["raw_total"] = raw
    entry["probe"]["flops"] = 2 * raw
    entry["probe"]["breakdown"]["items"][0]["raw"] += delta
    return entry


def records() -> list[dict]:
    return [
        measured(),
        measured(cell="torch-y", raw=6307328 + 5),
        samples.failed("tf-x", "seed-conv", "tf-profiler-seed"),
    ]


def write_records(where: Path, entries: list[dict]) -> None:
    for entry in entries:
        results.write(where, entry)


# Deterministic bytes


def test_the_same_records_give_the_same_bytes(tmp_path: Path) -> None:
    first = report.publish(records()).files
    assert first == report.publish(copy.deepcopy(records())).files
    write_records(tmp_path, records())
    report.write(tmp_path)
    written = {p: p.read_bytes() for p in sorted(tmp_path.rglob("*")) if p.is_file() and p.suffix != ".json"}
    report.write(tmp_path)
    assert written == {p: p.read_bytes() for p in sorted(tmp_path.rglob("*")) if p.is_file() and p.suffix != ".json"}
    assert set(first) >= {*report.OUTPUTS, "models/seed-conv.md", "site/models/seed-conv.html"}


def test_a_changed_record_changes_every_output() -> None:
    before = report.publish(records()).files
    changed = records()
    changed[1] = measured(cell="torch-y", raw=6307328 + 700_000)
    after = report.publish(changed).files
    for name in ("README.md", "flops.csv", "flops.json", "site/index.html", "models/seed-conv.md"):
        assert before[name] != after[name], name


def test_charts_of_models_no_longer_reported_are_removed(tmp_path: Path) -> None:
    write_records(tmp_path, [measured(), measured("other")])
    report.write(tmp_path)
    gone = tmp_path / "charts" / charts.file_name("other", "totals")
    assert gone.is_file()
    (tmp_path / "torch-x" / "other" / "thop.json").unlink()
    report.write(tmp_path)
    assert not gone.exists() and (tmp_path / "charts" / charts.file_name("seed-conv", "totals")).is_file()


# Column headings: the pins, and never the framework twice


def outputs(where: Path) -> dict[str, bytes]:
    return {
        p.relative_to(where).as_posix(): p.read_bytes()
        for p in sorted(where.rglob("*"))
        if p.is_file() and p.suffix != ".json"
    }


def test_a_report_from_the_memo_is_the_report_from_the_records(tmp_path: Path) -> None:
    fresh, remembered, memo = tmp_path / "fresh", tmp_path / "remembered", tmp_path / "memo"
    write_records(fresh, records())
    write_records(remembered, records())
    report.write(remembered, memo=Memo(memo))  # fills the memo
    changed = measured(cell="torch-y", raw=6307328 + 700_000)  # then a run changes one record
    write_records(fresh, [changed])
    write_records(remembered, [changed])
    kept = Memo(memo)
    report.write(remembered, memo=kept)
    report.write(fresh)
    assert outputs(remembered) == outputs(fresh)
    assert len(kept.reconciled) == 3 and len(Memo(memo).reconciled) == 2  # the replaced record's is dropped


def test_a_memo_hit_is_what_the_report_uses(tmp_path: Path) -> None:
    """The twin: were the memo keyed by anything but the record's bytes, a stale entry would show."""
    write_records(tmp_path, [measured()])
    report.write(tmp_path, memo=Memo(tmp_path / "memo"))
    memo = Memo(tmp_path / "memo")
    (key,) = memo.reconciled
    reconciled, why, row = memo.reconciled[key]  # type: ignore[misc]
    memo.reconciled[key] = (reconciled, why, dataclasses.replace(row, flops=1.0))
    report.write(tmp_path, memo=memo)
    (written,) = csv.DictReader(io.StringIO((tmp_path / "flops.csv").read_text()))
    assert float(written["flops"]) == 1.0


def test_a_column_names_the_counter_and_framework_pins() -> None:
    row = report.rows_of([measured()])[0]
    assert pinned(row.pinned) == "thop 0.1.1-2209072238 @ torch 1.10.1"
    inside = measured()
    inside["probe"]["provenance"]["counter_tool"] = {"name": "torch", "version": "1.10.1"}
    assert pinned(report.rows_of([inside])[0].pinned) == "thop @ torch 1.10.1"  # the adapter's name, no second version


def test_a_run_variant_is_named_after_its_counter() -> None:
    entry = samples.ok(counter="torch-flop-counter@compiled")
    entry["probe"]["provenance"]["counter_tool"] = {"name": "torch", "version": "1.10.1"}
    assert pinned(report.rows_of([entry])[0].pinned) == "FlopCounterMode @ torch 1.10.1"
    unknown = samples.ok(counter="nothing-known@compiled")
    unknown["probe"]["provenance"]["counter_tool"] = {"name": "torch", "version": "1.10.1"}
    assert pinned(report.rows_of([unknown])[0].pinned) == "nothing-known@compiled @ torch 1.10.1"


def test_columns_the_pins_cannot_tell_apart_get_the_cell() -> None:
    heading = columns(report.rows_of(records()))
    assert list(heading.values()) == [
        "thop 0.1.1-2209072238 @ torch 1.10.1 (torch-x)",
        "thop 0.1.1-2209072238 @ torch 1.10.1 (torch-y)",
    ]
    assert len(set(heading.values())) == len(heading)


def test_the_readme_answers_first_then_sums_up_then_links_each_model() -> None:
    text = report.publish(records()).files["README.md"]
    first_table = next(line for line in text.splitlines() if line.startswith("|"))
    assert first_table == "| model | thop (thop 0.1.1-2209072238) |"  # no blog model among these records
    assert "| [`seed-conv`](models/seed-conv.md) | 94.1% |" in text
    assert text.index(first_table) < text.index("## One page per model") < text.index("- [`seed-conv`](models/")
    page = report.publish(records()).files["models/seed-conv.md"]
    assert "![Every counter's total, with the reference as a dashed line](../charts/seed-conv-" in page
    assert page.index("**The answer**" if "**The answer**" in page else "each counter's total, explained") > 0


def test_the_summary_has_at_most_twelve_columns_and_names_what_it_leaves_out() -> None:
    many = [measured(cell=f"torch-{i}") for i in range(3)]
    found = report.front.summary(report.rows_of(many))
    assert len(found.families) + 1 <= report.front.MAX_COLUMNS and found.left_out == ()
    widened = [dataclasses.replace(r, family=f"family {i:02}") for i in range(14) for r in report.rows_of(many)]
    found = report.front.summary(widened)
    assert len(found.families) + 1 == report.front.MAX_COLUMNS  # the twin: 14 families, 11 shown
    assert found.left_out == ("family 11", "family 12", "family 13")


def test_model_pages_are_named_safely() -> None:
    assert report.page_name("seed-conv@8x1x100x256") == "seed-conv@8x1x100x256"
    assert report.page_name("../etc/passwd").startswith("etc-passwd-") and "/" not in report.page_name("a/b")


def test_the_readme_says_how_to_cite_a_row() -> None:
    text = report.render(records())
    cite = text.split("## How to cite a row")[1]  # in details.md
    assert "image inputs x" in cite and "FLOPs Matrix commit 0123456789ab" in cite
    assert "--cells CELL --models MODEL" in cite
    dirty = records()
    dirty[0]["host"]["project_commit"] = "0123456789abcdef+dirty"
    assert "FLOPs Matrix commit 0123456789ab+dirty" in report.render(dirty)


# flops.csv and flops.json


NUMERIC = ["raw_total", "flops_per_unit", "flops", "reference", *(f"adjustment_{c}" for c in Cause)]
NUMERIC += ["residual", "share_of_reference"]


def frame_problems(frame: pd.DataFrame) -> list[str]:
    """What a user loading flops.csv would trip on: missing columns, numbers read as text."""
    found = [f"columns {list(frame.columns)}"] if list(frame.columns) != export.NAMES else []
    found += [f"{c} is {frame[c].dtype}" for c in NUMERIC if c in frame and not pd.api.types.is_numeric_dtype(frame[c])]
    if "raw_total" in frame and frame["raw_total"].dtype != "int64":
        found.append(f"raw_total is {frame['raw_total'].dtype}")
    found += [
        f"{c} is {frame[c].dtype}"
        for c in ("model", "cell", "counter", "pins")
        if c in frame and frame[c].dtype.kind not in "OT"
    ]
    return found


def test_the_csv_loads_in_pandas_with_its_columns_and_types() -> None:
    text = report.publish(records()).files["flops.csv"]
    frame = pd.read_csv(io.StringIO(text), keep_default_na=False, na_values=[""])
    assert frame_problems(frame) == []
    assert len(frame) == 2 and frame["raw_total"].tolist() == [6307328, 6307333]
    assert frame["reference"].tolist() == [13403072, 13403072] and frame["adjustment_bias"].tolist() == [
        -394208,
        -394208,
    ]
    assert frame["pins"][0] == "thop==0.0.31"


def test_a_csv_with_numbers_as_text_is_seen() -> None:
    text = report.publish(records()).files["flops.csv"].replace(",13403072,", ',"13,403,072",', 1)
    frame = pd.read_csv(io.StringIO(text), keep_default_na=False, na_values=[""])
    assert frame_problems(frame) == ["reference is object"] or "reference is str" in frame_problems(frame)[0]


def test_the_json_holds_the_same_rows() -> None:
    files = report.publish(records()).files
    document = json.loads(files["flops.json"])
    assert document["columns"] == export.NAMES and len(document["rows"]) == 2
    assert document["rows"][0]["pins"] == ["thop==0.0.31"] and document["rows"][0]["residual"] == 0


def hostile_records() -> list[dict]:
    entry = measured(HOSTILE)
    entry["probe"]["provenance"]["counter_tool"]["name"] = HOSTILE
    failed = samples.failed("tf-x", HOSTILE, "thop", reason=HOSTILE)
    return [entry, measured(), failed]


def test_hostile_names_stay_one_field_of_the_csv() -> None:
    text = report.publish(hostile_records()).files["flops.csv"]
    parsed = list(csv.reader(io.StringIO(text)))
    assert {len(line) for line in parsed} == {len(export.NAMES)} and len(parsed) == 3
    assert [line[0] for line in parsed[1:]] == [HOSTILE, "seed-conv"]
    frame = pd.read_csv(io.StringIO(text), keep_default_na=False, na_values=[""])
    assert frame["model"].tolist() == [HOSTILE, "seed-conv"]


def test_a_csv_without_quoting_is_seen_to_break(monkeypatch: pytest.MonkeyPatch) -> None:
    def naive(rows_: list[rows.Row]) -> str:
        lines = [",".join(export.NAMES)]
        lines += [",".join(str(v) for v in r.values()) for r in export.flat(rows_)]
        return "\n".join(lines) + "\n"

    monkeypatch.setattr(export, "to_csv", naive)
    parsed = list(csv.reader(io.StringIO(report.publish(hostile_records()).files["flops.csv"])))
    assert {len(line) for line in parsed} != {len(export.NAMES)}


# The site: results/site/*.html


class Elements(HTMLParser):
    """Every start tag of a page, with its attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def html_damage(text: str) -> list[str]:
    """Script or event-handler markup a record smuggled in, and anything the page would fetch (a link to
    another page is followed only when clicked)."""
    parser = Elements()
    parser.feed(text)
    found = [tag for tag, _ in parser.tags if tag in ("script", "iframe", "img", "link", "object")]
    for _, attrs in parser.tags:
        found += [f"{k}={v}" for k, v in attrs.items() if k.startswith("on") or k == "src"]
        found += [f"{k}={v}" for k, v in attrs.items() if k == "href" and (v or "").lower().startswith(_SCHEMES)]
    return found


_SCHEMES = ("javascript:", "data:", "vbscript:")


def site(files: dict[str, str]) -> dict[str, str]:
    return {name: text for name, text in files.items() if name.startswith(f"{report.SITE}/")}


def test_the_pages_are_self_contained_and_escape_whatever_a_record_holds() -> None:
    pages = site(report.publish(hostile_records()).files)
    assert len(pages) == 2 + 2  # the index, the details, one page per model
    assert {name: html_damage(text) for name, text in pages.items()} == dict.fromkeys(pages, [])
    assert all("&lt;script&gt;alert(1)&lt;/script&gt;&amp;amp" in pages[name] for name in ("site/index.html",))
    assert sum(text.count('<figure class="chart"') for text in pages.values()) == 3 * 2


def test_the_same_pages_without_escaping_are_seen_to_break(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(page, "_e", str)
    monkeypatch.setattr(report.front, "_e", str)
    assert any(html_damage(text) for text in site(report.publish(hostile_records()).files).values())


def test_a_link_that_would_run_or_fetch_something_is_seen() -> None:
    assert html_damage('<a href="../index.html">x</a><a href="#m">y</a>') == []
    assert html_damage('<a href="javascript:alert(1)">x</a><img src="https://x/y.png">') != []


def test_the_details_page_lists_provenance_and_the_cells_not_run() -> None:
    text = report.publish(records()).files["site/details.html"]
    provenance = text.split("id=provenance")[1].split("</table>")[0]
    assert "flops-matrix/base:bullseye" in provenance and "0123456789ab" in provenance
    not_run = text.split("id=not-run")[1]
    assert "probe exited with code 1: boom" in not_run and "tf-profiler-seed" in not_run


def test_the_summary_is_coloured_by_distance_from_the_reference() -> None:
    assert page.colour(1.0) == "#ffffff"
    assert page.colour(0.5) != page.colour(1.5) != page.colour(1.0)
    assert page.colour(None) == "#eeeeee"


# --compare


def test_compare_names_the_rows_and_adjustments_that_moved() -> None:
    old = report.rows_of([measured(), measured(cell="torch-y")])
    later = measured(cell="torch-y", raw=6307328 + 5)
    later["probe"]["provenance"]["counter_tool"]["version"] = "0.1.2"
    new = report.rows_of([measured(), later, measured("other")])
    said = compare.compare(old, new)
    assert said.startswith("2 rows changed, added or gone; 1 row unchanged.")
    row = next(line for line in said.splitlines() if "torch-y" in line)
    assert "thop 0.1.1-2209072238 @ torch 1.10.1 → thop 0.1.2 @ torch 1.10.1" in row
    assert "| 12,614,656 | 12,614,666 | + 10 | residual: 0 → 10 |" in row
    assert re.search(r"`other` .*\| - \| 12,614,656 \| added \|", said)
    assert compare.compare(old, old).startswith("0 rows changed")  # the twin: nothing moved


def test_compare_with_a_folder_that_is_not_results_says_so_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    write_records(tmp_path / "new", [measured()])
    (tmp_path / "empty").mkdir()
    for old in (tmp_path / "missing", tmp_path / "empty"):
        code = cli.main(["report", "--results", str(tmp_path / "new"), "--compare", str(old)])
        err = capsys.readouterr().err
        assert code == cli.EXIT_USAGE and err.count("\n") == 1 and str(old) in err
    assert not (tmp_path / "new" / "README.md").exists()  # nothing written
    write_records(tmp_path / "old", [measured(raw=6307328 + 2)])
    assert cli.main(["report", "--results", str(tmp_path / "new"), "--compare", str(tmp_path / "old")]) == 0
    assert "| - 4 | residual: 4 → 0 |" in capsys.readouterr().out


def test_the_layers_of_a_row_add_up_to_its_total() -> None:
    exact, off = report.rows_of([measured(), measured(cell="torch-y", raw=6307328 + 5)])
    for row in (exact, off):
        assert sum(layer.counted for layer in row.layers) == row.flops
    conv = {layer.name: layer for layer in off.layers}["conv"]
    assert conv.counted - conv.reference == off.adjustments["bias"] + off.adjustments["activation"] + 10
    assert off.residual == 10 and exact.residual == 0  # the twin: the 5 extra MACs are residual at conv alone


def test_charts_already_drawn_are_taken_from_the_cache_with_the_same_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fresh = report.publish(records()).files
    cache = charts.Cache(tmp_path / "cache")
    assert report.publish(records(), cache=cache).files == fresh
    assert len(list((tmp_path / "cache").glob("*.svg"))) == len([n for n in fresh if n.startswith("charts/")])

    def refuse(spec: dict, name: str) -> str:
        raise AssertionError(f"{name} drawn again")

    monkeypatch.setattr(charts, "svg", refuse)
    assert report.publish(records(), cache=charts.Cache(tmp_path / "cache")).files == fresh
    with pytest.raises(AssertionError, match="drawn again"):  # the twin: a changed record is drawn
        report.publish([measured(raw=7_000_000)], cache=charts.Cache(tmp_path / "cache"))


def test_the_cache_keeps_the_last_reports_charts_only(tmp_path: Path) -> None:
    report.publish(records() + [measured("other")], cache=charts.Cache(tmp_path))
    many = len(list(tmp_path.glob("*.svg")))
    report.publish(records(), cache=charts.Cache(tmp_path))
    assert len(list(tmp_path.glob("*.svg"))) == many - 3


def test_the_exact_counters_are_one_line_not_a_column_and_it_names_where_they_depart() -> None:
    thop = report.rows_of([measured()])
    equal = [dataclasses.replace(r, counter="exact", cell="torch-x", flops=r.reference) for r in thop]
    found = report.front.summary(thop + equal)
    assert found.families == ("thop (thop 0.1.1-2209072238)",)  # exact is no column
    assert "(exact, in torch-x)" in found.exact and "the reference itself on 1 of the 1 models" in found.exact
    assert "elsewhere" not in found.exact
    code = [dataclasses.replace(r, model="code", reference=None) for r in equal]  # no reference: not counted
    assert "on 1 of the 1 models" in report.front.summary(thop + equal + code).exact
    # twin: an exact count that is not the reference is named with its share
    off = [dataclasses.replace(r, flops=r.reference + 1) for r in equal]
    found = report.front.summary(thop + off)
    assert "on 0 of the 1 models" in found.exact and "seed-conv 100.0% (torch-x)" in found.exact
    assert report.front.summary(thop).exact == ""
