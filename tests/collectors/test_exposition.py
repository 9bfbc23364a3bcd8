from __future__ import annotations

import math
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Summary, generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics
from prometheus_client.parser import text_string_to_metric_families

from redline.collectors.exposition import ExpositionParser
from redline.kernel.fields import SAMPLE_SCHEMA
from redline.kernel.labels import format_labels, parse_labels

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "exposition"
NOW_MS = 1_700_000_999_000

Row = tuple[str, str, int, float]


def rows(frame: pl.DataFrame) -> list[Row]:
    return [(m, lb, ts, v) for m, lb, ts, v in frame.iter_rows()]


def same_rows(actual: list[Row], expected: list[Row]) -> bool:
    """Row lists equal, with NaN equal to NaN."""
    def key(r: Row) -> tuple[str, str, int, str]:
        return (r[0], r[1], r[2], repr(r[3]))

    return [key(r) for r in actual] == [key(r) for r in expected]


def test_text_format_parses_every_family_type_exactly() -> None:
    text = (FIXTURES / "text_004.prom").read_text()
    parsed = ExpositionParser().parse(text, default_timestamp_ms=NOW_MS)

    assert parsed.samples.schema == SAMPLE_SCHEMA
    assert not parsed.openmetrics
    assert parsed.problems == ()
    expected: list[Row] = [
        ("http_requests_total", 'code="200",service="api"', NOW_MS, 1027.0),
        ("http_requests_total", 'code="500",service="api"', 1_700_000_000_123, 3.0),
        ("queue_depth", "", NOW_MS, 12.5),
        ("queue_depth", 'shard="b"', NOW_MS, math.nan),
        ("request_seconds_bucket", 'le="0.1"', NOW_MS, 8.0),
        ("request_seconds_bucket", 'le="0.25"', NOW_MS, 11.0),
        ("request_seconds_bucket", 'le="+Inf"', NOW_MS, 12.0),
        ("request_seconds_sum", "", NOW_MS, 1.75),
        ("request_seconds_count", "", NOW_MS, 12.0),
        ("rpc_seconds", 'quantile="0.5"', NOW_MS, 0.05),
        ("rpc_seconds", 'quantile="0.99"', NOW_MS, math.inf),
        ("rpc_seconds_sum", "", NOW_MS, 9.5),
        ("rpc_seconds_count", "", NOW_MS, 100.0),
        ("legacy_untyped", 'a="1"', NOW_MS, 7.0),
        ("temperature_kelvin", 'path="C:\\\\dir",quote="say \\"hi\\"",text="two\\nlines"', NOW_MS, -math.inf),
    ]
    assert same_rows(rows(parsed.samples), expected)
    assert parsed.types == {
        "http_requests_total": "counter",
        "queue_depth": "gauge",
        "request_seconds": "histogram",
        "rpc_seconds": "summary",
        "legacy_untyped": "untyped",
    }


def test_escaped_label_values_round_trip_to_the_exposed_strings() -> None:
    text = (FIXTURES / "text_004.prom").read_text()
    frame = ExpositionParser().parse(text, default_timestamp_ms=0).samples
    labels = frame.filter(pl.col("metric") == "temperature_kelvin").get_column("labels").item()
    assert parse_labels(labels) == {"path": "C:\\dir", "quote": 'say "hi"', "text": "two\nlines"}


def test_openmetrics_reads_seconds_drops_created_and_ignores_exemplars() -> None:
    text = (FIXTURES / "openmetrics.om").read_text()
    parsed = ExpositionParser().parse(text, default_timestamp_ms=NOW_MS)

    assert parsed.openmetrics  # detected by the final '# EOF'
    assert parsed.problems == ()
    assert rows(parsed.samples) == [
        ("jobs_total", 'queue="a"', 1_700_000_000_500, 17.0),
        ("latency_seconds_bucket", 'le="0.5"', NOW_MS, 4.0),
        ("latency_seconds_bucket", 'le="+Inf"', 1_700_000_002_000, 5.0),
        ("latency_seconds_count", "", NOW_MS, 5.0),
        ("latency_seconds_sum", "", NOW_MS, 2.5),
        ("build_info", 'version="1.2.3"', NOW_MS, 1.0),
    ]
    assert parsed.types == {"jobs": "counter", "latency_seconds": "histogram", "build": "info"}


def test_text_format_timestamps_are_integer_milliseconds_and_seconds_are_rejected() -> None:
    text = "a 1 1700000000123\nb 2 1700000000.5\nc 3\n"
    parsed = ExpositionParser().parse(text, default_timestamp_ms=7, openmetrics=False)
    assert rows(parsed.samples) == [("a", "", 1_700_000_000_123, 1.0), ("c", "", 7, 3.0)]
    assert parsed.problems == (
        "line 2: timestamp '1700000000.5' is not integer milliseconds (text format 0.0.4): "
        "'b 2 1700000000.5'",
    )


