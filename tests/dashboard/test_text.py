"""Values from data reach a Markdown body as text (redline.dashboard.text)."""

from __future__ import annotations

from datetime import UTC, datetime

from redline.dashboard.text import code, literal, markdown, safe_link
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


def test_markdown_fills_a_template_with_values_as_text_and_code_spans_keeping_format_specs() -> None:
    line = markdown(
        "{name} failed at {at:%H:%M} in {path!c}: {error}",
        name="*api*", at=datetime(2026, 12, 2, 9, 5, tzinfo=UTC), path="a`b.yaml", error="![x](http://h/p.png)",
    )
    assert line == f"{literal('*api*')} failed at 09\\:05 in {code('a`b.yaml')}: {literal('![x](http://h/p.png)')}"
    assert page_text(line) == "*api* failed at 09:05 in a`b.yaml: ![x](http://h/p.png)"
