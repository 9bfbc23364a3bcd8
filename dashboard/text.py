"""Data is text: the one way a value from data or config (a name, a label, a reason, a path, an
error) enters a Markdown string on a page.

Streamlit renders the body of ``st.markdown``, ``st.subheader``, ``st.caption``, ``st.error``
and the like as Markdown, with its own extensions (``:red[…]`` colours, ``:emoji:``, ``$…$``
LaTeX). ``literal`` backslash-escapes every character that Markdown or those extensions read as
markup, which CommonMark renders as the character itself; ``code`` puts a value in a code span
whose fence is longer than any run of backticks in it. Fixed wording around them stays Markdown.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["code", "literal", "safe_link"]

_MARKUP: Final = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~$:&])")


def literal(value: object) -> str:
    """``value`` as text inside Markdown: every markup character backslash-escaped, line breaks
    kept as spaces (a value never starts a list, a heading or a quote on a line of its own)."""
    return _MARKUP.sub(r"\\\1", " ".join(str(value).splitlines()))


def code(value: object) -> str:
    """``value`` in a code span, shown verbatim whatever backticks it holds."""
    text = " ".join(str(value).splitlines())
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    padding = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{padding}{text}{padding}{fence}"


def safe_link(label: str, url: str) -> str | None:
    """A Markdown link to an ``http(s)`` URL with a literal label, or None for any other scheme
    or a URL that would break out of the link (spaces, parentheses, angle brackets)."""
    if not re.fullmatch(r"https?://[^\s()<>]+", url):
        return None
    return f"[{literal(label)}]({url})"
