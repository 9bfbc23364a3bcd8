"""The demo's GenAI client exports through the OpenTelemetry SDK to a real OTLP receiver on
127.0.0.1: the time-to-first-token histogram (exponential, counted exactly at 250 ms), the call
count and the token spend arrive as the demo config's objectives read them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from redline.agent.ingest_server import IngestServer
from redline.collectors.otlp import OTLPReceiver, OTLPReceiverConfig
from redline.collectors.rate_card import TokenPrice
from redline.demo.genai import MODEL, GenAIClient
from redline.kernel.labels import parse_labels
from tests.collectors.test_otlp import RecordingSink
from tests.ports import free_port

TTFT = "gen_ai_server_time_to_first_token_seconds"


@pytest.fixture
def receiver() -> Iterator[tuple[IngestServer, RecordingSink]]:
    config = OTLPReceiverConfig(
        kind="otlp",
        listen=f"127.0.0.1:{free_port()}",
        token_prices={MODEL: TokenPrice(input_per_million_usd=0.5, output_per_million_usd=1.5)},
    )
    sink = RecordingSink()
    server = IngestServer(config, {"/v1/metrics": OTLPReceiver(config, sink, thresholds={TTFT: [0.25]}).handle})
    server.start()
    yield server, sink
    server.shutdown()


def test_the_genai_client_pushes_what_the_demo_objectives_read(receiver: tuple[IngestServer, RecordingSink]) -> None:
    server, sink = receiver
    client = GenAIClient(f"http://127.0.0.1:{server.port}/v1/metrics", seed=3, export_interval_s=3600, calls_per_s=50)
    calls = client.tick() + client.tick()
    client.shutdown()  # exports what was recorded

    buckets = {parse_labels(labels)["le"]: points[-1][1] for labels, points in sink.series(f"{TTFT}_bucket").items()}
    assert buckets["+Inf"] == calls
    assert 0.9 * calls < buckets["0.25"] < calls  # about 1% of first tokens take longer than 250 ms
    (count,) = sink.series("gen_ai_client_operation_duration_seconds_count").values()
    assert count[-1][1] == calls
    spend = {
        parse_labels(labels)["token_type"]: points[-1][1]
        for labels, points in sink.series("redline_spend_usd_total").items()
    }
    assert set(spend) == {"input", "output"} and all(v > 0 for v in spend.values())
    assert all(not r.health.problems for _, r in sink.results)
