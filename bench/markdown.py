"""Markdown pieces the report is made of: tables and numbers."""

from __future__ import annotations


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def number(value: float) -> str:
    """Thousands separated; decimals only when a convention makes them."""
    return f"{value:,.0f}" if value == int(value) else f"{value:,.2f}"


def signed(value: float) -> str:
    return ("+ " if value >= 0 else "- ") + number(abs(value))
