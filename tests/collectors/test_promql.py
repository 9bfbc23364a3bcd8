"""The promql collector against a small HTTP server on 127.0.0.1 serving canned API answers.

The bodies in tests/fixtures/promql/ have the shapes Prometheus and its proxies send (a 422
``execution`` error, a 503 ``timeout``, a Thanos-style partial response with ``warnings``, an
nginx 503 page, an oauth2-proxy login page); the real-Prometheus tests are in
test_promql_prometheus.py.
"""

from __future__ import annotations

import base64
import math
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
import yaml
from pydantic import ValidationError

from redline.collectors.promql import PromQLCollector, PromQLConfig
from redline.kernel.labels import format_labels
from tests.collectors.context import context
from tests.prometheus_server import free_port

FIXTURES = Path(__file__).parent.parent / "fixtures" / "promql"
EXAMPLE = Path(__file__).parent.parent.parent / "examples" / "sources-promql.yaml"
NOW_S = 1_700_000_100.25
NOW_MS = 1_700_000_100_250
TOKEN = "s3cr3t-t0ken-value"


def clock() -> float:
    return NOW_S


@dataclass(frozen=True)
class Seen:
    """One request as the server received it."""

    method: str
    path: str
    headers: dict[str, str]
    form: dict[str, str]


Reply = tuple[int, str, bytes]
"""Status, content type, body."""


@dataclass
class CannedAPI:
    url: str
    seen: list[Seen] = field(default_factory=list)


def canned(name: str, status: int = 200) -> Reply:
    content_type = "text/html; charset=utf-8" if name.endswith(".html") else "application/json"
    return status, content_type, (FIXTURES / name).read_bytes()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that gave up (the timeout test) is expected here


@contextmanager
def api(answer: Callable[[Seen], Reply]) -> Iterator[CannedAPI]:
    """Serve ``answer(request)`` for every GET and POST; records each request; stops on exit."""
    state = CannedAPI("")

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            form = {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}
            seen = Seen(self.command, self.path, dict(self.headers.items()), form)
            state.seen.append(seen)
            status, content_type, payload = answer(seen)
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = _handle

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = _Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def config(url: str, queries: list[dict[str, str]] | None = None, **extra: object) -> PromQLConfig:
    return PromQLConfig.model_validate(
        {
            "name": "prom",
            "kind": "promql",
            "url": url,
            "queries": queries or [{"record": "api_requests_total", "query": "sum by (code) (http_requests_total)"}],
            **extra,
        }
    )


def labels(**pairs: str) -> str:
    return format_labels({"source": "prom", **pairs})


# --- config ----------------------------------------------------------------------------------


def test_the_example_source_entry_validates_with_the_step_and_lookback_it_sets() -> None:
    document = yaml.safe_load(EXAMPLE.read_text())
    cfg = PromQLConfig.model_validate(document["sources"][0])
    assert cfg.url == "http://127.0.0.1:9090"
    assert (cfg.interval, cfg.timeout_s, cfg.lookback, cfg.step_s) == (30.0, 20.0, 21600.0, 60.0)
    assert cfg.bearer_token_env == "PROMETHEUS_TOKEN"
    assert [q.record for q in cfg.queries] == ["api_requests_total", "api_request_duration_seconds_bucket"]
    assert cfg.series_labels() == {"cluster": "prod-eu", "source": "prometheus"}
    ratio = document["slos"][0]["sli"]["ratio"]
    assert ratio == {"errors": 'api_requests_total{code=~"5.."}', "total": "api_requests_total"}


def test_the_step_defaults_to_the_interval() -> None:
    assert config("http://127.0.0.1:9090", interval="45s").step_s == 45.0


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"queries": [{"record": "api requests", "query": "up"}]}, "String should match pattern"),
        ({"queries": [{"record": "up", "query": "   "}]}, "query is blank"),
        ({"bearer_token_env": "T", "basic_auth": {"username": "u", "password_env": "P"}}, "at most one of"),
        ({"headers": {"Authorization": "Bearer x"}}, "not from headers"),
        ({"headers": {"x-scope-orgid": "t"}}, "not from headers"),
        ({"url": "ftp://prometheus:9090"}, "http:// or https://"),
        ({"bearer_token_env": "MY-TOKEN"}, "String should match pattern"),
    ],
)
def test_a_bad_config_fails_at_load_saying_what_is_wrong(extra: dict[str, object], message: str) -> None:
    raw: dict[str, object] = {
        "name": "prom", "kind": "promql", "url": "http://127.0.0.1:9090",
        "queries": [{"record": "up_ratio", "query": "avg(up)"}], **extra,
    }
    with pytest.raises(ValidationError, match=message):
        PromQLConfig.model_validate(raw)


