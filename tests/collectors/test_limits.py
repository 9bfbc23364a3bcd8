"""Per-source limits (``collectors.limits``) against real HTTP targets on 127.0.0.1.

Each limit: one over it fails the collection whole (no sample kept, the error naming the limit and
the value), one exactly at it passes.
"""

from __future__ import annotations

import gzip
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from redline.collectors.base import CollectResult
from redline.collectors.dcgm import DcgmCollector, DcgmConfig
from redline.collectors.exposition import ExpositionParser
from redline.collectors.limits import SourceLimits, parse_byte_size
from redline.collectors.prometheus_scrape import PrometheusScrapeCollector, PrometheusScrapeConfig
from redline.collectors.promql import PromQLCollector
from redline.config.load import parse_config
from redline.kernel.errors import ConfigError
from tests.collectors.context import context
from tests.collectors.http_target import send, serve
from tests.collectors.test_promql import api, canned
from tests.collectors.test_promql import config as promql_config

NOW_S = 1_700_000_100.0
TEXT = "text/plain; version=0.0.4"


def clock() -> float:
    return NOW_S


def scrape(client: httpx.Client, body: bytes, **settings: object) -> tuple[str, CollectResult]:
    """Scrape ``body`` once from a real target: (the URL scraped, the result)."""
    with serve(lambda h: send(h, 200, body, TEXT)) as base:
        url = base + "/metrics"
        cfg = PrometheusScrapeConfig.model_validate(
            {"name": "api", "kind": "prometheus_scrape", "url": url, **settings}
        )
        return url, PrometheusScrapeCollector(cfg, context(clock, http=client)).collect()


def series(count: int, metric: str = "http_requests_total") -> bytes:
    lines = ["# HELP http_requests_total Requests.", "# TYPE http_requests_total counter"]
    lines += [f'{metric}{{path="/p{i}",code="200"}} {i}' for i in range(count)]
    return ("\n".join(lines) + "\n").encode()


# --- sample_limit ----------------------------------------------------------------------------


def test_a_target_over_sample_limit_fails_whole_naming_the_limit_and_the_count(client: httpx.Client) -> None:
    url, result = scrape(client, series(420), sample_limit=100)
    assert not result.health.ok
    assert result.health.error == f"source 'api' ({url}): sample_limit 100 exceeded: 420 sample lines"
    assert result.health.samples == result.samples.height == 0


def test_exactly_sample_limit_samples_pass(client: httpx.Client) -> None:
    _, result = scrape(client, series(100), sample_limit=100)
    assert result.health.ok and result.samples.height == 100


def test_sample_limit_zero_is_no_limit(client: httpx.Client) -> None:
    _, result = scrape(client, series(300), sample_limit=0)
    assert result.health.ok and result.samples.height == 300


def test_the_parser_stops_soon_after_sample_limit_without_reading_every_series() -> None:
    """420k new series over a limit of 1,000: the parser caches about the limit, not 420k."""
    text = series(420_000).decode()
    parser = ExpositionParser({"source": "api"}, limits=SourceLimits(sample_limit=1_000))
    parsed = parser.parse(text, default_timestamp_ms=0)
    assert parsed.over_limit == "sample_limit 1000 exceeded: 420000 sample lines"
    assert parsed.samples.height == 0
    assert parser.cached_series < 1_000 + 5_000


def test_a_known_target_growing_past_sample_limit_fails_then_recovers(client: httpx.Client) -> None:
    bodies = iter([series(50), series(150), series(50)])
    with serve(lambda h: send(h, 200, next(bodies), TEXT)) as base:
        cfg = PrometheusScrapeConfig.model_validate(
            {"name": "api", "kind": "prometheus_scrape", "url": base + "/metrics", "sample_limit": 100}
        )
        collector = PrometheusScrapeCollector(cfg, context(clock, http=client))
        results = [collector.collect() for _ in range(3)]
    assert [(r.health.ok, r.samples.height) for r in results] == [(True, 50), (False, 0), (True, 50)]
    assert results[1].health.error is not None and results[1].health.error.endswith("150 sample lines")


# --- label limits ----------------------------------------------------------------------------


def test_label_limit_counts_the_name_and_source_labels_and_fails_the_scrape_whole(client: httpx.Client) -> None:
    body = b'ok{a="1",b="2"} 1\nwide{a="1",b="2",c="3"} 2\n'
    url, result = scrape(client, body, label_limit=4)
    assert result.health.error == (
        f"source 'api' ({url}): label_limit 4 exceeded: wide has 5 labels (__name__ included)"
    )
    assert result.samples.height == 0
    _, at_limit = scrape(client, body, label_limit=5)
    assert at_limit.health.ok and at_limit.samples.height == 2


