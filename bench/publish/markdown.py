"""Markdown pieces the report is made of: tables, numbers, and escaping.

Every string a record holds (a model, cell, counter or layer name, a reason, a node name) is
untrusted: it goes through `text` or `code` before it reaches the page, so a `|`, a newline,
`<script>`, a backtick or a `[link](...)` can neither break a table row nor inject markup. What the report builds
itself from escaped parts is `Markup` and is left as it is.
"""

from __future__ import annotations

import html
import re

_NEWLINES = re.compile(r"\r\n|\r|\n|\u2028|\u2029|\x85|\x0b|\x0c")


class Markup(str):
    """Markdown the report built itself from escaped parts: tables and helpers leave it as it is."""


def text(value: object) -> Markup:
    """Untrusted text for running prose or a table cell: literal on the page, whatever it holds."""
    if isinstance(value, Markup):
        return value
    flat = _NEWLINES.sub(" ", str(value))
    escaped = flat.replace("\\", "\\\\").replace("`", "\\`").replace("[", "\\[").replace("]", "\\]")
    return Markup(html.escape(escaped, quote=False))


def code(value: object) -> Markup:
    """Untrusted text as a code span: the fence outgrows any run of backticks inside, so none closes it."""
    flat = _NEWLINES.sub(" ", str(value))
    longest = max((len(run) for run in re.findall(r"`+", flat)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if not flat or flat[0] in "` " or flat[-1] in "` " else ""
    return Markup(f"{fence}{pad}{flat}{pad}{fence}")


def join(separator: str, parts: list[Markup]) -> Markup:
    """Escaped parts joined by a separator the report chose (`<br>`, `, `)."""
    return Markup(separator.join(parts))


def _cell(value: object) -> str:
    """A table cell on one line: every `|` escaped (GFM unescapes it, in code spans too)."""
    return _NEWLINES.sub(" ", text(value)).replace("|", "\\|")


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(_cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def number(value: float) -> str:
    """Thousands separated; decimals only when a convention makes them."""
    return f"{value:,.0f}" if value == int(value) else f"{value:,.2f}"


def signed(value: float) -> str:
    return ("+ " if value >= 0 else "- ") + number(abs(value))