# --- requests ----------------------------------------------------------------------------------


def test_queries_are_posted_form_encoded_to_the_api_under_the_base_path(client: httpx.Client) -> None:
    long_query = "sum by (code) (" + " or ".join(f'http_requests_total{{job="j{i}"}}' for i in range(300)) + ")"
    with api(lambda seen: canned("vector_partial_warnings.json")) as server:
        cfg = config(server.url + "/prometheus/", [{"record": "api_requests_total", "query": long_query}])
        result = PromQLCollector(cfg, context(clock, http=client)).collect()
    assert result.health.samples == 2
    [seen] = server.seen
    assert (seen.method, seen.path) == ("POST", "/prometheus/api/v1/query")
    assert seen.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert seen.form["query"] == long_query
    assert seen.form["time"] == "1700000100.250"
    assert seen.form["timeout"].endswith("ms") and 0 < int(seen.form["timeout"][:-2]) <= 10_000
    assert "Authorization" not in seen.headers and "X-Scope-OrgID" not in seen.headers


def test_a_bearer_token_and_tenant_are_sent_and_the_token_never_shows_in_errors_or_repr(
    client: httpx.Client,
) -> None:
    with api(lambda seen: (401, "text/plain", b"Unauthorized\n")) as server:
        cfg = config(server.url, bearer_token_env="PROM_TOKEN", tenant="team-ml")
        collector = PromQLCollector(cfg, context(clock, env={"PROM_TOKEN": TOKEN}, http=client))
        result = collector.collect()
    [seen] = server.seen
    assert seen.headers["Authorization"] == f"Bearer {TOKEN}"
    assert seen.headers["X-Scope-OrgID"] == "team-ml"
    assert result.health.error == (
        f"source 'prom' ({server.url}): query 'api_requests_total' (sum by (code) (http_requests_total)): "
        "HTTP 401 Unauthorized"
    )
    assert TOKEN not in repr(collector) and TOKEN not in repr(cfg) and TOKEN not in repr(result)
    assert TOKEN not in repr(vars(collector))  # the headers it keeps are Secrets, whose repr hides values


def test_basic_auth_sends_the_password_from_the_environment(client: httpx.Client) -> None:
    with api(lambda seen: canned("vector_partial_warnings.json")) as server:
        cfg = config(server.url, basic_auth={"username": "redline", "password_env": "PROM_PASSWORD"})
        result = PromQLCollector(cfg, context(clock, env={"PROM_PASSWORD": TOKEN}, http=client)).collect()
    assert result.health.samples == 2
    [seen] = server.seen
    assert seen.headers["Authorization"] == "Basic " + base64.b64encode(f"redline:{TOKEN}".encode()).decode()


def test_an_unset_secret_is_a_health_error_naming_the_variable_and_nothing_is_sent(client: httpx.Client) -> None:
    with api(lambda seen: canned("vector_partial_warnings.json")) as server:
        cfg = config(server.url, bearer_token_env="PROM_TOKEN")
        result = PromQLCollector(cfg, context(clock, http=client)).collect()
    assert server.seen == []
    assert not result.health.ok
    assert result.health.error == (
        f"source 'prom' ({server.url}): environment variable PROM_TOKEN (named by bearer_token_env) is not set "
        "(nor PROM_TOKEN_FILE)"
    )


# --- answers -----------------------------------------------------------------------------------


def test_a_partial_response_with_warnings_is_ok_with_the_warning_among_the_problems(client: httpx.Client) -> None:
    with api(lambda seen: canned("vector_partial_warnings.json")) as server:
        result = PromQLCollector(config(server.url), context(clock, http=client)).collect()
    assert result.health.ok and result.health.error is None
    assert result.health.problems == (
        "query 'api_requests_total' (sum by (code) (http_requests_total)): server warning: partial response: "
        "store 10.0.0.3:10901 unavailable: rpc error: code = Unavailable desc = connection refused",
    )
    assert sorted(result.samples.iter_rows()) == [
        ("api_requests_total", labels(code="200"), NOW_MS, 6300.0),
        ("api_requests_total", labels(code="500"), NOW_MS, 48.0),
    ]