def test_configured_labels_count_against_label_limit(client: httpx.Client) -> None:
    _, result = scrape(client, b'ok{a="1"} 1\n', label_limit=3, labels={"team": "ml"})
    assert result.health.error is not None
    assert result.health.error.endswith("label_limit 3 exceeded: ok has 4 labels (__name__ included)")


def test_a_label_value_over_label_value_length_limit_fails_the_scrape(client: httpx.Client) -> None:
    body = f'ok{{path="{"x" * 20}"}} 1\nlong{{path="{"x" * 21}"}} 1\n'.encode()
    url, result = scrape(client, body, label_value_length_limit=20)
    assert result.health.error == (
        f"source 'api' ({url}): label_value_length_limit 20 exceeded: label 'path' of long has a 21-byte value"
    )
    assert result.samples.height == 0


def test_label_value_length_counts_utf8_bytes_of_the_unescaped_value(client: httpx.Client) -> None:
    # 'é' is two bytes; '\"' is one character once unescaped.
    _, result = scrape(client, 'a{v="éé"} 1\nb{v="\\"\\"\\"\\""} 1\n'.encode(), label_value_length_limit=4)
    assert result.health.ok and result.samples.height == 2
    _, over = scrape(client, 'a{v="ééx"} 1\n'.encode(), label_value_length_limit=4)
    assert over.health.error is not None and over.health.error.endswith("has a 5-byte value")


def test_the_metric_name_is_the_value_of_name_for_label_value_length_limit(client: httpx.Client) -> None:
    _, result = scrape(client, b"a_rather_long_metric_name 1\n", label_value_length_limit=10)
    assert result.health.error is not None
    assert "label '__name__' of a_rather_long_metric_name has a 25-byte value" in result.health.error


def test_a_label_name_over_label_name_length_limit_fails_the_scrape(client: httpx.Client) -> None:
    name = "n" * 31
    url, result = scrape(client, f'ok{{{name[:30]}="1"}} 1\nbad{{{name}="1"}} 1\n'.encode(), label_name_length_limit=30)
    assert result.health.error == (
        f"source 'api' ({url}): label_name_length_limit 30 exceeded: label {name!r} of bad is 31 bytes"
    )
    _, at_limit = scrape(client, f'ok{{{name[:30]}="1"}} 1\n'.encode(), label_name_length_limit=30)
    assert at_limit.health.ok


def test_a_series_over_a_label_limit_is_not_cached_so_every_scrape_fails(client: httpx.Client) -> None:
    body = b'wide{a="1",b="2",c="3"} 2\n'
    with serve(lambda h: send(h, 200, body, TEXT)) as base:
        cfg = PrometheusScrapeConfig.model_validate(
            {"name": "api", "kind": "prometheus_scrape", "url": base + "/metrics", "label_limit": 4}
        )
        collector = PrometheusScrapeCollector(cfg, context(clock, http=client))
        first, second = collector.collect(), collector.collect()
    assert not first.health.ok and not second.health.ok
    assert first.health.error == second.health.error


# --- body_size_limit -------------------------------------------------------------------------


def test_a_body_over_body_size_limit_fails_and_one_at_it_passes(client: httpx.Client) -> None:
    body = series(10)
    url, over = scrape(client, body, body_size_limit=len(body) - 1)
    assert over.health.error == (
        f"source 'api' ({url}): body_size_limit {len(body) - 1} exceeded: {len(body)} bytes (Content-Length)"
    )
    _, at_limit = scrape(client, body, body_size_limit=len(body))
    assert at_limit.health.ok and at_limit.samples.height == 10


