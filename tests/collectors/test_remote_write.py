"""The remote write receiver on hand-built WriteRequests: answers, bad bodies, order, limits."""

from __future__ import annotations

from typing import Any

from redline.collectors.prompb import WriteRequest, snappy_compress
from redline.collectors.remote_write import RemoteWriteReceiver, RemoteWriteReceiverConfig
from tests.collectors.test_otlp import NOW_S, RecordingSink

NOW_MS = int(NOW_S * 1000)


def receiver(**settings: Any) -> tuple[RemoteWriteReceiver, RecordingSink]:
    sink = RecordingSink()
    config = RemoteWriteReceiverConfig(kind="remote_write", **settings)
    return RemoteWriteReceiver(config, sink, clock=lambda: NOW_S), sink


def body(*series: tuple[dict[str, str], list[tuple[int, float]]]) -> bytes:
    request = WriteRequest()
    for labels, samples in series:
        ts = request.timeseries.add()
        for name, value in labels.items():
            ts.labels.add(name=name, value=value)
        for stamp, value in samples:
            ts.samples.add(timestamp=stamp, value=value)
    return snappy_compress(request.SerializeToString())


def post(r: RemoteWriteReceiver, data: bytes) -> tuple[int, str]:
    answer = r.handle(data, "application/x-protobuf", "snappy")
    return answer.status, answer.body.decode().strip()


def test_series_are_stored_with_their_labels_and_source_and_answered_204() -> None:
    r, sink = receiver(labels={"cluster": "eu-1"})
    status, _ = post(
        r,
        body(
            (
                {"__name__": "http_requests_total", "code": "200", "cluster": "c9"},
                [(NOW_MS - 2000, 5.0), (NOW_MS - 1000, 7.0)],
            )
        ),
    )
    assert status == 204
    assert sink.samples().rows() == [
        (
            "http_requests_total",
            'cluster="eu-1",code="200",exported_cluster="c9",source="remote_write"',
            NOW_MS - 2000,
            5.0,
        ),
        (
            "http_requests_total",
            'cluster="eu-1",code="200",exported_cluster="c9",source="remote_write"',
            NOW_MS - 1000,
            7.0,
        ),
    ]


def test_a_body_that_is_not_snappy_is_a_400_and_nothing_is_kept() -> None:
    r, sink = receiver()
    raw = WriteRequest()
    raw.timeseries.add().labels.add(name="__name__", value="up")
    status, text = post(r, raw.SerializeToString())  # protobuf, but not compressed
    assert status == 400
    assert text.startswith("not a remote write 1.0 body (snappy-compressed WriteRequest): body is not snappy")
    assert sink.results == []


def test_a_truncated_write_request_is_a_400() -> None:
    r, sink = receiver()
    whole = WriteRequest()
    ts = whole.timeseries.add()
    ts.labels.add(name="__name__", value="up")
    ts.samples.add(timestamp=NOW_MS, value=1.0)
    data = whole.SerializeToString()
    status, text = post(r, snappy_compress(data[:-3]))
    assert status == 400 and "not a remote write 1.0 body" in text
    assert sink.results == []


def test_out_of_order_and_duplicate_samples_are_dropped_and_counted() -> None:
    r, sink = receiver()
    up = {"__name__": "up", "job": "a"}
    assert post(r, body((up, [(NOW_MS - 3000, 1.0), (NOW_MS - 2000, 1.0)])))[0] == 204
    assert post(r, body((up, [(NOW_MS - 2500, 0.0), (NOW_MS - 2000, 1.0), (NOW_MS - 1000, 0.0)])))[0] == 204
    assert [v for _, v in next(iter(sink.series("up").values()))] == [1.0, 1.0, 0.0]
    assert r.points == {"accepted": 3, "out_of_order": 1, "duplicate": 1, "rejected": 0}


def test_samples_from_the_future_are_rejected_with_a_400_and_the_rest_kept() -> None:
    r, sink = receiver()
    status, text = post(
        r,
        body(
            ({"__name__": "up"}, [(NOW_MS, 1.0), (NOW_MS + 11 * 60_000, 1.0)]), ({"job": "nameless"}, [(NOW_MS, 1.0)])
        ),
    )
    assert status == 400
    assert text == (
        "2 samples rejected: up: a sample more than 10 minutes in the future (x1); a series without __name__ (x1)"
    )
    assert sink.samples().rows() == [("up", 'source="remote_write"', NOW_MS, 1.0)]


def test_a_body_declaring_more_than_the_limit_is_a_413_before_it_is_inflated() -> None:
    r, _ = receiver(body_size_limit=1024)
    status, text = post(r, body(*(({"__name__": "up", "i": str(i)}, [(NOW_MS, 1.0)]) for i in range(200))))
    assert status == 413 and "over body_size_limit (1024 bytes)" in text


def test_a_store_that_is_behind_is_a_503_so_prometheus_retries() -> None:
    r, sink = receiver()
    sink.behind_reason = "the store is behind"
    answer = r.handle(body(({"__name__": "up"}, [(NOW_MS, 1.0)])), "application/x-protobuf", "snappy")
    assert (answer.status, answer.headers["Retry-After"]) == (503, "5")
