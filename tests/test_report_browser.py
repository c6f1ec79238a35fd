"""The report's site (results/site/) as a person sees it: every page opened in headless Chromium
(Debian's `chromium`) logs nothing to the console, every chart on it is drawn, and a screenshot of the
index is kept with the test's output. With CI=true a missing Chromium fails the test instead of
skipping it."""

from __future__ import annotations

import os
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from bench import paths
from bench.publish import report
from bench.records import results

WINDOW = "1400,2400"
MAX_PAGE = 1_500_000  # bytes of one page of the site, its charts inline: opens at once
MAX_FRONT = 500_000  # bytes of results/README.md: code hosts render Markdown up to about this


@pytest.fixture(scope="module")
def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI=true and no chromium on PATH (docker/setup-host.sh installs it)")
        pytest.skip("no chromium on PATH: sh docker/setup-host.sh installs it")
    return found


def browse(chromium: str, page: Path, *args: str) -> subprocess.CompletedProcess:
    """One headless Chromium run on a local page, with the page's console going to stderr."""
    flags = ["--headless", "--disable-gpu", "--enable-logging=stderr", "--v=0", f"--window-size={WINDOW}"]
    flags += ["--no-sandbox"] * (os.geteuid() == 0)  # Chromium refuses to run as root with its sandbox
    profile = page.parent / ".chromium-profile"
    command = [chromium, *flags, f"--user-data-dir={profile}", *args, page.as_uri()]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)


def console(stderr: str) -> list[str]:
    """What the page logged: its console messages and uncaught errors (a page without scripts logs none)."""
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


class Charts(HTMLParser):
    """Each chart figure of a page (as the browser's DOM holds it), and how many Vega marks its SVG drew."""

    def __init__(self) -> None:
        super().__init__()
        self.figures: list[dict] = []
        self._depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "figure" and "chart" in (attributes.get("class") or "").split():
            self.figures.append({"chart": attributes.get("data-chart"), "svg": 0, "marks": 0, "drawn": 0})
            self._depth = 1
            return
        if not self._depth or tag in ("br", "img", "meta"):
            return
        self._depth += 1
        figure = self.figures[-1]
        classes = (attributes.get("class") or "").split()
        figure["svg"] += tag == "svg"
        figure["marks"] += any(c.startswith("mark-") for c in classes)
        figure["drawn"] += tag in ("path", "rect", "line", "text") and attributes.get("d") != ""

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._depth:
            self.figures[-1]["drawn"] += tag in ("path", "rect", "line")

    def handle_endtag(self, tag: str) -> None:
        if self._depth:
            self._depth -= 1


def undrawn(dom: str) -> list[str]:
    """Charts that are missing or empty in the rendered DOM (none when there are no figures at all is a failure)."""
    parser = Charts()
    parser.feed(dom)
    if not parser.figures:
        return ["no chart on the page"]
    return [f"{f['chart']}: {f}" for f in parser.figures if f["svg"] != 1 or not f["marks"] or f["drawn"] < 3]


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site written from the project's own records (copied: results/ is left as it is); its folder."""
    where = tmp_path_factory.mktemp("results")
    loaded = results.load(paths.RESULTS)
    for record in loaded.records:
        results.write(where, record)
    if not loaded.records:  # a checkout without records: the report of a hand-made one still has charts
        from tests.test_report_outputs import records

        for record in records():
            results.write(where, record)
    report.write(where)
    return where / report.SITE


def test_every_page_of_the_site_renders_every_chart_without_console_errors(chromium: str, published: Path) -> None:
    pages = sorted(published.rglob("*.html"))
    models = sorted((published / report.MODELS).glob("*.html"))
    assert published / "index.html" in pages and published / "details.html" in pages and models
    drawn = 0
    for page in pages:
        dumped = browse(chromium, page, "--dump-dom")
        assert console(dumped.stderr) == [], page.name
        if page in models:  # each model's page has its charts; the index and the details have none
            assert undrawn(dumped.stdout) == [], page.name
            drawn += dumped.stdout.count('class="chart"')
    assert drawn == len(list((published.parent / "charts").glob("*.svg")))
    shot = published.parent / "report.png"
    browse(chromium, published / "index.html", f"--screenshot={shot}")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
    if os.environ.get("REPORT_SCREENSHOT"):  # e.g. docs/report.png, the README's picture
        shutil.copyfile(shot, os.environ["REPORT_SCREENSHOT"])


def test_every_page_of_the_site_is_small(published: Path) -> None:
    sizes = {page.name: page.stat().st_size for page in published.rglob("*.html")}
    assert max(sizes.values()) < MAX_PAGE, sorted(sizes.items(), key=lambda kv: -kv[1])[:3]
    assert (published.parent / "README.md").stat().st_size < MAX_FRONT


def test_a_console_error_and_an_empty_chart_are_seen(chromium: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.html"
    bad.write_text(
        '<!DOCTYPE html><html><body><figure class="chart" data-chart="x"><figcaption>x</figcaption></figure>'
        '<script>console.error("boom")</script></body></html>'
    )
    dumped = browse(chromium, bad, "--dump-dom")
    assert any("boom" in line for line in console(dumped.stderr))
    assert undrawn(dumped.stdout) == ["x: {'chart': 'x', 'svg': 0, 'marks': 0, 'drawn': 0}"]
    assert undrawn("<html><body></body></html>") == ["no chart on the page"]
