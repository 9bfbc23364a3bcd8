"""The agent's own OpenTelemetry: a span per unit of work of a tick, and a few self-metrics, exported
over OTLP/HTTP only when the standard variables say where.

- ``OTEL_EXPORTER_OTLP_ENDPOINT`` (``http://collector:4318``; ``/v1/traces`` and ``/v1/metrics``
  are added) or the per-signal ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` /
  ``OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`` (used as given) turn export on, each signal alone;
  ``OTEL_SDK_DISABLED=true`` keeps it off. The SDK's exporters read the other ``OTEL_*`` settings
  (headers, timeout, compression) themselves.
- Unset, nothing is exported and no exporter exists: spans go to a no-op tracer.

Spans: ``redline.collect`` (source, samples, ok), ``redline.store`` (samples, written, dropped),
``redline.evaluate`` (objectives), ``redline.alert`` (events, deliveries, failed deliveries),
``redline.remote_write`` (targets). Metrics: ``redline.tick.duration`` (s, by job) and
``redline.samples.collected`` (by source), and every self-metric of ``/metrics`` through
``bridge(registry)`` (``agent/otel_bridge.py``: observable instruments reading the registry at
export time). ``/metrics`` stays ``prometheus_client``'s: this is
for a tracing backend or an OpenTelemetry Collector. The providers are the agent's own, never the
process-wide globals.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from typing import Final

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.metrics import Meter, NoOpMeter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from prometheus_client import CollectorRegistry

from redline.agent.otel_bridge import RegistryBridge

__all__ = ["Telemetry", "otlp_endpoint"]

_SCOPE: Final = "redline.agent"


def otlp_endpoint(env: Mapping[str, str], signal: str) -> str | None:
    """Where ``signal`` (``traces``/``metrics``) is exported per the ``OTEL_*`` variables, or None."""
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    own = env.get(f"OTEL_EXPORTER_OTLP_{signal.upper()}_ENDPOINT", "").strip()
    if own:
        return own
    base = env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
    return f"{base.rstrip('/')}/v1/{signal}" if base else None


class Telemetry:
    """The agent's tracer and meter: exporting when ``env`` configures OTLP, no-ops otherwise."""

    def __init__(self, env: Mapping[str, str], version: str) -> None:
        resource = Resource.create(
            {"service.name": env.get("OTEL_SERVICE_NAME") or "redline", "service.version": version}
        )
        self._tracer_provider: TracerProvider | None = None
        self._meter_provider: MeterProvider | None = None
        traces = otlp_endpoint(env, "traces")
        if traces is not None:
            self._tracer_provider = TracerProvider(resource=resource)
            self._tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=traces)))
        metrics = otlp_endpoint(env, "metrics")
        if metrics is not None:
            reader = PeriodicExportingMetricReader(OTLPMetricExporter(endpoint=metrics))
            self._meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
        self.tracer: trace.Tracer = (
            self._tracer_provider.get_tracer(_SCOPE, version) if self._tracer_provider else trace.NoOpTracer()
        )
        meter: Meter = self._meter_provider.get_meter(_SCOPE, version) if self._meter_provider else NoOpMeter(_SCOPE)
        self._meter = meter
        self._bridge: RegistryBridge | None = None
        self.tick_duration = meter.create_histogram(
            "redline.tick.duration", unit="s", description="Duration of one unit of the agent's work."
        )
        self.samples_collected = meter.create_counter(
            "redline.samples.collected", unit="{sample}", description="Samples collected or received, by source."
        )

    @property
    def exporting(self) -> bool:
        """Whether anything is exported (an ``OTEL_*`` endpoint is set)."""
        return self._tracer_provider is not None or self._meter_provider is not None

    def bridge(self, registry: CollectorRegistry) -> None:
        """Make ``registry``'s self-metrics (what ``/metrics`` serves) available through the SDK;
        nothing when metrics are not exported."""
        if self._meter_provider is not None and self._bridge is None:
            self._bridge = RegistryBridge(registry, self._meter)

    @property
    def bridging(self) -> bool:
        """Whether the self-metrics of ``/metrics`` are available through the SDK."""
        return self._bridge is not None

    def refresh_bridge(self) -> None:
        """Give self-metrics that appeared since the last call their instruments (cheap when off)."""
        if self._bridge is not None:
            self._bridge.refresh()

    def span(self, name: str, **attributes: str | int | float | bool) -> AbstractContextManager[trace.Span]:
        """A span around one unit of work; set counts on it with ``set_attribute``."""
        return self._timed(name, attributes)

    @contextmanager
    def _timed(self, name: str, attributes: Mapping[str, str | int | float | bool]) -> Iterator[trace.Span]:
        started = time.perf_counter()
        try:
            with self.tracer.start_as_current_span(name, attributes=dict(attributes)) as span:
                yield span
        finally:
            self.tick_duration.record(time.perf_counter() - started, {"job": name})

    def force_flush(self, timeout_s: float = 10.0) -> None:
        """Export what is pending now."""
        millis = int(timeout_s * 1000)
        if self._tracer_provider is not None:
            self._tracer_provider.force_flush(millis)
        if self._meter_provider is not None:
            self._meter_provider.force_flush(millis)

    def shutdown(self) -> None:
        """Flush and stop the exporters."""
        if self._tracer_provider is not None:
            self._tracer_provider.shutdown()
        if self._meter_provider is not None:
            self._meter_provider.shutdown()
