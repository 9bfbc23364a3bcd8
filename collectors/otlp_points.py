"""OTLP metric points as sample rows: Sums, Gauges, histograms (explicit and exponential), Summaries.

One call translates one ``ExportMetricsServiceRequest``: names and labels per
``collectors.otlp_names``, delta and reset handling per ``collectors.push_streams``. A point that
cannot be taken is rejected with its reason (named in the answer's ``partial_success``), the rest
of the request is kept. Out-of-order and duplicate points are dropped and counted.

An exponential histogram becomes ``_count``, ``_sum`` and cumulative ``_bucket`` series at
``le="+Inf"`` and at each latency threshold an objective asks of that family (``thresholds``). A
threshold is counted exactly when it is a bucket boundary at the point's scale (``2**(k / 2**scale)``
for a whole ``k``); otherwise the point is rejected, naming the nearest boundaries, because any
count at that threshold would be a guess.
"""

from __future__ import annotations

import base64
import functools
import json
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

import numpy as np
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1 import metrics_pb2 as pb

from redline.collectors.genai import semconv_unit
from redline.collectors.limits import SourceLimits, series_limit_error
from redline.collectors.otlp_names import label_name, metric_name, resource_labels
from redline.collectors.push import Translation
from redline.collectors.push_streams import (
    MAX_FUTURE_MS,
    StreamState,
    StreamUpdates,
    accumulate,
    advance,
    new_millisecond,
)
from redline.kernel.labels import format_labels

__all__ = ["MAX_CACHED_LABELS", "LabelCache", "Translation", "exponential_boundary", "format_bound", "translate"]

LabelCache = dict[tuple[tuple[tuple[str, str], ...], bytes | tuple[tuple[str, bytes], ...]], tuple[dict[str, str], str]]
"""(resource labels, encoded attributes) → (labels as stored, canonical string). A number point's
attributes are encoded whole (``_attributes_only``), a histogram's or summary's one by one."""
MAX_CACHED_LABELS: Final = 50_000
"""Beyond this many label sets (about 2 KB each) the cache starts again: a speed-up, never a source of truth."""

_DELTA = pb.AGGREGATION_TEMPORALITY_DELTA
_NO_RECORDED_VALUE = 1
_NS_PER_MS = 1_000_000


def format_bound(bound: float) -> str:
    """An ``le`` value as Prometheus writes it (``1``, ``0.005``, ``+Inf``)."""
    if math.isinf(bound):
        return "+Inf" if bound > 0 else "-Inf"
    return str(np.format_float_positional(bound, trim="-"))


def exponential_boundary(threshold: float, scale: int) -> tuple[int | None, float, float]:
    """``(k, lower, upper)``: ``k`` when ``threshold`` is the boundary ``2**(k / 2**scale)`` (else
    ``None``), and the nearest boundaries at or below and at or above it."""
    position = math.log2(threshold) * 2.0**scale
    nearest = round(position)
    if abs(position - nearest) < 1e-9:
        return nearest, threshold, threshold
    below, above = math.floor(position), math.ceil(position)
    return None, 2.0 ** (below / 2.0**scale), 2.0 ** (above / 2.0**scale)


def _text(value: AnyValue) -> str:
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return "true" if value.bool_value else "false"
    if kind == "int_value":
        return str(value.int_value)
    if kind == "double_value":
        return repr(value.double_value)
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    return json.dumps(_plain(value), separators=(",", ":"))