def test_malformed_lines_are_skipped_named_by_line_number_and_the_rest_lands() -> None:
    text = "\n".join(
        [
            "# TYPE ok counter",
            'ok_total{a="1"} 1',
            'bad_value{a="1"} one',
            'unterminated{a="1} 2',
            'dup{a="1",a="2"} 3',
            'badname{1a="x"} 4',
            "missing_value",
            "# TYPE x histogrammy",
            'ok_total{a="2"} 2',
            "9starts_with_digit 1",
            'trailing{a="1"} 1 2 extra',
        ]
    )
    parsed = ExpositionParser().parse(text, default_timestamp_ms=0)
    assert rows(parsed.samples) == [("ok_total", 'a="1"', 0, 1.0), ("ok_total", 'a="2"', 0, 2.0)]
    assert parsed.problems == (
        "line 3: value 'one' is not a number: 'bad_value{a=\"1\"} one'",
        "line 4: unterminated or malformed label set: 'unterminated{a=\"1} 2'",
        "line 5: duplicate label 'a': 'dup{a=\"1\",a=\"2\"} 3'",
        "line 6: malformed label set: expected a label name at column 1: '1a=\"x\"': 'badname{1a=\"x\"} 4'",
        "line 7: missing value after the series: 'missing_value'",
        "line 8: unknown type 'histogrammy'; expected one of counter, gauge, histogram, summary, untyped: "
        "'# TYPE x histogrammy'",
        "line 10: expected a metric name at the start of the line: '9starts_with_digit 1'",
        "line 11: unexpected text 'extra' after the timestamp: 'trailing{a=\"1\"} 1 2 extra'",
    )


def test_a_known_series_with_a_bad_value_is_reported_with_its_line_on_a_later_scrape() -> None:
    parser = ExpositionParser()
    good = 'a{x="1"} 1\na{x="2"} 2\na{x="3"} 3\n'
    parser.parse(good, default_timestamp_ms=0)
    parsed = parser.parse('a{x="1"} 10\na{x="2"} oops\na{x="3"} 30\n', default_timestamp_ms=5)
    assert rows(parsed.samples) == [("a", 'x="1"', 5, 10.0), ("a", 'x="3"', 5, 30.0)]
    assert parsed.problems == ("line 2: value 'oops' is not a number: 'a{x=\"2\"} oops'",)


def test_problems_are_capped_and_long_lines_truncated() -> None:
    long_line = "x" * 300 + "{"
    text = "\n".join([long_line] * 60 + ["fine 1"])
    parsed = ExpositionParser().parse(text, default_timestamp_ms=0)
    assert parsed.samples.height == 1
    assert len(parsed.problems) == 51
    assert parsed.problems[0] == f"line 1: unterminated or malformed label set: {'x' * 120 + '...'!r}"
    assert parsed.problems[-1] == "... and 10 more malformed lines"


def test_openmetrics_without_eof_or_with_text_after_it_is_reported_but_samples_land() -> None:
    parser = ExpositionParser()
    truncated = parser.parse('a_total{x="1"} 1\na_total{x="2"} 2\n', default_timestamp_ms=0, openmetrics=True)
    assert truncated.samples.height == 2
    assert truncated.problems == (
        "line 2: OpenMetrics text does not end with '# EOF' (truncated?): 'a_total{x=\"2\"} 2'",
    )
    after_eof = 'a_total{x="1"} 1\n# EOF\na_total{x="2"} 2\n'
    after = parser.parse(after_eof, default_timestamp_ms=0, openmetrics=True)
    assert rows(after.samples) == [("a_total", 'x="1"', 0, 1.0)]
    assert after.problems[0] == "line 3: text after '# EOF': 'a_total{x=\"2\"} 2'"


def test_steady_state_parse_gives_the_same_frame_as_a_fresh_parser() -> None:
    # Shapes the fast path takes and shapes it leaves to the careful path, mixed.
    text = "\r\n".join(
        [
            "# TYPE t counter",
            't_total{a="x y",b="}{"} 1',
            't_total{b="2",a="1"} 2 1700000000000',
            't_total{a="esc\\"aped"} 3',
            "  lead 4",
            "tab\t5",
            "two  6",
            'sp { a = "1" , } 7',
            'm{a="1"} NaN',
            'm{a="2"} -Inf 1700000000001',
            "t_created 1.5",
            "",
        ]
    )
    parser = ExpositionParser({"source": "s"})
    first = parser.parse(text, default_timestamp_ms=42)
    second = parser.parse(text, default_timestamp_ms=42)
    fresh = ExpositionParser({"source": "s"}).parse(text, default_timestamp_ms=42)
    assert first.problems == second.problems == fresh.problems == ()
    assert_frame_equal(second.samples, first.samples)
    assert_frame_equal(second.samples, fresh.samples)
    assert same_rows(
        rows(second.samples),
        [
            ("t_total", 'a="x y",b="}{",source="s"', 42, 1.0),
            ("t_total", 'a="1",b="2",source="s"', 1_700_000_000_000, 2.0),
            ("t_total", 'a="esc\\"aped",source="s"', 42, 3.0),
            ("lead", 'source="s"', 42, 4.0),
            ("tab", 'source="s"', 42, 5.0),
            ("two", 'source="s"', 42, 6.0),
            ("sp", 'a="1",source="s"', 42, 7.0),
            ("m", 'a="1",source="s"', 42, math.nan),
            ("m", 'a="2",source="s"', 1_700_000_000_001, -math.inf),
        ],
    )