def test_special_values_are_kept_and_a_source_label_from_the_backend_becomes_exported_source(
    client: httpx.Client,
) -> None:
    with api(lambda seen: canned("vector_special_values.json")) as server:
        cfg = config(server.url, [{"record": "gpu_utilization_ratio", "query": "gpu_util"}], labels={"team": "ml"})
        result = PromQLCollector(cfg, context(clock, http=client)).collect()
    assert result.health.ok, result.health.error
    rows = {r[1]: r[3] for r in result.samples.iter_rows()}
    assert set(result.samples.get_column("metric")) == {"gpu_utilization_ratio"}
    assert set(result.samples.get_column("timestamp")) == {NOW_MS}
    a = format_labels({"instance": "a", "exported_source": "node-exporter", "source": "prom", "team": "ml"})
    assert math.isnan(rows.pop(a))
    assert rows == {
        labels(instance="b", team="ml"): math.inf,
        labels(instance="c", team="ml"): -math.inf,
        labels(instance="d", path='C:\\tmp "x"', team="ml"): 0.75,
    }


def test_series_equal_once_the_name_is_replaced_and_native_histograms_are_skipped_and_reported(
    client: httpx.Client,
) -> None:
    with api(lambda seen: canned("vector_duplicates_and_histogram.json")) as server:
        cfg = config(server.url, [{"record": "api_anything", "query": '{job=~"api|rpc"}'}])
        result = PromQLCollector(cfg, context(clock, http=client)).collect()
    assert result.health.ok
    assert result.samples.rows() == [("api_anything", labels(job="api"), NOW_MS, 1.0)]
    shown = "query 'api_anything' ({job=~\"api|rpc\"})"
    assert result.health.problems == (
        f'{shown}: two result series have labels {{job="api"}} once __name__ is replaced; the second is skipped',
        f'{shown}: native histogram series {{job="rpc"}} skipped: record a float expression instead',
    )


def test_a_422_with_an_error_body_names_the_source_the_query_and_the_server_text(client: httpx.Client) -> None:
    with api(lambda seen: canned("error_422_execution.json", 422)) as server:
        result = PromQLCollector(config(server.url), context(clock, http=client)).collect()
    assert not result.health.ok
    assert result.health.error == (
        f"source 'prom' ({server.url}): query 'api_requests_total' (sum by (code) (http_requests_total)): "
        "HTTP 422 execution: query processing would load too many samples into memory in query execution"
    )
    assert result.samples.height == 0


@pytest.mark.parametrize(
    ("reply", "says"),
    [
        (canned("error_503_timeout.json", 503), "HTTP 503 timeout: query timed out in expression evaluation"),
        (
            canned("proxy_503.html", 503),
            "expected JSON but got text/html (HTTP 503; a proxy or login page?): "
            "'<html>\\n<head><title>503 Service Temporarily Unavailable</title></head>\\n<body>\\n<c'",
        ),
        (
            canned("proxy_login.html"),
            "expected JSON but got text/html (HTTP 200; a proxy or login page?): "
            "'<!DOCTYPE html>\\n<html><head><title>Sign in - oauth2-proxy</title></head>\\n<body><'",
        ),
        (canned("string_result.json"), "the query returns a string, which has no numeric value to store"),
        ((502, "text/plain", b"bad gateway"), "HTTP 502 Bad Gateway"),
    ],
    ids=["503-timeout", "503-html", "html-login", "string", "502"],
)
def test_a_failed_answer_is_a_clear_error_and_stores_nothing(
    client: httpx.Client, reply: Reply, says: str
) -> None:
    with api(lambda seen: reply) as server:
        result = PromQLCollector(config(server.url), context(clock, http=client)).collect()
    assert not result.health.ok
    assert result.health.error == (
        f"source 'prom' ({server.url}): query 'api_requests_total' (sum by (code) (http_requests_total)): {says}"
    )
    assert result.samples.height == 0


