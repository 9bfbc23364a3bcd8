"""The OTLP receiver on hand-built export requests: names, temporality, histograms, answers, bad input."""

from __future__ import annotations

import gzip
import json
import math
from collections.abc import Sequence
from typing import Any

import polars as pl
import pytest
from google.rpc.status_pb2 import Status
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1 import metrics_pb2 as pb

from redline.collectors.base import CollectResult
from redline.collectors.otlp import OTLPReceiver, OTLPReceiverConfig
from redline.collectors.otlp_points import exponential_boundary
from redline.kernel.labels import format_labels, parse_labels

NOW_S = 1_764_000_000.0
T0 = int(NOW_S * 1e9) - 3_600 * 10**9  # an hour ago, in ns
S = 10**9
PB = "application/x-protobuf"


class RecordingSink:
    """Keeps what it is given (a real sink stores it)."""

    def __init__(self) -> None:
        self.results: list[tuple[str, CollectResult]] = []
        self.behind_reason: str | None = None

    def behind(self) -> str | None:
        return self.behind_reason

    def accept(self, source: str, result: CollectResult) -> None:
        self.results.append((source, result))

    def samples(self) -> pl.DataFrame:
        return pl.concat([r.samples for _, r in self.results])

    def series(self, metric: str) -> dict[str, list[tuple[int, float]]]:
        """labels -> [(timestamp ms, value)] of one metric, over every request."""
        out: dict[str, list[tuple[int, float]]] = {}
        for m, labels, ts, value in self.samples().iter_rows():
            if m == metric:
                out.setdefault(labels, []).append((ts, value))
        return out


def receiver(**settings: Any) -> tuple[OTLPReceiver, RecordingSink]:
    sink = RecordingSink()
    thresholds = settings.pop("thresholds", None)
    config = OTLPReceiverConfig(kind="otlp", **settings)
    return OTLPReceiver(config, sink, clock=lambda: NOW_S, thresholds=thresholds), sink


def attrs(**values: str) -> list[KeyValue]:
    return [KeyValue(key=k.replace("__", "."), value=AnyValue(string_value=v)) for k, v in values.items()]


def request(*metrics: pb.Metric, resource: dict[str, str] | None = None) -> ExportMetricsServiceRequest:
    req = ExportMetricsServiceRequest()
    rm = req.resource_metrics.add()
    for k, v in (resource or {"service.name": "chat"}).items():
        rm.resource.attributes.append(KeyValue(key=k, value=AnyValue(string_value=v)))
    rm.scope_metrics.add().metrics.extend(metrics)
    return req


def sum_metric(
    name: str,
    points: Sequence[tuple[int, int, float]],
    *,
    delta: bool = False,
    monotonic: bool = True,
    unit: str = "",
    labels: dict[str, str] | None = None,
) -> pb.Metric:
    m = pb.Metric(name=name, unit=unit)
    m.sum.is_monotonic = monotonic
    m.sum.aggregation_temporality = pb.AGGREGATION_TEMPORALITY_DELTA if delta else pb.AGGREGATION_TEMPORALITY_CUMULATIVE
    for start, time, value in points:
        p = m.sum.data_points.add(start_time_unix_nano=start, time_unix_nano=time, as_double=value)
        p.attributes.extend(attrs(**(labels or {})))
    return m


def post(r: OTLPReceiver, req: ExportMetricsServiceRequest) -> ExportMetricsServiceResponse:
    answer = r.handle(req.SerializeToString(), PB)
    assert answer.status == 200, answer.body
    return ExportMetricsServiceResponse.FromString(answer.body)


# -- names and labels ---------------------------------------------------------------------------


