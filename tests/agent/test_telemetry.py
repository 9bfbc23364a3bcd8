"""The agent's own OpenTelemetry: spans per unit of work and self-metrics, exported over OTLP/HTTP
to a capturing server on 127.0.0.1 when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set, nothing otherwise."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from opentelemetry import trace
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from redline.agent.runtime import Agent
from redline.agent.telemetry import otlp_endpoint
from redline.config import LoadedConfig, parse_config
from redline.kernel.http_server import ThreadedHTTPServer, send_body
from tests.conformance.counter_target import Target


class Capture:
    """An OTLP/HTTP endpoint that keeps every body by path."""

    def __init__(self) -> None:
        self.bodies: dict[str, list[bytes]] = {}
        self.lock = threading.Lock()
        capture = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with capture.lock:
                    capture.bodies.setdefault(self.path, []).append(body)
                send_body(self, 200, "application/x-protobuf", b"")

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadedHTTPServer("otlp-capture", "127.0.0.1", 0)
        self.server.start(Handler)
        self.url = f"http://127.0.0.1:{self.server.port}"


@pytest.fixture
def capture() -> Iterator[Capture]:
    c = Capture()
    yield c
    c.server.shutdown()


@pytest.fixture
def target() -> Iterator[Target]:
    t = Target()
    yield t
    t.close()


def config(tmp_path: Path, target: Target) -> LoadedConfig:
    text = f"""
agent: {{data_dir: {tmp_path / "data"}, listen: "127.0.0.1:0"}}
sources: [{{name: api, kind: prometheus_scrape, url: "http://{target.address}/metrics"}}]
slos:
  - name: api
    objective: 99
    sli: {{ratio: {{errors: 'http_requests_total{{code="500"}}', total: http_requests_total}}}}
"""
    path = tmp_path / "redline.yaml"
    path.write_text(text)
    return LoadedConfig(parse_config(text, path), path)


def test_endpoints_come_from_the_standard_variables() -> None:
    assert otlp_endpoint({}, "traces") is None
    assert otlp_endpoint({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318/"}, "traces") == "http://c:4318/v1/traces"
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "http://m/x"}
    assert otlp_endpoint(env, "metrics") == "http://m/x"
    assert otlp_endpoint({**env, "OTEL_SDK_DISABLED": "true"}, "metrics") is None


def test_without_otel_variables_nothing_is_exported(tmp_path: Path, target: Target) -> None:
    agent = Agent(config(tmp_path, target), env={}, serve_metrics=False)
    try:
        assert not agent.telemetry.exporting
        assert isinstance(agent.telemetry.tracer, trace.NoOpTracer)
        assert agent.collect("api").ok
    finally:
        agent.shutdown()


def test_each_unit_of_a_tick_is_a_span_exported_over_otlp(tmp_path: Path, target: Target, capture: Capture) -> None:
    agent = Agent(config(tmp_path, target), env={"OTEL_EXPORTER_OTLP_ENDPOINT": capture.url}, serve_metrics=False)
    try:
        health = agent.collect("api")
        agent.evaluate()
        agent.telemetry.force_flush()
    finally:
        agent.shutdown()
    spans = {}
    for body in capture.bodies["/v1/traces"]:
        for rs in ExportTraceServiceRequest.FromString(body).resource_spans:
            assert {kv.key: kv.value.string_value for kv in rs.resource.attributes}["service.name"] == "redline"
            for ss in rs.scope_spans:
                for span in ss.spans:
                    attrs = {kv.key: kv.value for kv in span.attributes}
                    spans[span.name] = {k: v.int_value or v.string_value or v.bool_value for k, v in attrs.items()}
    assert set(spans) == {"redline.collect", "redline.store", "redline.evaluate", "redline.alert"}
    assert spans["redline.collect"] == {"source": "api", "samples": health.samples, "ok": True}
    assert spans["redline.store"]["written"] == health.samples
    assert spans["redline.evaluate"]["objectives"] == 1
    collected = [
        point.as_int
        for body in capture.bodies["/v1/metrics"]
        for rm in ExportMetricsServiceRequest.FromString(body).resource_metrics
        for sm in rm.scope_metrics
        for metric in sm.metrics
        if metric.name == "redline.samples.collected"
        for point in metric.sum.data_points
    ]
    assert collected and set(collected) == {health.samples}  # cumulative: each export (flush, shutdown) the same


def exported_points(capture: Capture) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """The last value of every exported point, by metric name and attributes."""
    points: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for body in capture.bodies["/v1/metrics"]:
        for rm in ExportMetricsServiceRequest.FromString(body).resource_metrics:
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    data = metric.sum.data_points if metric.HasField("sum") else metric.gauge.data_points
                    for p in data:
                        attrs = tuple(sorted((kv.key, kv.value.string_value) for kv in p.attributes))
                        value = p.as_double if p.HasField("as_double") else float(p.as_int)
                        points[(metric.name, attrs)] = value
    return points


def test_every_self_metric_is_available_through_the_sdk(tmp_path: Path, target: Target, capture: Capture) -> None:
    agent = Agent(config(tmp_path, target), env={"OTEL_EXPORTER_OTLP_ENDPOINT": capture.url}, serve_metrics=False)
    try:
        agent.collect("api")
        agent.collect("api")
        agent.evaluate()
        agent.telemetry.force_flush()
        shown = generate_latest(agent.metrics.registry).decode()  # the body /metrics serves
    finally:
        agent.shutdown()
    scraped = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(shown)
        for s in family.samples
    }
    pushed = exported_points(capture)
    api = (("source", "api"),)
    # a counter goes as an ObservableCounter named by its family; the conventions add _total back
    assert pushed[("redline_source_samples", api)] == scraped[("redline_source_samples_total", api)] > 0
    assert pushed[("redline_source_up", api)] == scraped[("redline_source_up", api)] == 1.0
    assert pushed[("redline_slo_objective_ratio", (("slo", "api"),))] == 0.99
    assert scraped[("redline_slo_objective_ratio", (("slo", "api"),))] == 0.99
    # a histogram goes as its Prometheus series: two collections counted, buckets by le
    count = pushed[("redline_source_collect_duration_seconds_count", api)]
    assert count == scraped[("redline_source_collect_duration_seconds_count", api)] == 2.0
    inf = (("le", "+Inf"), ("source", "api"))
    assert pushed[("redline_source_collect_duration_seconds_bucket", inf)] == 2.0
    # every series name of /metrics (but the process's own, which change between readings) is there
    names = {name for name, _ in scraped if not name.startswith("process_") and not name.endswith("_created")}
    bridged = {name for name, _ in pushed} | {name + "_total" for name, _ in pushed}
    assert names <= bridged, names - bridged


def test_without_otel_variables_no_bridge_exists(tmp_path: Path, target: Target) -> None:
    agent = Agent(config(tmp_path, target), env={}, serve_metrics=False)
    try:
        agent.telemetry.refresh_bridge()
        assert not agent.telemetry.bridging
    finally:
        agent.shutdown()