def _plain(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_plain(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _plain(kv.value) for kv in value.kvlist_value.values}
    return _text(value) if kind else None


def _labels(attributes: Sequence[KeyValue]) -> dict[str, str]:
    labels: dict[str, str] = {}
    for kv in attributes:
        name = label_name(kv.key)
        text = _text(kv.value)
        labels[name] = f"{labels[name]};{text}" if name in labels else text  # keys that sanitise alike
    return labels


def _attributes_only(p: pb.NumberDataPoint, flags: int) -> bytes:
    """The point's attributes encoded whole, by protobuf itself: the point is emptied of everything
    else (its times, value, flags and exemplars, which the caller has read) and serialized. One call
    into protobuf's C code instead of one per attribute; a cache key, since the same attributes
    always encode to the same bytes. The point is spent afterwards."""
    p.ClearField("start_time_unix_nano")
    p.ClearField("time_unix_nano")
    p.ClearField("value")
    if flags:
        p.ClearField("flags")
    p.ClearField("exemplars")  # cheaper than asking whether it has any
    return p.SerializeToString()


class _Translator:
    """Translates one request's metrics into ``out``, staging stream updates in ``updates``."""

    def __init__(
        self,
        out: Translation,
        updates: StreamUpdates,
        now_ms: int,
        thresholds: Mapping[str, Sequence[float]],
        extra: Mapping[str, str],
        limits: SourceLimits,
        cache: LabelCache,
    ) -> None:
        self.out = out
        self.updates = updates
        self.now_ms = now_ms
        self.thresholds = thresholds
        self.extra = extra
        self.limits = limits
        self.cache = cache
        self.base_key: tuple[tuple[str, str], ...] = ()
        """The resource labels of the points being read, as a key of ``cache``."""

    def labels(self, p: Any, base: Mapping[str, str], encoded: bytes | None = None) -> tuple[dict[str, str], str]:
        """A point's labels as stored and their canonical string: its attributes, the resource's, then
        ``source`` and the configured labels (a clashing attribute kept as ``exported_<name>``, as
        Prometheus does). Cached by the attributes' encoded form (``encoded`` when the caller has it
        whole, else each attribute's): a stream's next point reads its attributes once, without
        naming or escaping them again."""
        attributes: Sequence[KeyValue] | None = None
        key: tuple[tuple[tuple[str, str], ...], bytes | tuple[tuple[str, bytes], ...]]
        if encoded is None:
            attributes = p.attributes
            key = (self.base_key, tuple([(kv.key, kv.value.SerializeToString()) for kv in attributes]))
        else:
            key = (self.base_key, encoded)  # the attributes themselves are read only on a miss
        known = self.cache.get(key)
        if known is not None:
            return known
        if attributes is None:
            attributes = p.attributes
        own = {**_labels(attributes), **base}
        extra = self.extra
        merged = {(f"exported_{k}" if k in extra else k): v for k, v in own.items()}
        merged.update(extra)
        if len(self.cache) >= MAX_CACHED_LABELS:
            self.cache.clear()
        self.cache[key] = found = (merged, format_labels(merged))
        return found

    def metric(self, metric: pb.Metric, base: dict[str, str]) -> None:
        kind = metric.WhichOneof("data")
        if not metric.unit:
            metric.unit = semconv_unit(metric.name, metric.unit)
        if kind == "gauge":
            name = metric_name(metric.name, metric.unit, gauge=True)
            for p in metric.gauge.data_points:
                self.number(name, p, base, delta=False, counter=False)
        elif kind == "sum":
            monotonic = metric.sum.is_monotonic
            name = metric_name(metric.name, metric.unit, monotonic_sum=monotonic, gauge=not monotonic)
            delta = metric.sum.aggregation_temporality == _DELTA
            for p in metric.sum.data_points:
                self.number(name, p, base, delta=delta, counter=monotonic)
        elif kind == "histogram":
            name = metric_name(metric.name, metric.unit)
            delta = metric.histogram.aggregation_temporality == _DELTA
            for h in metric.histogram.data_points:
                self.point(name, h, base, delta, functools.partial(self._explicit, h))
        elif kind == "exponential_histogram":
            name = metric_name(metric.name, metric.unit)
            delta = metric.exponential_histogram.aggregation_temporality == _DELTA
            wanted = tuple(sorted(set(self.thresholds.get(name, ()))))
            for e in metric.exponential_histogram.data_points:
                self.point(name, e, base, delta, functools.partial(self._exponential, e, wanted))
        elif kind == "summary":
            name = metric_name(metric.name, metric.unit)
            for s in metric.summary.data_points:
                self.summary(name, s, base)
        else:
            self.out.rejected[f"{metric.name}: no data (gauge, sum, histogram or summary)"] += 1

    def _reject(self, name: str, why: str) -> None:
        self.out.rejected[f"{name}: {why}"] += 1

    def _take(
        self, name: str, flags: int, time_ns: int, labeled: tuple[dict[str, str], str], *, histogram: bool = False
    ) -> tuple[str, StreamState | None] | None:
        """The stream key's labels and state when the point is taken (else rejected/dropped, None)."""
        self.out.points += 1
        if flags & _NO_RECORDED_VALUE:
            return None
        if not time_ns:
            self._reject(name, "a point without time_unix_nano")
            return None
        if time_ns // _NS_PER_MS > self.now_ms + MAX_FUTURE_MS:
            self._reject(name, "a point more than 10 minutes in the future")
            return None
        labels, canonical = labeled
        state = self.updates.get((name, canonical))
        if state is None:
            if not self.updates.table.has_room(self.updates):
                self._reject(name, f"a new stream over the receiver's max_streams ({self.updates.table.max_streams})")
                return None
            if self.limits.on_labels and self.out.over is None:  # a known stream was checked when new
                shown = {**labels, "le": "+Inf"} if histogram else labels
                self.out.over = series_limit_error(self.limits, name, list(shown), list(shown.values()), escaped=False)
        return canonical, state

    def _emit(self, name: str, labels: dict[str, str] | str, ts_ns: int, value: float) -> None:
        """One row; ``labels`` as a dict or already canonical."""
        canonical = labels if isinstance(labels, str) else format_labels(labels)
        self.out.rows.append((name, canonical, ts_ns // _NS_PER_MS, value))

    def number(self, name: str, p: pb.NumberDataPoint, base: dict[str, str], *, delta: bool, counter: bool) -> None:
        start_ns, time_ns, flags = p.start_time_unix_nano, p.time_unix_nano, p.flags
        which = p.WhichOneof("value")
        value = float(p.as_double if which == "as_double" else p.as_int)
        taken = self._take(name, flags, time_ns, self.labels(p, base, _attributes_only(p, flags)))
        if taken is None:
            return
        canonical, state = taken
        if which is None:
            self._reject(name, "a point without a value")
            return
        reason, zero_at = advance(state, start_ns, time_ns, delta=delta)
        if reason is not None:
            self._refuse(name, reason)
            return
        if delta:
            new = accumulate(state, start_ns, time_ns, (value,))
            value = new.totals[0]
        else:
            new = StreamState(start_ns or (state.start_ns if state else 0), time_ns)
        rows = self.out.rows
        if zero_at is not None and (delta or counter):
            rows.append((name, canonical, zero_at // _NS_PER_MS, 0.0))
        if new_millisecond(state, time_ns):
            rows.append((name, canonical, time_ns // _NS_PER_MS, value))
        self.updates.put((name, canonical), new, known=state is not None)

    def _refuse(self, name: str, reason: str) -> None:
        if reason in ("out of order", "duplicate"):
            self.out.dropped[reason] += 1
        else:
            self._reject(name, reason)

    def point(
        self,
        name: str,
        p: Any,
        base: dict[str, str],
        delta: bool,
        values: Callable[[], tuple[tuple[float, ...], tuple[float, ...], str | None]],
    ) -> None:
        """A histogram point: ``values()`` gives its (count, sum, bucket counts...), the bounds of the
        buckets (``+Inf`` last) and a rejection reason."""
        labeled = self.labels(p, base)
        labels = labeled[0]
        taken = self._take(name, p.flags, p.time_unix_nano, labeled, histogram=True)
        if taken is None:
            return
        canonical, state = taken
        reason, zero_at = advance(state, p.start_time_unix_nano, p.time_unix_nano, delta=delta)
        totals: tuple[float, ...] = ()
        bounds: tuple[float, ...] = ()
        if reason is None:
            totals, bounds, reason = values()
        if reason is None and delta and state is not None and state.bounds != bounds:
            reason = "delta histogram bucket bounds changed mid-stream"
        if reason is not None:
            self._refuse(name, reason)
            return
        if delta:
            new = accumulate(state, p.start_time_unix_nano, p.time_unix_nano, totals, bounds)
            totals = new.totals
        else:
            new = StreamState(p.start_time_unix_nano or (state.start_ns if state else 0), p.time_unix_nano)
        count, total_sum, buckets = totals[0], totals[1], totals[2:]
        at_point = p.time_unix_nano if new_millisecond(state, p.time_unix_nano) else None
        for at, scale in ((zero_at, 0.0), (at_point, 1.0)):
            if at is None:
                continue
            for bound, cumulative in zip(bounds, buckets, strict=True):
                self._emit(f"{name}_bucket", {**labels, "le": format_bound(bound)}, at, cumulative * scale)
            self._emit(f"{name}_count", canonical, at, count * scale)
            if not math.isnan(total_sum):
                self._emit(f"{name}_sum", canonical, at, total_sum * scale)
        self.updates.put((name, canonical), new, known=state is not None)

    @staticmethod
    def _explicit(h: pb.HistogramDataPoint) -> tuple[tuple[float, ...], tuple[float, ...], str | None]:
        bounds = tuple(h.explicit_bounds)
        counts = tuple(h.bucket_counts)
        if counts and len(counts) != len(bounds) + 1:
            return (
                (),
                (),
                f"histogram has {len(counts)} bucket counts for {len(bounds)} bounds (want {len(bounds) + 1})",
            )
        if any(b >= a for a, b in zip(bounds[1:], bounds, strict=False)):
            return (), (), "histogram bounds are not strictly increasing"
        if counts and sum(counts) != h.count:
            return (), (), f"histogram bucket counts add up to {sum(counts)}, not its count {h.count}"
        cumulative = tuple(float(c) for c in np.cumsum(counts)) if counts else (float(h.count),)
        all_bounds = (*bounds, math.inf) if counts else (math.inf,)
        return (float(h.count), h.sum if h.HasField("sum") else math.nan, *cumulative), all_bounds, None

    @staticmethod
    def _exponential(
        e: pb.ExponentialHistogramDataPoint, wanted: tuple[float, ...]
    ) -> tuple[tuple[float, ...], tuple[float, ...], str | None]:
        below: list[float] = []
        negatives = float(sum(e.negative.bucket_counts))
        for threshold in wanted:
            k, lower, upper = exponential_boundary(threshold, e.scale)
            if k is None:
                return (
                    (),
                    (),
                    (
                        f"latency threshold {format_bound(threshold)} is not a bucket boundary at scale {e.scale} "
                        f"(nearest: {lower:.6g} and {upper:.6g}), so its count would be a guess"
                    ),
                )
            # bucket i holds (base**i, base**(i+1)]: it is at or under base**k when i + 1 <= k
            upto = max(0, min(len(e.positive.bucket_counts), k - e.positive.offset))
            below.append(float(e.zero_count) + negatives + float(sum(e.positive.bucket_counts[:upto])))
        total = float(e.zero_count) + negatives + float(sum(e.positive.bucket_counts))
        if total != e.count:
            return (), (), f"exponential histogram buckets add up to {total:.0f}, not its count {e.count}"
        sum_ = e.sum if e.HasField("sum") else math.nan
        return (float(e.count), sum_, *below, float(e.count)), (*wanted, math.inf), None

    def summary(self, name: str, s: pb.SummaryDataPoint, base: dict[str, str]) -> None:
        labeled = self.labels(s, base)
        labels = labeled[0]
        taken = self._take(name, s.flags, s.time_unix_nano, labeled)
        if taken is None:
            return
        canonical, state = taken
        reason, _ = advance(state, s.start_time_unix_nano, s.time_unix_nano, delta=False)
        if reason is not None:
            self._refuse(name, reason)
            return
        for q in s.quantile_values:
            self._emit(name, {**labels, "quantile": format_bound(q.quantile)}, s.time_unix_nano, q.value)
        self._emit(f"{name}_count", canonical, s.time_unix_nano, float(s.count))
        self._emit(f"{name}_sum", canonical, s.time_unix_nano, s.sum)
        self.updates.put(
            (name, canonical), StreamState(s.start_time_unix_nano, s.time_unix_nano), known=state is not None
        )


def translate(
    request: ExportMetricsServiceRequest,
    updates: StreamUpdates,
    now_ms: int,
    *,
    extra: Mapping[str, str],
    limits: SourceLimits,
    promote: Sequence[str] = (),
    thresholds: Mapping[str, Sequence[float]] | None = None,
    cache: LabelCache | None = None,
) -> Translation:
    """The rows of ``request`` at ``now_ms`` (stream state staged in ``updates``), with ``extra``
    labels (``source``, configured) on every series; a new series is checked against ``limits``.
    ``cache`` (kept by the receiver between requests, for these ``extra`` labels) spares a known
    stream its label work."""
    out = Translation()
    translator = _Translator(out, updates, now_ms, thresholds or {}, extra, limits, {} if cache is None else cache)
    for rm in request.resource_metrics:
        attributes = {kv.key: _text(kv.value) for kv in rm.resource.attributes}
        base = resource_labels(attributes, promote)
        translator.base_key = tuple(sorted(base.items()))
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                translator.metric(metric, base)
    return out
