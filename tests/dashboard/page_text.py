"""What a Markdown body shows as text, for asserting what a reader sees on a page whose values
went through ``redline.dashboard.text`` (escaped characters, code spans)."""

from __future__ import annotations

import re

__all__ = ["page_text"]

_PIECE = re.compile(r"(`+)(.*?)\1|\\(.)", re.S)


def page_text(markdown: object) -> str:
    """``markdown`` with backslash escapes resolved, code spans reduced to their text, and the
    invisible word joiners ``literal`` puts into would-be autolinks dropped."""

    def text(match: re.Match[str]) -> str:
        if match.group(1) is not None:
            inner = match.group(2)
            return inner[1:-1] if inner.startswith(" ") and inner.endswith(" ") and inner.strip() else inner
        return match.group(3)

    return _PIECE.sub(text, str(markdown)).replace("\u2060", "")