def test_a_refused_port_fails_every_query_by_name_and_other_sources_are_unaffected(client: httpx.Client) -> None:
    down = f"http://127.0.0.1:{free_port()}"
    queries = [{"record": "a_total", "query": "sum(a_total)"}, {"record": "b_total", "query": "sum(b_total)"}]
    with api(lambda seen: canned("vector_partial_warnings.json")) as server:
        bad = PromQLCollector(config(down, queries, name="down"), context(clock, http=client)).collect()
        good = PromQLCollector(config(server.url, name="up"), context(clock, http=client)).collect()
    assert not bad.health.ok and bad.samples.height == 0
    assert bad.health.error is not None
    assert bad.health.error.startswith(f"source 'down' ({down}): query 'a_total' (sum(a_total)): cannot connect: ")
    assert "; query 'b_total' (sum(b_total)): cannot connect: " in bad.health.error
    assert good.health.ok and good.health.samples == 2


def test_one_failing_query_keeps_the_others_samples_and_the_health_names_it(client: httpx.Client) -> None:
    def answer(seen: Seen) -> Reply:
        if seen.form["query"] == "bad_query":
            return canned("error_422_execution.json", 422)
        return canned("vector_partial_warnings.json")

    queries = [{"record": "broken", "query": "bad_query"}, {"record": "api_requests_total", "query": "good"}]
    with api(answer) as server:
        result = PromQLCollector(config(server.url, queries), context(clock, http=client)).collect()
    assert not result.health.ok
    assert result.health.error == (
        f"source 'prom' ({server.url}): 1 of 2 queries failed: query 'broken' (bad_query): "
        "HTTP 422 execution: query processing would load too many samples into memory in query execution"
    )
    assert result.health.samples == 2
    assert sorted(result.samples.get_column("labels")) == [labels(code="200"), labels(code="500")]


def test_a_failed_backfill_is_retried_on_the_next_collection_then_queries_are_instant(client: httpx.Client) -> None:
    replies = iter(
        [canned("error_503_timeout.json", 503), canned("matrix.json"), canned("vector_partial_warnings.json")]
    )
    with api(lambda seen: next(replies)) as server:
        collector = PromQLCollector(config(server.url, lookback="2m", step="1m"), context(clock, http=client))
        first, second, third = collector.collect(), collector.collect(), collector.collect()
    paths = [s.path for s in server.seen]
    assert paths == ["/api/v1/query_range", "/api/v1/query_range", "/api/v1/query"]
    assert {k: server.seen[1].form[k] for k in ("start", "end", "step")} == {
        "start": "1699999980.250", "end": "1700000100.250", "step": "60.000"
    }
    assert not first.health.ok and first.samples.height == 0
    assert second.health.ok
    assert sorted(second.samples.iter_rows()) == [
        ("api_requests_total", labels(code="200"), 1_700_000_040_000, 6240.0),
        ("api_requests_total", labels(code="200"), 1_700_000_100_000, 6300.0),
        ("api_requests_total", labels(code="500"), 1_700_000_040_000, 47.0),
        ("api_requests_total", labels(code="500"), 1_700_000_100_000, 48.0),
    ]
    assert third.health.samples == 2


def test_the_timeout_bounds_the_whole_collection_and_later_queries_are_not_run(client: httpx.Client) -> None:
    release = threading.Event()

    def answer(seen: Seen) -> Reply:
        release.wait(timeout=30)  # hold the first query past the client's timeout
        return canned("vector_partial_warnings.json")

    queries = [{"record": "slow", "query": "slow"}, {"record": "next", "query": "next"}]
    with api(answer) as server:
        try:
            cfg = config(server.url, queries, interval="1s", timeout="200ms")
            result = PromQLCollector(cfg, context(clock, http=client)).collect()
        finally:
            release.set()
    # the first query gets what is left of the 200 ms (a hair less), the second nothing
    assert re.fullmatch(
        re.escape(f"source 'prom' ({server.url}): query 'slow' (slow): timed out after ")
        + r"(199|200)ms"
        + re.escape("; query 'next' (next): not run: the source's timeout (200ms) was spent"),
        result.health.error or "",
    )
    assert len(server.seen) == 1
