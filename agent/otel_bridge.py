"""Every self-metric of ``/metrics`` through the OpenTelemetry SDK: one bridge, not a second copy.

The agent's self-metrics live once, in prometheus_client's registry (``agent/selfmetrics.py`` and
the collectors the agent registers). This bridge gives the SDK's MeterProvider an observable
instrument per series name of that registry; at export time the first instrument's callback
collects the registry once (as a scrape of ``/metrics`` would) and every instrument answers from
that one reading. Nothing is recorded twice and the values are the ones ``/metrics`` shows.

Mapping, chosen so the OpenTelemetry-to-Prometheus conventions (Redline's own OTLP receiver, an
OpenTelemetry Collector's Prometheus exporter) give back the names of ``/metrics``:

- a counter family ``x`` (samples ``x_total``) is an ObservableCounter ``x`` (cumulative,
  monotonic: ``_total`` is added back);
- every other sample name (gauges, ``x_bucket{le}``/``x_sum``/``x_count`` of a histogram or
  summary, info, stateset, untyped) is an ObservableGauge of that name: the SDK has no observable
  histogram, so a histogram goes as its Prometheus series;
- ``_created`` samples are left out, as the OpenMetrics-less ``/metrics`` leaves them out.

Families that appear later (objective gauges after the first evaluation, a receiver's counters
after its first request) get their instruments at the next ``refresh()``, which the agent calls
after each evaluation; a name the SDK refuses (``:`` is not allowed in an instrument name) is
skipped.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable
from typing import Final

from opentelemetry.metrics import CallbackOptions, Meter, Observation
from prometheus_client import CollectorRegistry

__all__ = ["RegistryBridge"]

_INSTRUMENT_NAME: Final = re.compile(r"[A-Za-z][-_./A-Za-z0-9]{0,254}")

_Series = list[tuple[dict[str, str], float]]


class RegistryBridge:
    """Observable instruments over ``registry``, created on ``meter``."""

    def __init__(self, registry: CollectorRegistry, meter: Meter) -> None:
        self._registry = registry
        self._meter = meter
        self._lock = threading.Lock()
        self._known: set[str] = set()
        self._reading: dict[str, _Series] = {}
        meter.create_observable_gauge(
            "redline_otel_bridged_series_names",
            callbacks=[self._read],
            description="Series names of /metrics bridged to OpenTelemetry (read once per export here).",
        )
        self.refresh()

    def refresh(self) -> int:
        """Create instruments for series names that appeared since the last call; how many were new."""
        created = 0
        with self._lock:
            for name, counter in self._names(self._registry):
                if name in self._known:
                    continue
                self._known.add(name)
                if not _INSTRUMENT_NAME.fullmatch(name):
                    continue
                callback = self._observer(name)
                if counter:
                    self._meter.create_observable_counter(name, callbacks=[callback])
                else:
                    self._meter.create_observable_gauge(name, callbacks=[callback])
                created += 1
        return created

    @staticmethod
    def _names(registry: CollectorRegistry) -> Iterable[tuple[str, bool]]:
        for family in registry.collect():
            if family.type == "counter":
                yield family.name, True
                continue
            for sample in family.samples:
                if not sample.name.endswith("_created"):
                    yield sample.name, False

    def _read(self, options: CallbackOptions) -> Iterable[Observation]:
        """The first instrument's callback: collect the registry once for this export."""
        reading: dict[str, _Series] = {}
        for family in self._registry.collect():
            counter = family.type == "counter"
            for sample in family.samples:
                if sample.name.endswith("_created"):
                    continue
                name = family.name if counter else sample.name
                reading.setdefault(name, []).append((dict(sample.labels), float(sample.value)))
        self._reading = reading
        yield Observation(float(len(self._known)))

    def _observer(self, name: str) -> Callable[[CallbackOptions], Iterable[Observation]]:
        def observe(options: CallbackOptions) -> Iterable[Observation]:
            return [Observation(value, labels) for labels, value in self._reading.get(name, ())]

        return observe