def test_names_and_labels_follow_the_otel_to_prometheus_conventions() -> None:
    r, sink = receiver(promote_resource_attributes=["deployment.environment"])
    gauge = pb.Metric(name="gpu.memory.usage", unit="1")
    gauge.gauge.data_points.add(time_unix_nano=T0, as_double=0.5).attributes.extend(attrs(gpu__index="0"))
    post(
        r,
        request(
            sum_metric(
                "gen_ai.client.token.usage.total",
                [(T0 - S, T0, 42)],
                unit="{token}",
                labels={"gen_ai.request.model": "m1"},
            ),
            sum_metric("http.server.request.duration", [(T0 - S, T0, 1.5)], unit="s"),
            gauge,
            resource={
                "service.name": "chat",
                "service.namespace": "shop",
                "service.instance.id": "pod-7",
                "deployment.environment": "prod",
                "host.name": "not-promoted",
            },
        ),
    )
    rows = {(m, labels): v for m, labels, _, v in sink.samples().iter_rows()}
    base = {"deployment_environment": "prod", "instance": "pod-7", "job": "shop/chat", "source": "otlp"}
    assert rows == {
        ("gen_ai_client_token_usage_total", format_labels({**base, "gen_ai_request_model": "m1"})): 42.0,
        ("http_server_request_duration_seconds_total", format_labels(base)): 1.5,
        ("gpu_memory_usage_ratio", format_labels({**base, "gpu_index": "0"})): 0.5,
    }


# -- temporality --------------------------------------------------------------------------------


def test_deltas_are_accumulated_into_a_counter_with_a_zero_at_the_first_start() -> None:
    r, sink = receiver()
    post(r, request(sum_metric("jobs", [(T0, T0 + 10 * S, 3), (T0 + 10 * S, T0 + 20 * S, 4)], delta=True)))
    post(r, request(sum_metric("jobs", [(T0 + 20 * S, T0 + 30 * S, 5)], delta=True)))
    (points,) = sink.series("jobs_total").values()
    ms = T0 // 10**6
    assert points == [(ms, 0.0), (ms + 10_000, 3.0), (ms + 20_000, 7.0), (ms + 30_000, 12.0)]


def test_delta_points_sharing_a_millisecond_are_all_counted() -> None:
    r, sink = receiver()
    us = 1_000  # ns
    post(r, request(sum_metric("jobs", [(T0, T0 + 200 * us, 1), (T0 + 200 * us, T0 + 400 * us, 2)], delta=True)))
    post(r, request(sum_metric("jobs", [(T0 + 400 * us, T0 + 10 * S, 4)], delta=True)))
    (points,) = sink.series("jobs_total").values()
    ms = T0 // 10**6
    # the 0 goes 1 ms before the first point (its start shares the point's ms); the second point
    # adds to the total, which the next point carries
    assert points == [(ms - 1, 0.0), (ms, 1.0), (ms + 10_000, 7.0)]


def test_a_delta_sum_whose_start_time_goes_backwards_is_rejected_and_the_stream_kept() -> None:
    r, sink = receiver()
    post(r, request(sum_metric("jobs", [(T0, T0 + 10 * S, 3)], delta=True)))
    answer = post(
        r, request(sum_metric("jobs", [(T0 + 5 * S, T0 + 20 * S, 100), (T0 + 20 * S, T0 + 30 * S, 2)], delta=True))
    )
    assert answer.partial_success.rejected_data_points == 1
    assert "jobs_total: delta start time" in answer.partial_success.error_message
    assert "goes backwards" in answer.partial_success.error_message
    (points,) = sink.series("jobs_total").values()
    assert [v for _, v in points] == [0.0, 3.0, 5.0]  # the overlapping 100 is not counted


def test_a_cumulative_reset_writes_a_zero_at_the_new_start_time() -> None:
    r, sink = receiver()
    post(r, request(sum_metric("jobs", [(T0, T0 + 10 * S, 50), (T0, T0 + 20 * S, 60)])))
    # the process restarted at +25 s and has already counted past its old total
    post(r, request(sum_metric("jobs", [(T0 + 25 * S, T0 + 30 * S, 80)])))
    (points,) = sink.series("jobs_total").values()
    ms = T0 // 10**6
    assert points == [(ms + 10_000, 50.0), (ms + 20_000, 60.0), (ms + 25_000, 0.0), (ms + 30_000, 80.0)]


