"""A small GenAI client instrumented with the OpenTelemetry SDK, exporting over OTLP/HTTP to Redline.

Run Redline with examples/otlp-genai.yaml, then ``python examples/genai_app.py``: every second it
"calls" a model and records the GenAI semantic-convention metrics (token usage, operation duration,
time to first token), one in twenty calls failing with ``error.type``. Needs the dev extra
(``opentelemetry-exporter-otlp-proto-http``).
"""

from __future__ import annotations

import random
import time

from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource

ENDPOINT = "http://127.0.0.1:4318/v1/metrics"


def main(calls: int = 600) -> None:
    """Make ``calls`` model calls, one a second, exporting every 10 s."""
    reader = PeriodicExportingMetricReader(OTLPMetricExporter(endpoint=ENDPOINT), export_interval_millis=10_000)
    resource = Resource.create({"service.name": "assistant", "service.namespace": "shop"})
    provider = MeterProvider(metric_readers=[reader], resource=resource)
    meter = provider.get_meter("genai-app")
    tokens = meter.create_histogram("gen_ai.client.token.usage", unit="{token}")
    duration = meter.create_histogram("gen_ai.client.operation.duration", unit="s")
    ttft = meter.create_histogram("gen_ai.server.time_to_first_token", unit="s")
    rnd = random.Random(1)
    try:
        for _ in range(calls):
            attrs = {"gen_ai.request.model": "small-model", "gen_ai.operation.name": "chat"}
            if rnd.random() < 0.05:
                duration.record(rnd.uniform(5, 30), {**attrs, "error.type": "timeout"})
            else:
                ttft.record(rnd.lognormvariate(-2.0, 0.5), attrs)
                duration.record(rnd.uniform(0.5, 4.0), attrs)
                tokens.record(rnd.randint(50, 800), {**attrs, "gen_ai.token.type": "input"})
                tokens.record(rnd.randint(10, 400), {**attrs, "gen_ai.token.type": "output"})
            time.sleep(1)
    finally:
        provider.shutdown()


if __name__ == "__main__":
    main()
