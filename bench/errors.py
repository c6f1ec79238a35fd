"""Errors said in one line."""

from __future__ import annotations

import re

_ESCAPES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def plain(text: str) -> str:
    """Text without terminal escapes (the colour codes build tools and frameworks print)."""
    return _ESCAPES.sub("", text)


def first_line(error: Exception | str) -> str:
    """The first line of an error, trimmed to its cause, short enough for a one-line message."""
    text = str(error).strip().splitlines()
    line = text[0] if text else type(error).__name__
    # docker-py prefixes the request: '500 Server Error for http+docker://...: Internal Server Error ("cause")'
    if '("' in line and line.endswith('")'):
        line = line[line.index('("') + 2 : -2]
    # 'Get "https://host/v2/": dial tcp: lookup host on 10.0.0.1:53: no such host' -> the cause alone
    if "://" in line and ": " in line:
        line = line.rsplit(": ", 1)[1]
    return line[:200]
