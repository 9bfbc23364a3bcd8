"""The OTLP/HTTP metrics receiver: ``POST /v1/metrics`` bodies (protobuf or JSON, gzip) into samples.

Answers follow the OTLP specification: 200 with an ``ExportMetricsServiceResponse`` whose
``partial_success`` counts the rejected points and says why; 400 for a body that cannot be read
(with a ``google.rpc.Status``); 413 over ``body_size_limit``; 415 for another content type; 503
with ``Retry-After`` while the store is behind. A request over ``sample_limit`` or a label limit is
refused whole (every point rejected, the limit named), as a scrape over a limit is. Samples go to
the ``SampleSink``: the same path a scrape's samples take.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from google.rpc.status_pb2 import Status
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsPartialSuccess,
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)

from redline.collectors.genai import token_spend_rows
from redline.collectors.limits import UNLIMITED_BYTES
from redline.collectors.otlp_points import LabelCache, translate
from redline.collectors.push import PushReceiver, Translation, rejection_message
from redline.collectors.push_streams import StreamUpdates
from redline.collectors.receiver import Answer, BadRequest, SampleSink, read_body
from redline.collectors.receiver_configs import OTLPReceiverConfig

__all__ = ["OTLPReceiver", "OTLPReceiverConfig"]

PROTOBUF: Final = "application/x-protobuf"
JSON: Final = "application/json"
_INVALID_ARGUMENT: Final = 3
_SHOWN_REASONS: Final = 5


def _answer(message: Message, as_json: bool, status: int = 200, headers: Mapping[str, str] | None = None) -> Answer:
    if as_json:
        body = json_format.MessageToJson(message, indent=None).encode()
        return Answer(status, JSON, body, dict(headers or {}))
    return Answer(status, PROTOBUF, message.SerializeToString(), dict(headers or {}))


def error_answer(status: int, message: str, as_json: bool, headers: Mapping[str, str] | None = None) -> Answer:
    """An error answer carrying a ``google.rpc.Status`` (as the OTLP spec asks)."""
    return _answer(Status(code=_INVALID_ARGUMENT, message=message), as_json, status, headers)


def _without_exemplars(body: Any) -> Any:
    """An OTLP JSON body without its points' exemplars: OTLP JSON writes their trace and span ids
    in hex where protobuf's JSON mapping expects base64, and Redline does not keep exemplars."""
    if not isinstance(body, dict):
        return body
    for rm in body.get("resourceMetrics") or ():
        for sm in (rm.get("scopeMetrics") or ()) if isinstance(rm, dict) else ():
            for metric in (sm.get("metrics") or ()) if isinstance(sm, dict) else ():
                for kind in ("gauge", "sum", "histogram", "exponentialHistogram") if isinstance(metric, dict) else ():
                    data = metric.get(kind)
                    for point in (data.get("dataPoints") or ()) if isinstance(data, dict) else ():
                        if isinstance(point, dict):
                            point.pop("exemplars", None)
    return body


class OTLPReceiver(PushReceiver):
    """Turns OTLP export requests into samples for ``sink``. Thread-safe.

    ``thresholds`` maps a histogram family (as stored) to the latency thresholds objectives read
    from it: an exponential histogram gets ``_bucket`` series at exactly those (see ``otlp_points``).
    """

    config: OTLPReceiverConfig

    def __init__(
        self,
        config: OTLPReceiverConfig,
        sink: SampleSink,
        *,
        clock: Callable[[], float] = time.time,
        thresholds: Mapping[str, Sequence[float]] | None = None,
    ) -> None:
        super().__init__(config, sink, clock, "OTLP")
        self.config = config
        self._thresholds = dict(thresholds or {})
        self._labels: LabelCache = {}  # used under the pipeline's lock only

    def handle(self, body: bytes, content_type: str, content_encoding: str = "") -> Answer:
        """The answer to one ``POST /v1/metrics``; never raises."""
        media = content_type.split(";", 1)[0].strip().lower()
        as_json = media == JSON
        if media not in (PROTOBUF, JSON):
            return error_answer(415, f"Content-Type {media!r}: expected {PROTOBUF} or {JSON}", as_json)
        behind = self.pipeline.sink.behind()
        if behind is not None:
            return error_answer(503, f"not taking samples now: {behind}", as_json, self.retry_after())
        try:
            request = self._parse(
                read_body(body, content_encoding, self.config.body_size_limit or UNLIMITED_BYTES), as_json
            )
        except BadRequest as exc:
            return error_answer(413 if exc.too_large else 400, str(exc), as_json)
        rejected, message = self._ingest(request)
        response = ExportMetricsServiceResponse()
        if rejected or message:
            response.partial_success.CopyFrom(
                ExportMetricsPartialSuccess(rejected_data_points=rejected, error_message=message)
            )
        return _answer(response, as_json)

    @staticmethod
    def _parse(data: bytes, as_json: bool) -> ExportMetricsServiceRequest:
        request = ExportMetricsServiceRequest()
        try:
            if as_json:
                json_format.ParseDict(_without_exemplars(json.loads(data)), request, ignore_unknown_fields=True)
            else:
                request.ParseFromString(data)
        except (DecodeError, json_format.ParseError, UnicodeDecodeError, ValueError) as exc:
            kind = "JSON" if as_json else "protobuf"
            raise BadRequest(f"not an OTLP ExportMetricsServiceRequest in {kind}: {exc}") from exc
        return request

    def _ingest(self, request: ExportMetricsServiceRequest) -> tuple[int, str]:
        """Run the request through the pipeline; ``(rejected points, message)``."""

        def rows(updates: StreamUpdates, now_ms: int) -> Translation:
            out = translate(
                request,
                updates,
                now_ms,
                extra=self.config.series_labels(),
                limits=self.config.limits,
                promote=self.config.promote_resource_attributes,
                thresholds=self._thresholds,
                cache=self._labels,
            )
            if self.config.token_prices:
                unpriced: set[str] = set()
                out.rows.extend(list(token_spend_rows(out.rows, self.config.token_prices, unpriced)))
                out.notes.extend(sorted(unpriced))
            return out

        out = self.pipeline.run(rows)
        return out.rejected_points, rejection_message(out.rejected) if out.rejected else ""
