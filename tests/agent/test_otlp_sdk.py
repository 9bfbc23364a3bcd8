"""OTLP end to end: an application instrumented with the OpenTelemetry Python SDK exports with the
SDK's own OTLP/HTTP exporter to the agent's receiver, and each objective over what it pushed
equals the value computed from the counts the application recorded."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import polars as pl
import pytest
from google.rpc.status_pb2 import Status
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.sdk.metrics import Counter, Histogram, MeterProvider
from opentelemetry.sdk.metrics.export import AggregationTemporality, PeriodicExportingMetricReader
from opentelemetry.sdk.metrics.view import (
    ExplicitBucketHistogramAggregation,
    ExponentialBucketHistogramAggregation,
    View,
)
from opentelemetry.sdk.resources import Resource

from redline.agent.runtime import Agent
from redline.config import LoadedConfig, parse_config
from redline.kernel.labels import parse_selector
from redline.slo.series.increase import increase
from tests.agent.test_full_disk import Disk
from tests.collectors.test_otlp import S, request, sum_metric
from tests.ports import free_port

LATENCIES = (0.05, 0.12, 0.2, 0.3, 0.45, 0.8, 1.7)


def config(tmp_path: Path, port: int) -> LoadedConfig:
    text = f"""
agent: {{data_dir: {tmp_path / "data"}, listen: "127.0.0.1:0"}}
receivers: [{{kind: otlp, listen: "127.0.0.1:{port}"}}]
slos:
  - name: chat-availability
    objective: 99
    sli:
      ratio:
        errors: app_requests_total{{job="shop/chat",code=~"5.."}}
        total: app_requests_total{{job="shop/chat"}}
  - name: chat-latency
    objective: 90
    sli: {{latency: {{histogram: 'app_request_duration_seconds{{job="shop/chat"}}', threshold: 250ms}}}}
  - name: chat-ttft
    objective: 90
    sli: {{latency: {{histogram: gen_ai_server_time_to_first_token_seconds, threshold: 500ms}}}}
