"""Escaping: whatever a record holds, a table row stays one row of the right width, no markup gets
in, and a code span holds exactly the text. Each check is also shown to catch the naive form."""

import re

import pytest

from bench.publish import markdown

HOSTILE = ["a|b\n<script>alert(1)</script>", "x | y\nz", "`tick` & ``two``", "back\\|slash", "\r\n|", "`"]


def row_cells(line: str) -> list[str]:
    """A GFM table row split as GitHub splits it: on pipes not escaped by a backslash."""
    return re.split(r"(?<!\\)\|", line.strip())[1:-1]


def raw_html(line: str) -> bool:
    """Whether a tag other than the report's own <br> sits outside code spans (inside, it is literal)."""
    outside = re.sub(r"(?<!`)(`+)(?!`).*?(?<!`)\1(?!`)", "", line)
    return bool(re.search(r"<(?!br>)", outside))


def broken_rows(text: str) -> list[str]:
    """Lines of a table that are not one row as wide as the header, or that carry raw HTML."""
    lines = text.splitlines()
    width = len(row_cells(lines[0]))
    return [line for line in lines if len(row_cells(line)) != width or raw_html(line)]


def code_span_text(span: str) -> str | None:
    """What a CommonMark code span shows, or None when `span` is not exactly one code span."""
    fence = re.match(r"`+", span)
    if fence is None or not span.endswith(fence[0]) or len(span) < 2 * len(fence[0]):
        return None
    inside = span[len(fence[0]) : len(span) - len(fence[0])]
    if re.search(rf"(?<!`){fence[0]}(?!`)", inside):  # a run as long as the fence would close it early
        return None
    if inside.startswith(" ") and inside.endswith(" ") and inside.strip(" "):
        inside = inside[1:-1]
    return inside


@pytest.mark.parametrize("value", HOSTILE)
def test_a_hostile_cell_stays_in_its_row(value: str) -> None:
    rendered = markdown.table(["model", "why"], [[value, markdown.code(value)], ["plain", "row"]])
    assert broken_rows(rendered) == []
    assert len(rendered.splitlines()) == 4


def test_a_table_without_escaping_is_seen_to_break() -> None:
    naive = "| model | why |\n|---|---|\n| " + " | ".join(HOSTILE[:2]) + " |\n"
    assert broken_rows(naive)
    assert raw_html("| <script>alert(1)</script> | x |") and not raw_html("| `<script>` | x<br>y |")


def test_text_is_literal_html_and_markdown_alike() -> None:
    assert markdown.text("<script>alert(1)</script> & `x`") == "&lt;script&gt;alert(1)&lt;/script&gt; &amp; \\`x\\`"
    assert markdown.text("a\nb\r\nc") == "a b c"
    assert markdown.text("tf-1.12.0") == "tf-1.12.0"  # the twin: ordinary names are unchanged


@pytest.mark.parametrize("value", ["seed", "a`b", "``x``", "`", " padded ", "a|b", "<script>"])
def test_a_code_span_shows_exactly_the_name(value: str) -> None:
    assert code_span_text(markdown.code(value)) == value


def test_a_naive_code_span_is_seen_to_break() -> None:
    assert code_span_text("`a`b`") is None
    assert markdown.code("seed") == "`seed`"  # ordinary names keep their look


def test_markup_the_report_built_is_left_as_it_is() -> None:
    cell = markdown.join("<br>", [markdown.text("1 (thop)"), markdown.text("2 (<b>)")])
    row = markdown.table(["x"], [[cell]]).splitlines()[2]
    assert row == "| 1 (thop)<br>2 (&lt;b&gt;) |"


LINKS = ["[text](javascript:alert(1))", "[click](https://evil.example/)", "![img](https://evil.example/x.png)"]


def rendered(source: str) -> str:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark").enable("table").render(source)


@pytest.mark.parametrize("value", LINKS)
def test_a_link_in_a_record_stays_text(value: str) -> None:
    page = rendered(markdown.table(["why"], [[value]]) + "\n" + markdown.text(value) + "\n")
    assert "<a " not in page and "<img " not in page
    assert page.count(value.replace("&", "&amp;")) == 2  # shown as it was written


def test_a_link_escaped_only_as_html_is_seen_to_live() -> None:
    """The twin: html escaping alone leaves the link live."""
    import html

    assert "<a href" in rendered(html.escape(LINKS[1], quote=False))
