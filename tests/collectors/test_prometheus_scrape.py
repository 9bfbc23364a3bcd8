from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler

import httpx
import pytest
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.openmetrics.exposition import CONTENT_TYPE_LATEST as OPENMETRICS_CONTENT_TYPE
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics
from prometheus_client.parser import text_string_to_metric_families
from pydantic import ValidationError

from redline.collectors.prometheus_scrape import ACCEPT, PrometheusScrapeCollector, PrometheusScrapeConfig
from redline.kernel.labels import format_labels
from tests.collectors.context import context
from tests.collectors.http_target import send, serve

SCRAPE_TIME = 1_700_000_100.25


def clock() -> float:
    return SCRAPE_TIME


def config(url: str, **extra: object) -> PrometheusScrapeConfig:
    return PrometheusScrapeConfig.model_validate(
        {"name": "api", "kind": "prometheus_scrape", "url": url, **extra}
    )


def _registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    requests = Counter("http_requests", "Requests.", ["code", "service"], registry=registry)
    requests.labels("200", "inference").inc(1027)
    requests.labels("503", "inference").inc(4)
    latency = Histogram(
        "http_request_duration_seconds", "Latency.", ["service"], buckets=(0.05, 0.25, 1.0), registry=registry
    )
    for seconds in (0.01, 0.2, 0.2, 0.3, 2.0):
        latency.labels("inference").observe(seconds)
    return registry


def _expected(payload: str) -> list[tuple[str, str, int, float]]:
    """What prometheus_client's own parser reads, labelled and stamped as the collector should."""
    return [
        (s.name, format_labels({**s.labels, "source": "api", "team": "ml"}), 1_700_000_100_250, s.value)
        for family in text_string_to_metric_families(payload)
        for s in family.samples
        if not s.name.endswith("_created")
    ]


@pytest.mark.parametrize(
    ("generate", "content_type"),
    [(generate_latest, CONTENT_TYPE_LATEST), (generate_openmetrics, OPENMETRICS_CONTENT_TYPE)],
    ids=["text-0.0.4", "openmetrics"],
)
def test_scraping_a_prometheus_client_registry_yields_what_its_own_parser_reads(
    client: httpx.Client, generate: object, content_type: str
) -> None:
    registry = _registry()
    payload = generate(registry)  # type: ignore[operator]
    seen_accept: list[str] = []

    def respond(h: BaseHTTPRequestHandler) -> None:
        seen_accept.append(h.headers.get("Accept", ""))
        send(h, 200, payload, content_type)

    with serve(respond) as base:
        cfg = config(base + "/metrics", labels={"team": "ml"})
        collector = PrometheusScrapeCollector(cfg, context(clock, http=client))
        result = collector.collect()

    assert seen_accept == [ACCEPT]
    health = result.health
    assert (health.source, health.ok, health.error, health.problems) == ("api", True, None, ())
    assert health.samples == result.samples.height == 8  # 2 counters, 4 buckets + sum + count
    assert health.timestamp_ms == 1_700_000_100_250
    assert list(result.samples.iter_rows()) == _expected(payload.decode())


def test_a_refused_connection_is_an_error_naming_source_and_url(client: httpx.Client) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/metrics"
    result = PrometheusScrapeCollector(config(url), context(clock, http=client)).collect()
    assert not result.health.ok
    assert result.health.error is not None
    assert result.health.error.startswith(f"source 'api' ({url}): cannot connect: ")
    assert result.health.samples == result.samples.height == 0


def test_a_target_that_hangs_past_the_timeout_is_an_error(client: httpx.Client) -> None:
    release = threading.Event()

    def respond(h: BaseHTTPRequestHandler) -> None:
        release.wait(timeout=30)
        send(h, 200, b"late 1\n", "text/plain")

    try:
        with serve(respond) as base:
            url = base + "/metrics"
            hanging = config(url, timeout="200ms", interval="1s")
            result = PrometheusScrapeCollector(hanging, context(clock, http=client)).collect()
            release.set()
    finally:
        release.set()
    assert not result.health.ok
    assert result.health.error == f"source 'api' ({url}): timed out after 200ms"
    assert result.health.samples == result.samples.height == 0


def test_a_500_is_an_error_naming_the_status(client: httpx.Client) -> None:
    with serve(lambda h: send(h, 500, b"boom", "text/plain")) as base:
        url = base + "/metrics"
        result = PrometheusScrapeCollector(config(url), context(clock, http=client)).collect()
    assert not result.health.ok
    assert result.health.error == f"source 'api' ({url}): HTTP 500 Internal Server Error"
    assert result.health.samples == result.samples.height == 0


