"""Data is text: the one way a value from data or config (a name, a label, a reason, a path, an
error) enters a Markdown string on a page.

Streamlit renders the body of ``st.markdown``, ``st.subheader``, ``st.caption``, ``st.error``
and the like as Markdown, with its own extensions (``:red[…]`` colours, ``:emoji:``, ``$…$``
LaTeX). ``literal`` backslash-escapes every character that Markdown or those extensions read as
markup, which CommonMark renders as the character itself; ``code`` puts a value in a code span
whose fence is longer than any run of backticks in it. Fixed wording around them stays Markdown;
``markdown`` writes such a line from a template, escaping every value it fills in.
"""

from __future__ import annotations

import re
import string
from typing import Any, Final

__all__ = ["WORD_JOINER", "code", "literal", "markdown", "safe_link"]

_MARKUP: Final = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~$:&])")
_AUTOLINK: Final = re.compile(r"(?i)(?<=http)(?=:)|(?<=https)(?=:)|(?<=ftp)(?=:)|(?<=www)(?=\.)|(?=@)")
WORD_JOINER: Final = "\u2060"
"""Invisible, and no line break: what ``literal`` puts into ``http://``, ``www.`` and ``a@b``."""


def literal(value: object) -> str:
    """``value`` as text inside Markdown: every markup character backslash-escaped, line breaks
    kept as spaces (a value never starts a list, a heading or a quote on a line of its own).

    GitHub-flavoured Markdown also turns bare URLs, ``www.`` names and e-mail addresses into
    links after parsing, whatever was escaped; a word joiner (U+2060, invisible) inside each of
    ``http:``, ``www.`` and ``@`` keeps them text."""
    text = _AUTOLINK.sub(WORD_JOINER, " ".join(str(value).splitlines()))
    return _MARKUP.sub(r"\\\1", text)


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


class _Code(str):
    """A value already put in a code span (``{name!c}``): not escaped again."""


class _Escaping(string.Formatter):
    """``str.format`` whose every field is literal text (formatted first, so ``{at:%H:%M}``
    works), or a code span with the ``!c`` conversion."""

    def convert_field(self, value: Any, conversion: str | None) -> Any:
        if conversion == "c":
            return _Code(code(value))
        return super().convert_field(value, conversion)

    def format_field(self, value: Any, format_spec: str) -> str:
        if isinstance(value, _Code):
            return str(value)
        return literal(format(value, format_spec))


_ESCAPING: Final = _Escaping()


def markdown(template: str, /, **values: object) -> str:
    """A Markdown line: ``template`` is wording written here; each ``{name}`` field is filled with
    ``values[name]`` as literal text (``{name!c}``: in a code span). The one way a page puts a
    value from data, config or the URL into Markdown it renders."""
    return _ESCAPING.format(template, **values)