def test_out_of_order_and_duplicate_points_are_dropped_and_counted_not_rejected() -> None:
    r, sink = receiver()
    post(r, request(sum_metric("jobs", [(T0, T0 + 20 * S, 5)])))
    answer = post(r, request(sum_metric("jobs", [(T0, T0 + 10 * S, 4), (T0, T0 + 20 * S, 5), (T0, T0 + 30 * S, 6)])))
    assert answer.partial_success.rejected_data_points == 0
    assert [v for _, v in next(iter(sink.series("jobs_total").values()))] == [5.0, 6.0]
    assert r.points == {"accepted": 2, "out_of_order": 1, "duplicate": 1, "rejected": 0}


def test_points_more_than_ten_minutes_ahead_are_rejected() -> None:
    r, sink = receiver()
    now = int(NOW_S * 1e9)
    answer = post(
        r,
        request(
            sum_metric("ahead", [(T0, now + 9 * 60 * S, 1)]),
            sum_metric("future", [(T0, now + 11 * 60 * S, 1)]),
        ),
    )
    assert answer.partial_success.rejected_data_points == 1
    assert answer.partial_success.error_message == "future_total: a point more than 10 minutes in the future (x1)"
    assert set(sink.samples()["metric"]) == {"ahead_total"}


# -- histograms ---------------------------------------------------------------------------------


def histogram(points: Sequence[tuple[int, int, list[int], list[float]]], *, delta: bool = False) -> pb.Metric:
    m = pb.Metric(name="http.server.request.duration", unit="s")
    m.histogram.aggregation_temporality = (
        pb.AGGREGATION_TEMPORALITY_DELTA if delta else pb.AGGREGATION_TEMPORALITY_CUMULATIVE
    )
    for start, time, counts, bounds in points:
        m.histogram.data_points.add(
            start_time_unix_nano=start,
            time_unix_nano=time,
            count=sum(counts),
            sum=1.0,
            bucket_counts=counts,
            explicit_bounds=bounds,
        )
    return m


def test_delta_histogram_buckets_accumulate_into_cumulative_le_series() -> None:
    r, sink = receiver()
    post(
        r,
        request(
            histogram(
                [(T0, T0 + 10 * S, [1, 2, 3], [0.1, 0.25]), (T0 + 10 * S, T0 + 20 * S, [4, 0, 1], [0.1, 0.25])],
                delta=True,
            )
        ),
    )
    buckets = {
        parse_labels(labels)["le"]: [v for _, v in pts]
        for labels, pts in sink.series("http_server_request_duration_seconds_bucket").items()
    }
    assert buckets == {"0.1": [0.0, 1.0, 5.0], "0.25": [0.0, 3.0, 7.0], "+Inf": [0.0, 6.0, 11.0]}
    (count,) = sink.series("http_server_request_duration_seconds_count").values()
    assert [v for _, v in count] == [0.0, 6.0, 11.0]


def test_a_histogram_whose_bucket_counts_do_not_match_its_bounds_is_rejected() -> None:
    r, sink = receiver()
    answer = post(r, request(histogram([(T0, T0 + 10 * S, [1, 2], [0.1, 0.25])])))
    assert answer.partial_success.rejected_data_points == 1
    assert answer.partial_success.error_message == (
        "http_server_request_duration_seconds: histogram has 2 bucket counts for 2 bounds (want 3) (x1)"
    )
    assert sink.samples().is_empty()


def exponential(points: Sequence[tuple[int, int, list[int], int]]) -> pb.Metric:
    """Cumulative points of (start, time, positive bucket counts from index 0, scale)."""
    m = pb.Metric(name="gen_ai.server.time_to_first_token", unit="s")
    m.exponential_histogram.aggregation_temporality = pb.AGGREGATION_TEMPORALITY_CUMULATIVE
    for start, time, counts, scale in points:
        p = m.exponential_histogram.data_points.add(
            start_time_unix_nano=start, time_unix_nano=time, count=sum(counts) + 2, sum=3.0, scale=scale, zero_count=2
        )
        p.positive.offset = -8
        p.positive.bucket_counts.extend(counts)
    return m


