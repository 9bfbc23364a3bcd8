from __future__ import annotations

import polars as pl
import pytest

from redline.kernel.fields import SAMPLE_SCHEMA
from redline.kernel.labels import format_labels, parse_labels, parse_selector
from redline.kernel.units import format_duration, parse_duration, prometheus_duration


def test_label_string_round_trips_escapes_and_sorts_keys() -> None:
    labels = {"z": 'a"b', "a": "line\nnext", "m": "back\\slash"}
    text = format_labels(labels)
    assert text == 'a="line\\nnext",m="back\\\\slash",z="a\\"b"'
    assert parse_labels(text) == labels


def test_selector_parses_all_four_matchers() -> None:
    sel = parse_selector('http_requests_total{service="api", code=~"5..", env!="dev", pod!~"canary-.*"}')
    assert sel.metric == "http_requests_total"
    assert [(m.name, m.op, m.value) for m in sel.matchers] == [
        ("service", "=", "api"),
        ("code", "=~", "5.."),
        ("env", "!=", "dev"),
        ("pod", "!~", "canary-.*"),
    ]
    assert str(sel) == 'http_requests_total{service="api",code=~"5..",env!="dev",pod!~"canary-.*"}'


def test_regex_matchers_are_anchored_like_promql() -> None:
    sel = parse_selector('x{code=~"5.."}')
    assert sel.matches("x", {"code": "503"})
    assert not sel.matches("x", {"code": "5030"})
    assert not sel.matches("x", {"code": "200"})
    assert not sel.matches("y", {"code": "503"})


def test_selector_filters_a_sample_frame_by_series() -> None:
    frame = pl.DataFrame(
        {
            "metric": ["x", "x", "x", "y"],
            "labels": ['code="200"', 'code="500"', 'code="503"', 'code="500"'],
            "timestamp": [1, 2, 3, 4],
            "value": [1.0, 2.0, 3.0, 4.0],
        },
        schema=SAMPLE_SCHEMA,
    )
    picked = parse_selector('x{code=~"5.."}').filter(frame)
    assert picked.get_column("value").to_list() == [2.0, 3.0]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "metric name"),
        ('x{code="5"', "unterminated"),
        ("x{code=5}", "quoted value"),
        ('x{code=="5"}', "quoted value"),
        ('x{code=~"("}', "bad regex"),
        ('x{code="5"} junk', "unexpected text"),
    ],
)
def test_bad_selectors_say_what_is_wrong(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_selector(text)


def test_durations_parse_and_format() -> None:
    assert parse_duration("30d") == 2_592_000
    assert parse_duration("1h30m") == 5400
    assert parse_duration("250ms") == 0.25
    assert format_duration(2_592_000) == "30d"
    assert format_duration(5400) == "1h30m"
    assert format_duration(0.25) == "250ms"


@pytest.mark.parametrize("text", ["", "5", "5x", "m5", "0s", "-5m", "5m junk"])
def test_bad_durations_are_rejected(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("seconds", "spelt"),
    [
        (28 * 86400, "4w"),  # Sloth's 28-day period record: slo:sli_error:ratio_rate4w
        (30 * 86400, "30d"),  # weeks only when they divide the whole
        (7 * 86400, "1w"),
        (90 * 86400, "90d"),
        (365 * 86400, "1y"),
        (366 * 86400, "366d"),  # years likewise
        (14 * 86400 + 3600, "14d1h"),
        (300, "5m"),
        (5400, "1h30m"),
        (0.25, "250ms"),
        (0, "0s"),
    ],
)
def test_prometheus_duration_spells_as_prometheus_model_duration_string(seconds: float, spelt: str) -> None:
    assert prometheus_duration(seconds) == spelt
    if seconds:
        assert parse_duration(spelt) == pytest.approx(seconds)