def _fifty_megabytes(h: BaseHTTPRequestHandler, declare_length: bool) -> None:
    line = b"filler_metric 1\n"
    total = 50 * 1024 * 1024
    h.send_response(200)
    h.send_header("Content-Type", "text/plain; version=0.0.4")
    if declare_length:
        h.send_header("Content-Length", str(total))
    h.end_headers()
    chunk = line * (65536 // len(line))
    sent = 0
    while sent < total:
        h.wfile.write(chunk)
        sent += len(chunk)


@pytest.mark.parametrize("declare_length", [True, False], ids=["content-length", "streamed"])
def test_a_50_mb_body_stops_at_the_limit_and_names_it(client: httpx.Client, declare_length: bool) -> None:
    with serve(lambda h: _fifty_megabytes(h, declare_length)) as base:
        url = base + "/metrics"
        result = PrometheusScrapeCollector(config(url), context(clock, http=client)).collect()
    assert not result.health.ok
    assert result.health.error == (
        f"source 'api' ({url}): body_size_limit 10485760 exceeded: "
        + ("52428800 bytes (Content-Length)" if declare_length else "more than 10485760 bytes read")
    )
    assert result.health.samples == result.samples.height == 0


def test_malformed_lines_leave_the_scrape_ok_with_problems_listed(client: httpx.Client) -> None:
    body = b'up{job="a"} 1\nthis is not a sample\nup{job="b"} 0\n'
    with serve(lambda h: send(h, 200, body, "text/plain; version=0.0.4")) as base:
        result = PrometheusScrapeCollector(config(base + "/metrics"), context(clock, http=client)).collect()
    assert result.health.ok
    assert result.health.error is None
    assert result.health.problems == ("line 2: value 'is' is not a number: 'this is not a sample'",)
    assert result.samples.get_column("labels").to_list() == ['job="a",source="api"', 'job="b",source="api"']
    assert result.health.samples == 2


def test_a_body_with_no_parseable_sample_is_an_error(client: httpx.Client) -> None:
    body = b"<html>\n<body>Login required</body>\n</html>\n"
    with serve(lambda h: send(h, 200, body, "text/html")) as base:
        url = base + "/metrics"
        result = PrometheusScrapeCollector(config(url), context(clock, http=client)).collect()
    assert not result.health.ok
    assert result.health.error == (
        f"source 'api' ({url}): no sample could be read; "
        "line 1: expected a metric name at the start of the line: '<html>'"
    )
    assert len(result.health.problems) == 3
    assert result.health.samples == result.samples.height == 0


def test_an_empty_exposition_is_ok_with_no_samples(client: httpx.Client) -> None:
    with serve(lambda h: send(h, 200, b"# HELP nothing yet\n", "text/plain")) as base:
        result = PrometheusScrapeCollector(config(base + "/metrics"), context(clock, http=client)).collect()
    assert (result.health.ok, result.health.samples, result.samples.height) == (True, 0, 0)


def test_credentials_in_the_url_never_appear_in_errors(client: httpx.Client) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = PrometheusScrapeCollector(
        config(f"http://scraper:s3cret@127.0.0.1:{port}/metrics"), context(clock, http=client)
    ).collect()
    assert result.health.error is not None
    assert "s3cret" not in result.health.error
    assert result.health.error.startswith(f"source 'api' (http://127.0.0.1:{port}/metrics): cannot connect")


def test_an_unexpected_failure_is_contained_on_health() -> None:
    def explode(request: httpx.Request) -> httpx.Response:
        raise RuntimeError("transport bug")

    with httpx.Client(transport=httpx.MockTransport(explode)) as broken:
        result = PrometheusScrapeCollector(config("http://target.test/metrics"), context(clock, http=broken)).collect()
    assert not result.health.ok
    assert result.health.error == (
        "source 'api' (http://target.test/metrics): unexpected error: RuntimeError: transport bug"
    )


def test_config_reads_durations_and_defaults() -> None:
    cfg = config("https://host:9100/metrics", interval="1m", timeout="2.5s", labels={"env": "prod"})
    assert (cfg.interval, cfg.timeout, cfg.body_size_limit) == (60.0, 2.5, 10 * 1024 * 1024)
    assert config("http://h/metrics").interval == 15.0
    assert cfg.model_dump(mode="json")["interval"] == "1m"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"url": "ftp://h/metrics"}, "expected an http:// or https:// URL with a host"),
        ({"interval": "soon"}, "'soon' is not a duration"),
        ({"timeout": "30s"}, "timeout (30s) must not exceed interval (15s)"),
        ({"labels": {"source": "x"}}, "'source' is set by Redline"),
        ({"labels": {"bad-name": "x"}}, "'bad-name' is not a label name"),
        ({"max_bytes": 0}, "greater than 0"),
        ({"scrape_every": "1m"}, "Extra inputs are not permitted"),
    ],
)
def test_config_rejects_bad_values_saying_what_is_wrong(extra: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=None) as info:
        config(str(extra.pop("url", "http://h/metrics")), **extra)
    assert message in str(info.value)


def test_a_target_trickling_bytes_is_cut_at_the_total_timeout(client: httpx.Client) -> None:
    release = threading.Event()

    def respond(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "text/plain; version=0.0.4")
        h.end_headers()
        # One line every 20 ms: no single read waits long enough to time out.
        while not release.wait(timeout=0.02):
            h.wfile.write(b"slow_metric 1\n")

    try:
        with serve(respond) as base:
            url = base + "/metrics"
            trickle = config(url, timeout="300ms", interval="1s")
            result = PrometheusScrapeCollector(trickle, context(clock, http=client)).collect()
            release.set()
    finally:
        release.set()
    assert result.health.error == f"source 'api' ({url}): timed out after 300ms"
    assert result.health.samples == result.samples.height == 0


def test_lines_that_are_not_utf8_are_skipped_and_named_while_the_rest_lands(client: httpx.Client) -> None:
    body = b'up{job="a"} 1\nbad{name="\xff"} 2\nup{job="b"} 0\n'
    with serve(lambda h: send(h, 200, body, "text/plain; version=0.0.4")) as base:
        result = PrometheusScrapeCollector(config(base + "/metrics"), context(clock, http=client)).collect()
    assert result.health.ok
    assert result.health.problems == (
        "line 2: not valid UTF-8 at byte 11, line skipped: 'bad{name=\"\ufffd\"} 2'",
    )
    assert result.samples.get_column("labels").to_list() == ['job="a",source="api"', 'job="b",source="api"']