def test_exponential_boundaries_are_found_exactly_or_named_when_missed() -> None:
    assert exponential_boundary(0.5, 3) == (-8, 0.5, 0.5)
    k, lower, upper = exponential_boundary(0.3, 2)
    assert k is None
    assert (lower, upper) == pytest.approx((2 ** (-7 / 4), 2 ** (-6 / 4)))


def test_an_exponential_histogram_is_counted_exactly_at_a_boundary_even_across_a_scale_change() -> None:
    family = "gen_ai_server_time_to_first_token_seconds"
    r, sink = receiver(thresholds={family: [0.5]})
    # scale 3, offset -8: bucket j holds (2**((j-8)/8), 2**((j-7)/8)]; 0.5 = 2**(-8/8) is the upper
    # bound of bucket -9, so nothing in positive buckets from offset -8 lies at or under it
    post(r, request(exponential([(T0, T0 + 10 * S, [1] * 16, 3)])))
    # downscaled to scale 2, offset -8: bucket j holds (2**((j-8)/4), 2**((j-7)/4)]; 0.5 = 2**(-4/4) is the
    # upper bound of bucket -5, i.e. j = 3: buckets j = 0..3 lie at or under it
    post(r, request(exponential([(T0, T0 + 20 * S, [1, 2, 3, 4, 5], 2)])))
    buckets = {
        parse_labels(labels)["le"]: [v for _, v in pts] for labels, pts in sink.series(f"{family}_bucket").items()
    }
    assert buckets == {"0.5": [2.0, 2.0 + 1 + 2 + 3 + 4], "+Inf": [18.0, 17.0]}


def test_an_exponential_histogram_whose_scale_change_moves_the_threshold_off_a_boundary_is_rejected() -> None:
    family = "gen_ai_server_time_to_first_token_seconds"
    threshold = 2 ** (1 / 8)  # a boundary at scale 3, between two at scale 2
    r, sink = receiver(thresholds={family: [threshold]})
    first = post(r, request(exponential([(T0, T0 + 10 * S, [1] * 16, 3)])))
    second = post(r, request(exponential([(T0, T0 + 20 * S, [1] * 16, 2)])))
    assert first.partial_success.rejected_data_points == 0
    assert second.partial_success.rejected_data_points == 1
    assert (
        "latency threshold 1.0905077326652577 is not a bucket boundary at scale 2"
        in second.partial_success.error_message
    )
    assert "(nearest: 1 and 1.18921)" in second.partial_success.error_message
    assert [v for _, v in sink.series(f"{family}_count")[next(iter(sink.series(f"{family}_count")))]] == [18.0]


# -- answers and bad bodies --------------------------------------------------------------------


