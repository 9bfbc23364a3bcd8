"""OTLP ingest next to the scrape path, on the same series: ``.venv/bin/python -m bench.otlp``.

The 100k counter series of ``bench.parse`` (50 families, 10 labels each) arrive (a) as one
exposition parsed by the scrape path's ``ExpositionParser`` (steady state: series seen before) and
(b) as one OTLP export request of the same series as cumulative monotonic Sums, read by the
``OTLPReceiver`` (protobuf decode, names and labels, stream checks, the sample frame; steady
state: streams seen before), its samples discarded in both cases so the store is not measured.
Printed: points/s and CPU seconds per million points for both, in one run. The HTTP server's
share is ``bench.ingest_server``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1 import metrics_pb2 as pb

from bench.ingest_server import DiscardSink
from bench.parse import LABELS, SAMPLES, make_exposition
from redline.collectors.exposition import ExpositionParser
from redline.collectors.otlp import OTLPReceiver, OTLPReceiverConfig

FAMILIES = 50
T0_NS = 1_700_000_000 * 10**9


def make_request(step: int) -> bytes:
    """The series of ``make_exposition`` as one OTLP request at ``step`` (15 s apart)."""
    per_family = SAMPLES // FAMILIES
    req = ExportMetricsServiceRequest()
    scope = req.resource_metrics.add().scope_metrics.add()
    for f in range(FAMILIES):
        metric = scope.metrics.add(name=f"app_requests_{f}")
        metric.sum.is_monotonic = True
        metric.sum.aggregation_temporality = pb.AGGREGATION_TEMPORALITY_CUMULATIVE
        for i in range(per_family):
            p = metric.sum.data_points.add(
                start_time_unix_nano=T0_NS, time_unix_nano=T0_NS + (step + 1) * 15 * 10**9, as_int=i + step
            )
            p.attributes.extend(
                KeyValue(key=f"label_{j}", value=AnyValue(string_value=f"value_{j}_{(i * (j + 3)) % (per_family + j)}"))
                for j in range(LABELS)
            )
    return req.SerializeToString()


def _cpu(fn: Callable[[], int], runs: int) -> tuple[float, float, int]:
    """Best wall and CPU seconds over ``runs``, and the points of the last."""
    best_wall = best_cpu = float("inf")
    points = 0
    for _ in range(runs):
        wall, cpu = time.perf_counter(), time.process_time()
        points = fn()
        best_wall, best_cpu = min(best_wall, time.perf_counter() - wall), min(best_cpu, time.process_time() - cpu)
    return best_wall, best_cpu, points


def main() -> None:
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    text = make_exposition()
    parser = ExpositionParser({"source": "bench"})
    parser.parse(text, default_timestamp_ms=0)
    scrape = _cpu(lambda: parser.parse(text, default_timestamp_ms=0).samples.height, 5)

    bodies = [make_request(step) for step in range(4)]
    print(f"one request: {len(bodies[0]) / 1e6:.1f} MB protobuf; exposition {len(text) / 1e6:.1f} MB")
    receiver = OTLPReceiver(OTLPReceiverConfig(kind="otlp", body_size_limit=0), DiscardSink(), clock=lambda: 1.8e9)
    steps = iter(bodies)

    def push() -> int:
        answer = receiver.handle(next(steps), "application/x-protobuf")
        assert answer.status == 200 and not answer.body, answer.body[:200]
        return SAMPLES

    push()  # the streams are new once
    otlp = _cpu(push, 3)
    assert receiver.points["accepted"] == 4 * SAMPLES

    print(f"{'path, same 100k series':<44} {'points/s':>12} {'CPU s per 1M points':>20}")
    for label, (wall, cpu, n) in (("scrape: ExpositionParser (baseline)", scrape), ("OTLP: OTLPReceiver.handle", otlp)):
        print(f"{label:<44} {n / wall:>12,.0f} {cpu / n * 1e6:>20.2f}")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