@pytest.mark.parametrize("over", [True, False], ids=["over", "at-limit"])
def test_a_gzip_body_is_measured_after_decompression(client: httpx.Client, over: bool) -> None:
    body = series(2_000)
    packed = gzip.compress(body)
    assert len(packed) < len(body) // 5

    def respond(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", TEXT)
        h.send_header("Content-Encoding", "gzip")
        h.send_header("Content-Length", str(len(packed)))
        h.end_headers()
        h.wfile.write(packed)

    limit = len(body) - 1 if over else len(body)
    with serve(respond) as base:
        cfg = PrometheusScrapeConfig.model_validate(
            {"name": "api", "kind": "prometheus_scrape", "url": base + "/metrics", "body_size_limit": limit}
        )
        result = PrometheusScrapeCollector(cfg, context(clock, http=client)).collect()
    if over:
        assert result.health.error is not None
        assert result.health.error.endswith(f"body_size_limit {limit} exceeded: more than {limit} bytes read")
        assert result.samples.height == 0
    else:
        assert result.health.ok and result.samples.height == 2_000


# --- other source kinds ----------------------------------------------------------------------


def test_dcgm_over_sample_limit_fails_whole(client: httpx.Client) -> None:
    body = b"".join(f'DCGM_FI_DEV_GPU_TEMP{{gpu="{i}",UUID="GPU-{i}"}} 40\n'.encode() for i in range(9))
    with serve(lambda h: send(h, 200, body, TEXT)) as base:
        cfg = DcgmConfig.model_validate({"name": "dcgm", "kind": "dcgm", "url": base + "/metrics", "sample_limit": 8})
        result = DcgmCollector(cfg, context(clock, http=client)).collect()
    assert result.health.error is not None and result.health.error.endswith("sample_limit 8 exceeded: 9 sample lines")
    assert result.samples.height == 0


def test_promql_over_sample_limit_fails_whole_and_at_it_passes(client: httpx.Client) -> None:
    with api(lambda seen: canned("vector_partial_warnings.json")) as server:
        over = PromQLCollector(promql_config(server.url, sample_limit=1), context(clock, http=client)).collect()
        at = PromQLCollector(promql_config(server.url, sample_limit=2), context(clock, http=client)).collect()
    assert over.health.error == f"source 'prom' ({server.url}): sample_limit 1 exceeded: 2 samples"
    assert over.samples.height == 0
    assert at.health.ok and at.samples.height == 2


def test_promql_label_limit_fails_whole(client: httpx.Client) -> None:
    with api(lambda seen: canned("vector_partial_warnings.json")) as server:
        result = PromQLCollector(promql_config(server.url, label_limit=2), context(clock, http=client)).collect()
    assert result.health.error == (
        f"source 'prom' ({server.url}): label_limit 2 exceeded: api_requests_total has 3 labels (__name__ included)"
    )


def test_a_promql_backfill_counts_series_and_is_tried_again_after_failing_a_limit(client: httpx.Client) -> None:
    with api(lambda seen: canned("matrix.json")) as server:
        at = PromQLCollector(
            promql_config(server.url, lookback="2m", step="1m", sample_limit=2), context(clock, http=client)
        ).collect()
        collector = PromQLCollector(
            promql_config(server.url, lookback="2m", step="1m", sample_limit=1), context(clock, http=client)
        )
        first, second = collector.collect(), collector.collect()
    assert at.health.ok and at.samples.height == 4  # 2 series of 2 points: the limit counts series
    assert first.health.error is not None
    assert first.health.error.endswith("sample_limit 1 exceeded: 2 samples and backfilled series")
    assert [s.path for s in server.seen[-2:]] == ["/api/v1/query_range", "/api/v1/query_range"]
    assert not second.health.ok


# --- config ----------------------------------------------------------------------------------


def test_defaults_protect_and_body_size_limit_reads_prometheus_sizes() -> None:
    cfg = PrometheusScrapeConfig.model_validate({"name": "a", "kind": "prometheus_scrape", "url": "http://h/m"})
    assert (cfg.sample_limit, cfg.label_limit, cfg.label_name_length_limit, cfg.label_value_length_limit) == (
        200_000, 64, 256, 2048
    )
    assert cfg.body_size_limit == 10 * 1024 * 1024
    assert [parse_byte_size(v) for v in ("10MB", "512KiB", "1.5GB", "100B", 42, "0")] == [
        10 * 1024**2, 512 * 1024, int(1.5 * 1024**3), 100, 42, 0
    ]


def test_max_bytes_still_sets_body_size_limit_but_not_both() -> None:
    base = {"name": "a", "kind": "prometheus_scrape", "url": "http://h/m"}
    assert PrometheusScrapeConfig.model_validate({**base, "max_bytes": 1000}).body_size_limit == 1000
    with pytest.raises(ValidationError, match="give body_size_limit or max_bytes"):
        PrometheusScrapeConfig.model_validate({**base, "max_bytes": 1000, "body_size_limit": "1MB"})


@pytest.mark.parametrize(
    ("setting", "why"),
    [
        ("sample_limit: -1", "sources[0].sample_limit: Input should be greater than or equal to 0"),
        ("label_limit: -5", "sources[0].label_limit: Input should be greater than or equal to 0"),
        ("label_name_length_limit: -1", "sources[0].label_name_length_limit: Input should be greater than or equal"),
        ("label_value_length_limit: -1", "sources[0].label_value_length_limit: Input should be greater than or"),
        ("body_size_limit: -1", "sources[0].body_size_limit: must not be negative (0 is no limit)"),
        ("body_size_limit: 10 parsecs", "sources[0].body_size_limit: '10 parsecs' is not a size"),
    ],
)
def test_a_bad_limit_is_a_config_error_at_its_file_and_line(tmp_path: Path, setting: str, why: str) -> None:
    path = tmp_path / "redline.yaml"
    text = f"sources:\n  - name: api\n    kind: prometheus_scrape\n    url: http://127.0.0.1:9/metrics\n    {setting}\n"
    with pytest.raises(ConfigError) as info:
        parse_config(text, path)
    assert str(info.value).startswith(f"{path}:5: {why}")