"""
    path = tmp_path / "redline.yaml"
    path.write_text(text)
    return LoadedConfig(parse_config(text, path), path)


class PinnableClock:
    """The wall clock, until a test pins it (to evaluate at the instant of the last pushed point)."""

    def __init__(self) -> None:
        self.pinned: float | None = None

    def __call__(self) -> float:
        return time.time() if self.pinned is None else self.pinned


@pytest.fixture
def clock() -> PinnableClock:
    return PinnableClock()


@pytest.fixture
def agent(tmp_path: Path, clock: PinnableClock) -> Iterator[Agent]:
    agent = Agent(config(tmp_path, free_port()), env={}, clock=clock)
    agent.start_server()
    yield agent
    agent.shutdown()


def provider(port: int, temporality: AggregationTemporality) -> MeterProvider:
    exporter = OTLPMetricExporter(
        endpoint=f"http://127.0.0.1:{port}/v1/metrics",
        preferred_temporality={Counter: temporality, Histogram: temporality},
    )
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)  # exports on flush only
    views = [
        View(
            instrument_name="app.request.duration",
            aggregation=ExplicitBucketHistogramAggregation((0.1, 0.25, 0.5, 1.0)),
        ),
        View(instrument_name="gen_ai.server.time_to_first_token", aggregation=ExponentialBucketHistogramAggregation()),
    ]
    resource = Resource.create({"service.name": "chat", "service.namespace": "shop", "service.instance.id": "pod-1"})
    return MeterProvider(metric_readers=[reader], resource=resource, views=views)


@pytest.mark.parametrize("temporality", [AggregationTemporality.CUMULATIVE, AggregationTemporality.DELTA])
def test_objectives_over_what_the_sdk_pushed_equal_the_recorded_counts(
    agent: Agent, clock: PinnableClock, temporality: AggregationTemporality
) -> None:
    port = agent.receivers.ports()["otlp"]
    meters = provider(port, temporality)
    meter = meters.get_meter("chat")
    requests = meter.create_counter("app.requests", unit="{request}")
    duration = meter.create_histogram("app.request.duration", unit="s")
    ttft = meter.create_histogram("gen_ai.server.time_to_first_token", unit="s")
    for code in ("200", "500"):
        requests.add(0, {"code": code})  # every series exists from the first export on
    duration.record(0.0)
    ttft.record(0.01)
    assert meters.force_flush(10_000)
    errors = total = fast = slow_ttft = observed = 0
    if temporality == AggregationTemporality.DELTA:
        # A delta stream's first point counts from its start time (a 0 is stored there); a
        # cumulative stream's first point is its baseline, as a scrape's first sample is.
        fast = observed = 1
    for step in range(4):
        requests.add(100, {"code": "200"})
        requests.add(step * 3, {"code": "500"})
        errors, total = errors + step * 3, total + 100 + step * 3
        for i, seconds in enumerate(LATENCIES * (step + 1)):
            duration.record(seconds)
            ttft.record(seconds * 2 if i % 2 else seconds)
            observed += 1
            fast += seconds <= 0.25
            slow_ttft += (seconds * 2 if i % 2 else seconds) > 0.5
        assert meters.force_flush(10_000)
    meters.shutdown()

    # Evaluated at the instant of the last point, so nothing is extrapolated past the end. A
    # counter stream that starts at 0 is not extrapolated before its start either (Prometheus's
    # zero floor), so its increase is the recorded count; a cumulative histogram's buckets start
    # at the baseline's 1, so their increases are Prometheus's extrapolation of the counts
    # (``prometheus_ratio``, from the stored samples through the conformance-tested increase()).
    newest = agent.store.newest_timestamp_ms()
    assert newest is not None
    clock.pinned = newest / 1000
    report = {o.name: o for o in agent.evaluate().objectives}
    health = agent.health["otlp"]
    assert health.ok and not health.problems, health
    assert report["chat-availability"].value == pytest.approx(1 - errors / total, rel=1e-12)
    assert report["chat-availability"].events == pytest.approx(total, rel=1e-12)
    if temporality == AggregationTemporality.DELTA:  # every stream starts at 0 (stored at its start time)
        assert report["chat-latency"].value == pytest.approx(fast / observed, rel=1e-12)
        assert report["chat-ttft"].value == pytest.approx(1 - slow_ttft / observed, rel=1e-12)
    else:
        histogram = 'app_request_duration_seconds_bucket{job="shop/chat"}'
        assert report["chat-latency"].value == pytest.approx(prometheus_ratio(agent, histogram, "0.25", newest))
        assert report["chat-latency"].value != pytest.approx(fast / observed, rel=1e-6)  # the baseline counts
    assert not report["chat-ttft"].approximate


def prometheus_ratio(agent: Agent, bucket_selector: str, le: str, at_ms: int) -> float:
    """``sum(increase(bucket{le=LE}[30d])) / sum(increase(bucket{le="+Inf"}[30d]))`` over the stored samples."""
    window_ms = 30 * 86400 * 1000
    samples = agent.store.read([parse_selector(bucket_selector)], at_ms - window_ms, at_ms).sort("timestamp")

    def total(bound: str) -> float:
        found = 0.0
        for _, rows in samples.filter(pl.col("labels").str.contains(f'le="{bound}"', literal=True)).group_by("labels"):
            value = increase(rows["timestamp"].to_numpy(), rows["value"].to_numpy(), at_ms, window_ms)
            found += value or 0.0
        return found

    return total(le) / total("+Inf")


GENAI_CONFIG = """
agent: {{data_dir: {data}, listen: "127.0.0.1:0"}}
receivers:
  - kind: otlp
    listen: "127.0.0.1:{port}"
    token_prices:
      small-model: {{input_per_million_usd: 0.5, output_per_million_usd: 1.5}}