def test_timestamps_on_known_series_follow_the_format_on_the_fast_path() -> None:
    parser = ExpositionParser()
    parser.parse('a{x="1"} 1\n# EOF\n', default_timestamp_ms=0)
    om = parser.parse('a{x="1"} 2 1700000000.25 # {t="1"} 1\n# EOF\n', default_timestamp_ms=0)
    assert rows(om.samples) == [("a", 'x="1"', 1_700_000_000_250, 2.0)]
    text = parser.parse('a{x="1"} 3 1700000000250\n', default_timestamp_ms=0)
    assert rows(text.samples) == [("a", 'x="1"', 1_700_000_000_250, 3.0)]
    bad = parser.parse('a{x="1"} 3 17e11\n', default_timestamp_ms=0)
    assert bad.samples.height == 0
    assert bad.problems == (
        "line 1: timestamp '17e11' is not integer milliseconds (text format 0.0.4): 'a{x=\"1\"} 3 17e11'",
    )


def test_extra_labels_are_merged_and_an_exposed_label_of_the_same_name_is_kept_as_exported() -> None:
    parser = ExpositionParser({"source": "api", "env": 'pr"od'})
    parsed = parser.parse('up{source="target",zone="a"} 1\nup 0\n', default_timestamp_ms=0)
    assert parsed.samples.get_column("labels").to_list() == [
        'env="pr\\"od",exported_source="target",source="api",zone="a"',
        'env="pr\\"od",source="api"',
    ]


@pytest.mark.parametrize(
    "extra",
    [{}, {"source": "s"}, {"aa": "1"}, {"m": "1", "zz": "2"}, {"b": "taken"}],
    ids=["none", "after", "before", "around", "clash"],
)
@pytest.mark.parametrize(
    "line",
    ['x{b="2",c="3 }"} 1', 'x{c="3 }",b="2"} 1', 'x{ b="2", c="3 }" } 1', 'x{b="2",c="3 }",} 1'],
    ids=["sorted", "unsorted", "spaced", "trailing-comma"],
)
def test_labels_are_canonical_whatever_the_exposed_order_and_spacing(extra: dict[str, str], line: str) -> None:
    expected = {"b": "2", "c": "3 }", **extra}
    if "b" in extra:
        expected["exported_b"] = "2"
    parsed = ExpositionParser(extra).parse(line + "\n", default_timestamp_ms=0)
    assert parsed.samples.get_column("labels").to_list() == [format_labels(expected)]


def test_the_series_cache_is_cleared_once_it_exceeds_max_series() -> None:
    parser = ExpositionParser(max_series=3)
    text = "".join(f'a{{i="{i}"}} {i}\n' for i in range(5))
    parser.parse(text, default_timestamp_ms=0)
    assert parser.cached_series == 5
    again = parser.parse('b{i="0"} 1\n', default_timestamp_ms=0)
    assert parser.cached_series == 1
    assert rows(again.samples) == [("b", 'i="0"', 0, 1.0)]


def _client_registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    requests = Counter("app_requests", "Requests.", ["code", "path"], registry=registry)
    requests.labels("200", "/a").inc(41)
    requests.labels("500", '/q"uote\\').inc(2)
    latency = Histogram("app_latency_seconds", "Latency.", buckets=(0.1, 0.25, 1.0), registry=registry)
    for v in (0.05, 0.2, 0.2, 0.9, 3.0):
        latency.observe(v)
    Gauge("app_queue", "Queue.", registry=registry).set(-2.5)
    Summary("app_rpc_seconds", "RPC.", registry=registry).observe(0.125)
    return registry


def _reference(text: str, extra: dict[str, str]) -> list[tuple[str, str, float]]:
    out = []
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name.endswith("_created"):
                continue
            out.append((sample.name, format_labels({**sample.labels, **extra}), sample.value))
    return out


def test_prometheus_client_text_and_openmetrics_parse_to_the_values_its_own_parser_reads() -> None:
    registry = _client_registry()
    for payload in (generate_latest(registry).decode(), generate_openmetrics(registry).decode()):  # type: ignore[no-untyped-call]
        parsed = ExpositionParser({"source": "app"}).parse(payload, default_timestamp_ms=0)
        assert parsed.problems == ()
        ours = [(m, lb, v) for m, lb, _, v in rows(parsed.samples)]
        assert ours == _reference(payload, {"source": "app"})
        assert len(ours) == 11  # 2 counters, 4 buckets + sum + count, 1 gauge, sum + count