def test_a_truncated_protobuf_is_a_400_with_a_status_and_nothing_is_kept() -> None:
    r, sink = receiver()
    body = request(sum_metric("jobs", [(T0, T0 + S, 1)] * 3)).SerializeToString()
    answer = r.handle(body[: len(body) // 2], PB)
    assert answer.status == 400
    status = Status.FromString(answer.body)
    assert status.message.startswith("not an OTLP ExportMetricsServiceRequest in protobuf")
    assert sink.results == [] and len(r.streams) == 0


def test_json_with_wrong_types_is_a_400_naming_the_field() -> None:
    r, sink = receiver()
    body = {
        "resourceMetrics": [
            {
                "scopeMetrics": [
                    {"metrics": [{"name": "jobs", "gauge": {"dataPoints": [{"timeUnixNano": "soon", "asDouble": 1}]}}]}
                ]
            }
        ]
    }
    answer = r.handle(json.dumps(body).encode(), "application/json")
    assert answer.status == 400
    assert "timeUnixNano" in json.loads(answer.body)["message"]
    assert sink.results == []


def test_json_bodies_are_read_as_otlp_json_and_answered_in_json() -> None:
    r, sink = receiver()
    ts = str(T0)
    body = {
        "resourceMetrics": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "x"}}]},
                "scopeMetrics": [
                    {
                        "metrics": [
                            {"name": "queue.depth", "gauge": {"dataPoints": [{"timeUnixNano": ts, "asInt": "7"}]}}
                        ]
                    }
                ],
            }
        ]
    }
    answer = r.handle(json.dumps(body).encode(), "application/json")
    assert (answer.status, answer.content_type, json.loads(answer.body)) == (200, "application/json", {})
    assert sink.samples().rows() == [("queue_depth", 'job="x",source="otlp"', T0 // 10**6, 7.0)]


def test_json_exemplars_with_hex_trace_ids_are_read_and_left_out() -> None:
    r, sink = receiver()
    exemplar = {
        "timeUnixNano": str(T0),
        "asDouble": 0.2,
        "traceId": "5b8efff798038103d269b633813fc60c",
        "spanId": "eee19b7ec3c1b174",
    }
    body = {
        "resourceMetrics": [
            {
                "scopeMetrics": [
                    {
                        "metrics": [
                            {
                                "name": "latency",
                                "unit": "s",
                                "histogram": {
                                    "aggregationTemporality": 2,
                                    "dataPoints": [
                                        {
                                            "startTimeUnixNano": str(T0 - S),
                                            "timeUnixNano": str(T0),
                                            "count": "2",
                                            "sum": 0.4,
                                            "bucketCounts": ["1", "1"],
                                            "explicitBounds": [0.25],
                                            "exemplars": [exemplar],
                                        }
                                    ],
                                },
                            }
                        ]
                    }
                ]
            }
        ]
    }
    answer = r.handle(json.dumps(body).encode(), "application/json")
    assert (answer.status, json.loads(answer.body)) == (200, {})
    buckets = {parse_labels(labels)["le"]: pts for labels, pts in sink.series("latency_seconds_bucket").items()}
    assert buckets == {"0.25": [(T0 // 10**6, 1.0)], "+Inf": [(T0 // 10**6, 2.0)]}


def test_gzip_bodies_are_read_and_a_body_over_the_limit_once_inflated_is_a_413() -> None:
    r, _sink = receiver(body_size_limit=4096)
    body = request(sum_metric("jobs", [(T0, T0 + S, 1)])).SerializeToString()
    assert r.handle(gzip.compress(body), PB, "gzip").status == 200
    big = request(sum_metric("jobs", [(T0, T0 + (i + 2) * S, i) for i in range(500)])).SerializeToString()
    answer = r.handle(gzip.compress(big), PB, "gzip")
    assert answer.status == 413
    assert "over body_size_limit (4096 bytes)" in Status.FromString(answer.body).message
    assert r.handle(b"not gzip", PB, "gzip").status == 400


def test_a_store_that_is_behind_is_a_503_with_retry_after() -> None:
    r, sink = receiver(retry_after="7s")
    sink.behind_reason = "the store is behind"
    answer = r.handle(request(sum_metric("jobs", [(T0, T0 + S, 1)])).SerializeToString(), PB)
    assert (answer.status, answer.headers) == (503, {"Retry-After": "7"})
    assert sink.results == []


def test_another_content_type_is_a_415() -> None:
    r, _ = receiver()
    assert r.handle(b"x", "text/plain").status == 415


# -- limits -------------------------------------------------------------------------------------


def many_streams(count: int) -> ExportMetricsServiceRequest:
    m = pb.Metric(name="queue.depth")
    for i in range(count):
        p = m.gauge.data_points.add(time_unix_nano=T0, as_double=float(i))
        p.attributes.append(KeyValue(key="queue", value=AnyValue(string_value=f"q{i}")))
    return request(m)


def test_a_hundred_thousand_new_streams_over_the_sample_limit_are_refused_whole() -> None:
    r, sink = receiver(sample_limit=50_000)
    answer = post(r, many_streams(100_000))
    assert answer.partial_success.rejected_data_points == 100_000
    assert answer.partial_success.error_message == (
        "request refused whole: sample_limit 50000 exceeded: 100000 samples (x100000)"
    )
    ((_, result),) = sink.results
    assert result.samples.is_empty() and not result.health.ok
    assert len(r.streams) == 0  # nothing remembered either


def test_new_streams_beyond_max_streams_are_rejected_and_the_rest_kept() -> None:
    r, sink = receiver(max_streams=60_000)
    answer = post(r, many_streams(100_000))
    assert answer.partial_success.rejected_data_points == 40_000
    assert "over the receiver's max_streams (60000) (x40000)" in answer.partial_success.error_message
    assert sink.samples().height == 60_000 and len(r.streams) == 60_000


def test_a_full_stream_table_forgets_streams_gone_quiet_to_make_room() -> None:
    now = [NOW_S]
    sink = RecordingSink()
    r = OTLPReceiver(OTLPReceiverConfig(kind="otlp", max_streams=2), sink, clock=lambda: now[0])
    t = int(NOW_S * 1e9)
    post(r, request(sum_metric("a", [(t - 9 * S, t - S, 1)]), sum_metric("b", [(t - 9 * S, t - S, 1)])))
    full = post(r, request(sum_metric("c", [(t - 9 * S, t, 1)])))
    assert full.partial_success.rejected_data_points == 1  # a and b were heard from a second ago
    now[0] += 16 * 60  # both go quiet for more than 15 minutes
    answer = post(r, request(sum_metric("c", [(t - 9 * S, t + 16 * 60 * S, 1)])))
    assert answer.partial_success.rejected_data_points == 0 and len(r.streams) == 1


def test_a_label_value_over_its_limit_refuses_the_request_naming_the_label() -> None:
    r, sink = receiver(label_value_length_limit=16)
    answer = post(r, request(sum_metric("jobs", [(T0, T0 + S, 1)], labels={"path": "/" + "x" * 40})))
    assert answer.partial_success.rejected_data_points == 1
    assert "label_value_length_limit 16 exceeded: label 'path' of jobs_total has a 41-byte value" in (
        answer.partial_success.error_message
    )
    assert math.isclose(sink.results[0][1].samples.height, 0)


def test_a_stream_is_known_by_its_attributes_alone_whatever_its_exemplars_and_values() -> None:
    """A number point's label-cache key is its attributes encoded whole: points of one stream that
    differ in value, time, flags or exemplars share it; another attribute value or resource does not."""
    r, sink = receiver()
    first = sum_metric("jobs", [(T0, T0 + 10 * S, 1)], labels={"code": "200"})
    first.sum.data_points[0].exemplars.add(time_unix_nano=T0 + 9 * S, as_double=0.5, trace_id=b"\x01" * 16)
    second = sum_metric("jobs", [(T0, T0 + 20 * S, 3)], labels={"code": "200"})
    other = sum_metric("jobs", [(T0, T0 + 20 * S, 7)], labels={"code": "500"})
    post(r, request(first))
    post(r, request(second, other))
    post(r, request(sum_metric("jobs", [(T0, T0 + 20 * S, 9)], labels={"code": "200"}), resource={"service.name": "b"}))
    ms = T0 // 10**6
    series = sink.series("jobs_total")
    assert series == {
        format_labels({"code": "200", "job": "chat", "source": "otlp"}): [(ms + 10_000, 1.0), (ms + 20_000, 3.0)],
        format_labels({"code": "500", "job": "chat", "source": "otlp"}): [(ms + 20_000, 7.0)],
        format_labels({"code": "200", "job": "b", "source": "otlp"}): [(ms + 20_000, 9.0)],
    }
    assert r.points["accepted"] == 4