slos:
  - name: small-model-ttft
    objective: 95
    sli:
      latency:
        histogram: gen_ai_server_time_to_first_token_seconds{{gen_ai_request_model="small-model"}}
        threshold: 250ms
  - name: llm-availability
    objective: 99
    sli:
      ratio:
        errors: gen_ai_client_operation_duration_seconds_count{{error_type=~".+"}}
        total: gen_ai_client_operation_duration_seconds_count
guardrails:
  - name: llm-unit-cost
    window: 1d
    cost_per_1k:
      spend: redline_spend_usd_total{{source="otlp"}}
      inferences: gen_ai_client_operation_duration_seconds_count
      max: 0.5
"""


def test_genai_metrics_give_ttft_availability_and_token_cost_per_1k(tmp_path: Path) -> None:
    port = free_port()
    path = tmp_path / "redline.yaml"
    text = GENAI_CONFIG.format(data=tmp_path / "data", port=port)
    clock = PinnableClock()
    agent = Agent(LoadedConfig(parse_config(text, path), path), env={}, clock=clock)
    agent.start_server()
    try:
        meters = provider(port, AggregationTemporality.DELTA)
        meter = meters.get_meter("genai-app")
        tokens = meter.create_histogram("gen_ai.client.token.usage", unit="{token}")
        duration = meter.create_histogram("gen_ai.client.operation.duration", unit="s")
        ttft = meter.create_histogram("gen_ai.server.time_to_first_token", unit="s")
        model = {"gen_ai.request.model": "small-model", "gen_ai.operation.name": "chat"}
        calls = failed = fast = 0
        input_tokens = output_tokens = 0
        for step in range(3):
            for i in range(10):
                calls += 1
                if (step + i) % 7 == 0:
                    failed += 1
                    duration.record(0.4, {**model, "error.type": "timeout"})
                    continue
                duration.record(0.9, model)
                seconds = 0.1 if i % 3 else 0.3
                ttft.record(seconds, model)
                fast += seconds <= 0.25
                tokens.record(100 + i, {**model, "gen_ai.token.type": "input"})
                tokens.record(20 * i, {**model, "gen_ai.token.type": "output"})
                input_tokens, output_tokens = input_tokens + 100 + i, output_tokens + 20 * i
            assert meters.force_flush(10_000)
        meters.shutdown()
        newest = agent.store.newest_timestamp_ms()  # at the last point: nothing extrapolated past it
        assert newest is not None
        clock.pinned = newest / 1000
        report = {o.name: o for o in agent.evaluate().objectives}
    finally:
        agent.shutdown()
    assert report["small-model-ttft"].value == pytest.approx(fast / (calls - failed), rel=1e-12)
    assert report["llm-availability"].value == pytest.approx(1 - failed / calls, rel=1e-12)
    spend = (input_tokens * 0.5 + output_tokens * 1.5) / 1e6
    assert report["llm-unit-cost"].value == pytest.approx(spend / (calls / 1000), rel=1e-9)


def test_while_the_store_cannot_be_written_the_receiver_answers_503_and_takes_samples_again_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()
    agent = Agent(config(tmp_path, port), env={}, clock=time.time)
    agent.start_server()
    disk = Disk()
    monkeypatch.setattr(agent.write_buffer, "_write", disk.write)  # the write seam (as test_full_disk)
    url = f"http://127.0.0.1:{port}/v1/metrics"
    now = time.time_ns()

    def push(step: int) -> httpx.Response:
        body = request(sum_metric("jobs", [(now - 60 * S, now - (10 - step) * S, float(step))]))
        return httpx.post(url, content=body.SerializeToString(), headers={"Content-Type": "application/x-protobuf"})

    try:
        disk.full = True
        assert push(1).status_code == 200  # taken: it waits in the write buffer
        behind = push(2)
        assert (behind.status_code, behind.headers["Retry-After"]) == (503, "5")
        assert "the store cannot be written (1 samples wait in memory)" in Status.FromString(behind.content).message
        disk.full = False
        agent.flush_write_buffer()
        assert push(3).status_code == 200
    finally:
        agent.shutdown()
    assert disk.timestamps() == sorted(disk.timestamps()) and len(disk.timestamps()) == 2
