"""The Prometheus remote write receiver: ``POST /api/v1/write`` (remote write 1.0, protobuf + snappy).

An existing Prometheus forwards the series Redline's objectives need (``remote_write:`` in its
config, with ``write_relabel_configs`` to keep only those) instead of Redline scraping its targets
a second time. Series keep their names and labels (plus ``source`` and the configured labels, a
clash kept as ``exported_<name>``), so the selectors of a scrape work on them.

Answers as Prometheus's own receiver: 204 when every sample is taken; 400 for a body that is not
snappy or not a ``WriteRequest``, or when some samples are rejected (the rest are kept, and the
sender does not retry a 4xx); 413 over the body limit; 503 with ``Retry-After`` while the store is
behind (the sender retries). Out-of-order and duplicate samples are dropped and counted, as
Prometheus drops them; a sample more than 10 minutes ahead of the agent's clock is rejected.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Final

from google.protobuf.message import DecodeError

from redline.collectors.limits import UNLIMITED_BYTES, series_limit_error
from redline.collectors.prompb import WriteRequest, snappy_decompress
from redline.collectors.push import PushReceiver, Translation, rejection_message
from redline.collectors.push_streams import MAX_FUTURE_MS, StreamState, StreamUpdates
from redline.collectors.receiver import Answer, SampleSink
from redline.collectors.receiver_configs import RemoteWriteReceiverConfig
from redline.kernel.labels import format_labels

__all__ = ["RemoteWriteReceiver", "RemoteWriteReceiverConfig"]

_NS_PER_MS: Final = 1_000_000


def _text(status: int, message: str, headers: dict[str, str] | None = None) -> Answer:
    return Answer(status, "text/plain; charset=utf-8", (message + "\n").encode(), headers or {})


class RemoteWriteReceiver(PushReceiver):
    """Turns remote write requests into samples for ``sink``. Thread-safe."""

    config: RemoteWriteReceiverConfig

    def __init__(
        self, config: RemoteWriteReceiverConfig, sink: SampleSink, *, clock: Callable[[], float] = time.time
    ) -> None:
        super().__init__(config, sink, clock, "remote write")
        self.config = config

    def handle(self, body: bytes, content_type: str, content_encoding: str = "") -> Answer:
        """The answer to one ``POST /api/v1/write``; never raises."""
        media = content_type.split(";", 1)[0].strip().lower()
        if media not in ("application/x-protobuf", ""):
            return _text(415, f"Content-Type {media!r}: expected application/x-protobuf")
        if content_encoding.strip().lower() not in ("snappy", ""):
            return _text(415, f"Content-Encoding {content_encoding!r}: expected snappy")
        behind = self.pipeline.sink.behind()
        if behind is not None:
            return _text(503, f"not taking samples now: {behind}", self.retry_after())
        try:
            request: Any = WriteRequest.FromString(
                snappy_decompress(body, self.config.body_size_limit or UNLIMITED_BYTES)
            )
        except OverflowError as exc:
            return _text(413, str(exc))
        except (ValueError, DecodeError) as exc:
            return _text(400, f"not a remote write 1.0 body (snappy-compressed WriteRequest): {exc}")
        out = self.pipeline.run(lambda updates, now_ms: self._translate(request, updates, now_ms))
        if out.rejected:
            return _text(400, f"{out.rejected_points} samples rejected: {rejection_message(out.rejected)}")
        return Answer(204, "text/plain", b"")

    def _translate(self, request: Any, updates: StreamUpdates, now_ms: int) -> Translation:
        out = Translation()
        extra = self.config.series_labels()
        limits = self.config.limits
        for series in request.timeseries:
            own = {label.name: label.value for label in series.labels}
            metric = own.pop("__name__", "")
            out.points += len(series.samples)
            if not metric:
                out.rejected["a series without __name__"] += len(series.samples)
                continue
            labels = {(f"exported_{k}" if k in extra else k): v for k, v in own.items()}
            labels.update(extra)
            canonical = format_labels(labels)
            key = (metric, canonical)
            state = updates.get(key)
            if state is None:
                if not updates.table.has_room(updates):
                    out.rejected[
                        f"{metric}: a new series over the receiver's max_streams ({updates.table.max_streams})"
                    ] += len(series.samples)
                    continue
                if limits.on_labels and out.over is None:
                    out.over = series_limit_error(limits, metric, list(labels), list(labels.values()), escaped=False)
            last_ms = state.last_ns // _NS_PER_MS if state is not None else None
            for sample in series.samples:
                ts = sample.timestamp
                if ts > now_ms + MAX_FUTURE_MS:
                    out.rejected[f"{metric}: a sample more than 10 minutes in the future"] += 1
                elif last_ms is not None and ts <= last_ms:
                    out.dropped["out of order" if ts < last_ms else "duplicate"] += 1
                else:
                    out.rows.append((metric, canonical, ts, sample.value))
                    last_ms = ts
            if last_ms is not None:
                updates.put(key, StreamState(0, last_ms * _NS_PER_MS))
        return out
