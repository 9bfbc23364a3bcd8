"""Values from data reach a Markdown body as text (redline.dashboard.text)."""

from __future__ import annotations

from redline.dashboard.text import code, literal, safe_link
from tests.dashboard.page_text import page_text


def test_an_image_a_link_a_colour_and_html_in_a_value_are_escaped_and_read_back_as_written() -> None:
    value = '![x](http://host/pixel.png) [go](http://evil) :red[alarm] <b>bold</b> *em* $x$ `tick`'
    escaped = literal(value)
    assert escaped == (
        "\\!\\[x\\]\\(http\u2060\\://host/pixel\\.png\\) \\[go\\]\\(http\u2060\\://evil\\) \\:red\\[alarm\\] "
        "\\<b\\>bold\\</b\\> \\*em\\* \\$x\\$ \\`tick\\`"
    )
    assert page_text(escaped) == value


def test_a_bare_url_a_www_name_and_an_email_address_cannot_become_autolinks() -> None:
    value = "see https://evil.example/p.png, www.evil.example or ops@evil.example"
    escaped = literal(value)
    assert escaped == (
        "see https\u2060\\://evil\\.example/p\\.png, www\u2060\\.evil\\.example or ops\u2060@evil\\.example"
    )
    assert "https:" not in escaped.replace("\\", "") and "www." not in escaped.replace("\\", "")
    assert page_text(escaped) == value


def test_a_value_on_several_lines_cannot_start_a_list_or_a_heading() -> None:
    assert literal("reason\n- item\n# heading") == r"reason \- item \# heading"


def test_a_code_span_holds_any_backticks_verbatim() -> None:
    assert code("a`b") == "``a`b``"
    assert code("`edge`") == "`` `edge` ``"
    assert page_text(code("`edge`")) == "`edge`"


def test_only_an_http_link_becomes_a_link() -> None:
    assert safe_link("Runbook", "https://runbooks.example/api") == "[Runbook](https://runbooks.example/api)"
    assert safe_link("Runbook", "javascript:alert(1)") is None
    assert safe_link("Runbook", "https://x/a) [y](https://evil") is None
