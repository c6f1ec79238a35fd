"""The report shows each reported model's published figures beside its counters, with source, convention
and verdict; a model without any shows none, and a figure the reference misses says so."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from bench.probe import zoo
from bench.publish import published_rows, report
from bench.reference import reproduce
from bench.reference.published import PUBLISHED, Figure, Rounding
from tests import samples


def measured(model: str, raw: int = 10) -> dict:
    """A count record of a zoo model, measured on the zoo's definition."""
    entry = samples.ok(model=model, raw=raw)
    entry["probe"]["definition"] = zoo.MODELS[model]
    entry["probe"]["definition_sha256"] = zoo.fingerprint(zoo.MODELS[model])
    return entry


def test_the_report_shows_the_published_figures_beside_the_counters() -> None:
    text = report.render([measured("vgg16")])
    row = next(line for line in text.splitlines() if line.startswith("Published for this model"))
    assert "15.3 billion FLOPs (He et al. 2015): explained (convolutions only)" in row
    assert "15.47 GFLOPS (torchvision _ops): reproduced" in row
    assert "15.47 GMACs (timm benchmark (fvcore)): reproduced" in row
    section = text.split("## Published counts", 1)[1].split("\n## ", 1)[0]
    assert "conv+matmul MACs (mac:conv = 1, mac:matmul = 1, nothing else)" in section
    assert "15,470,264,320" in section and "15,346,630,656" in section
    assert "https://arxiv.org/abs/1512.03385" in section
    assert "`resnet50`" not in section  # only the models the report shows


def test_a_figure_reproduced_under_one_reading_only_says_which() -> None:
    text = report.render([measured("resnet50"), measured("mobilenetv2")])
    assert "3.8 x 10^9 FLOPs (He et al. 2015): explained (as ResNet v1, truncated)" in text
    assert "300M MAdds (Sandler et al. 2018): reproduced (truncated)" in text
    assert "4.089 GFLOPS (torchvision _ops): reproduced;" in text


def test_a_model_without_published_figures_gets_no_column_and_no_section() -> None:
    text = report.render([samples.ok()])
    assert "Published counts" not in text and "published (source)" not in text
    # a model of the same name measured on another definition (a user's own) is not judged by the zoo's
    text = report.render([samples.ok(model="vgg16")])
    assert "Published counts" not in text and "published (source)" not in text


def test_a_figure_the_reference_misses_is_reported_as_not_reproduced(monkeypatch: pytest.MonkeyPatch) -> None:
    wrong = replace(PUBLISHED[3], figure=Figure("4.2 GFLOPS", 4.2e9, 1e6, Rounding.NEAREST))
    assert wrong.model == "resnet50"
    monkeypatch.setattr(reproduce, "PUBLISHED", (wrong,))
    text = report.render([measured("resnet50")])
    assert "4.2 GFLOPS (torchvision _ops): NOT reproduced" in text
    assert "4,089,184,256 prints as 4.089 (rounded): not reproduced (printed 4.200)" in text


def test_the_page_shows_them_too_with_every_string_escaped(monkeypatch: pytest.MonkeyPatch) -> None:
    hostile = replace(PUBLISHED[3], figure=replace(PUBLISHED[3].figure, printed="<b>4.089</b> GFLOPS"))
    monkeypatch.setattr(reproduce, "PUBLISHED", (hostile,))
    rows = published_rows.build([("resnet50", zoo.fingerprint(zoo.MODELS["resnet50"]))])
    page = published_rows.html_section(rows)
    assert "<h2 id=published>" in page and "&lt;b&gt;4.089&lt;/b&gt; GFLOPS" in page and "<b>4.089" not in page
    files = report.publish([measured("resnet50")]).files
    assert "&lt;b&gt;4.089&lt;/b&gt; GFLOPS (torchvision _ops): reproduced" in files["site/models/resnet50.html"]
    assert "&lt;b&gt;4.089&lt;/b&gt; GFLOPS" in files["site/index.html"] and "<b>4.089" not in files["site/index.html"]
    assert "\\<b\\>" not in files["README.md"] and "&lt;b&gt;4.089&lt;/b&gt;" in files["README.md"]


def test_a_source_without_an_address_is_named_without_a_link() -> None:
    rows = published_rows.build([("vgg16", zoo.fingerprint(zoo.MODELS["vgg16"]))])
    card = next(r for r in rows if not r.url)
    assert f"<td>{card.source}: timm model card of vgg16.tv_in1k" in published_rows.html_section(rows)
    assert f"| {card.source}: timm model card" in published_rows.markdown(rows)
    both = [(m, zoo.fingerprint(zoo.MODELS[m])) for m in ("vgg16", "resnet50")]
    assert [r.model for r in published_rows.build(both)] == ["resnet50"] * 3 + ["vgg16"] * 4


def _section_rows(text: str) -> dict[str, str]:
    """Published-counts rows by figure: the last column, the counters giving exactly that count."""
    section = text.split("## Published counts", 1)[1].split("\n## ", 1)[0]
    found = {}
    for line in section.splitlines():
        cells = line.split(" | ")
        if line.startswith("| `") and len(cells) > 6:
            found[cells[1]] = cells[-1].rstrip(" |")
    return found


def test_the_counters_that_give_the_count_that_prints_as_the_figure_are_named() -> None:
    column = "thop 0.0.31 @ torch 1.10.1"
    fvcore_like = _section_rows(report.render([measured("resnet50", 4_111_512_576)]))
    assert fvcore_like["4.11 GMACs"] == column
    assert fvcore_like["4.089 GFLOPS"] == fvcore_like["3.8 x 10^9 FLOPs"] == "none"
    # v1.5's conv+matmul MACs print as torchvision's figure, not as He et al.'s (that takes v1's count)
    macs = _section_rows(report.render([measured("resnet50", 4_089_184_256)]))
    assert macs["4.089 GFLOPS"] == column and macs["3.8 x 10^9 FLOPs"] == "none"
    off_by_one = _section_rows(report.render([measured("resnet50", 4_111_512_577)]))
    assert set(off_by_one.values()) == {"none"}


def test_flops_json_carries_the_published_figures_and_a_model_without_any_adds_nothing() -> None:
    document = json.loads(report.publish([measured("resnet50", 4_111_512_576)]).files["flops.json"])
    by_figure = {p["figure"]: p for p in document["published"]}
    assert by_figure["4.11 GMACs"]["agreeing"] == ["thop 0.0.31 @ torch 1.10.1"]
    assert by_figure["4.11 GMACs"]["printing"] == by_figure["4.11 GMACs"]["reference"] == 4_111_512_576
    assert by_figure["3.8 x 10^9 FLOPs"]["printing"] == 3_857_973_248
    assert by_figure["3.8 x 10^9 FLOPs"]["verdict"] == "explained (as ResNet v1, truncated)"
    assert "published" not in json.loads(report.publish([samples.ok()]).files["flops.json"])
