"""The demo's GenAI client: a simulated LLM caller instrumented with the OpenTelemetry SDK, exporting
the GenAI semantic-convention metrics over OTLP/HTTP (the SDK's own exporter) to the agent's
OTLP receiver, so the dashboard shows a time-to-first-token objective and a token cost guardrail.

Each second it makes ``calls_per_s`` calls to ``MODEL``: time to first token is log-normal around
100 ms (about 1% over 250 ms), recorded in an exponential histogram (0.25 s = 2^-2 is a bucket
boundary at every scale, so the objective over it is exact); tokens in and out per call, and the
operation's duration. Traffic is not real and not tied to the fleet's scenario.
"""

from __future__ import annotations

import math
import random
import threading

from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.sdk.metrics import Histogram, MeterProvider
from opentelemetry.sdk.metrics.export import AggregationTemporality, PeriodicExportingMetricReader
from opentelemetry.sdk.metrics.view import ExponentialBucketHistogramAggregation, View
from opentelemetry.sdk.resources import Resource

__all__ = ["MODEL", "GenAIClient"]

MODEL = "demo-llm"


class GenAIClient:
    """Simulated GenAI calls, exported every ``export_interval_s`` to ``endpoint`` (``.../v1/metrics``).

    ``tick()`` makes one second's calls (tests call it directly); ``start()`` runs it every second
    on a thread until ``shutdown()``, which also flushes what is recorded.
    """

    def __init__(self, endpoint: str, *, seed: int, export_interval_s: float = 5.0, calls_per_s: int = 20) -> None:
        exporter = OTLPMetricExporter(
            endpoint=endpoint, preferred_temporality={Histogram: AggregationTemporality.DELTA}
        )
        reader = PeriodicExportingMetricReader(exporter, export_interval_millis=export_interval_s * 1000)
        resource = Resource.create({"service.name": "assistant", "service.namespace": "demo"})
        views = [
            View(
                instrument_name="gen_ai.server.time_to_first_token", aggregation=ExponentialBucketHistogramAggregation()
            )
        ]
        self.provider = MeterProvider(metric_readers=[reader], resource=resource, views=views)
        meter = self.provider.get_meter("redline-demo-genai")
        self._tokens = meter.create_histogram("gen_ai.client.token.usage", unit="{token}")
        self._duration = meter.create_histogram("gen_ai.client.operation.duration", unit="s")
        self._ttft = meter.create_histogram("gen_ai.server.time_to_first_token", unit="s")
        self._random = random.Random(seed)
        self._calls_per_s = calls_per_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self) -> int:
        """One second of calls; returns how many were made."""
        rnd = self._random
        attrs = {"gen_ai.request.model": MODEL, "gen_ai.operation.name": "chat"}
        for _ in range(self._calls_per_s):
            ttft = rnd.lognormvariate(math.log(0.1), 0.4)
            output = rnd.randint(50, 350)
            self._ttft.record(ttft, attrs)
            self._duration.record(ttft + output * 0.01, attrs)
            self._tokens.record(rnd.randint(100, 700), {**attrs, "gen_ai.token.type": "input"})
            self._tokens.record(output, {**attrs, "gen_ai.token.type": "output"})
        return self._calls_per_s

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            self.tick()

    def start(self) -> None:
        """Make calls every second on a daemon thread."""
        self._thread = threading.Thread(target=self._run, name="redline-demo-genai", daemon=True)
        self._thread.start()

    def shutdown(self, timeout_s: float = 5.0) -> None:
        """Stop calling, export what is recorded, stop the exporter."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
        self.provider.shutdown(timeout_millis=timeout_s * 1000)
