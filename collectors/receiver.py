"""What every push receiver shares (OTLP metrics, Prometheus remote write): its settings, the answer
it gives, the body it reads, and the sink it hands samples to.

A receiver is the push twin of a collector: it turns one request into a ``CollectResult`` (samples
and health) that goes down the same path a scrape's does (the write buffer, the store, the
evaluator). It never raises into the server: a bad body is an ``Answer`` of 400 naming the problem.
"""

from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass, field
from typing import Annotated, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator

from redline.collectors.base import CollectResult, check_label_names
from redline.collectors.limits import ByteCount, SourceLimits
from redline.kernel.config_types import DurationSeconds

__all__ = ["Answer", "BadRequest", "ReceiverSettings", "SampleSink", "read_body"]

Listen = Annotated[str, Field(pattern=r"^[^\s:]+:\d{1,5}$")]


class BadRequest(ValueError):
    """A body that cannot be read (400), or is too large (413 when ``too_large``)."""

    def __init__(self, message: str, *, too_large: bool = False) -> None:
        super().__init__(message)
        self.too_large = too_large


class SampleSink(Protocol):
    """Where a receiver hands each accepted request's samples: the agent (the scrape path)."""

    def behind(self) -> str | None:
        """Why samples cannot be taken now (the store is not keeping up: 503, retry), or ``None``."""
        ...

    def accept(self, source: str, result: CollectResult) -> object:
        """Store and evaluate one request's samples, record its health."""
        ...


@dataclass(frozen=True)
class Answer:
    """An HTTP answer: status, content type, body, extra headers."""

    status: int
    content_type: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


class ReceiverSettings(BaseModel):
    """The settings every receiver kind shares (a kind's model adds ``kind`` and its own fields).

    The series limits are a source's (``collectors.limits``): a request over ``sample_limit`` or
    a label limit is refused whole, naming the limit, and nothing of it is stored.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.:-]+$")
    """Also the ``source`` label of every series received."""
    listen: Listen
    labels: dict[str, str] = Field(default_factory=dict)
    body_size_limit: ByteCount = 16 * 1024 * 1024
    """The largest body, after decompression (``16MB``, or bytes; 0: no limit): over it the answer is 413."""
    sample_limit: int = Field(default=200_000, ge=0)
    label_limit: int = Field(default=64, ge=0)
    label_name_length_limit: int = Field(default=256, ge=0)
    label_value_length_limit: int = Field(default=2048, ge=0)
    max_streams: int = Field(default=200_000, ge=0)
    """Streams (series) remembered at most (about 500 bytes each); a point of a new one beyond is
    rejected, naming the limit. 0: no limit."""
    max_concurrent_requests: int = Field(default=8, ge=1)
    """Requests handled at once; one more is answered 429 with Retry-After."""
    request_timeout: DurationSeconds = 30.0
    """How long a client may take to send its request (a slow sender's connection is closed)."""
    retry_after: DurationSeconds = 5.0
    """The Retry-After of a 429 or 503."""

    @field_validator("labels")
    @classmethod
    def _label_names(cls, value: dict[str, str]) -> dict[str, str]:
        if "source" in check_label_names(value):
            raise ValueError("'source' is set by Redline to the receiver name; choose another label")
        return value

    @property
    def limits(self) -> SourceLimits:
        """The series limits in force."""
        return SourceLimits(
            self.sample_limit, self.label_limit, self.label_name_length_limit, self.label_value_length_limit
        )

    @property
    def host(self) -> str:
        """Host part of ``listen``."""
        return self.listen.rsplit(":", 1)[0]

    @property
    def port(self) -> int:
        """Port part of ``listen``."""
        return int(self.listen.rsplit(":", 1)[1])

    def series_labels(self) -> dict[str, str]:
        """The labels stamped on every series received."""
        return {**self.labels, "source": self.name}


def read_body(body: bytes, encoding: str, limit: int) -> bytes:
    """``body`` decoded per its Content-Encoding (identity, gzip, deflate), at most ``limit`` bytes
    once decompressed; ``BadRequest`` otherwise (``too_large`` over the limit)."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        if len(body) > limit:
            raise BadRequest(f"body of {len(body)} bytes is over body_size_limit ({limit})", too_large=True)
        return body
    if encoding not in ("gzip", "deflate"):
        raise BadRequest(f"Content-Encoding {encoding!r} is not supported (gzip, deflate or none)")
    wbits = 16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS
    inflater = zlib.decompressobj(wbits)
    try:
        data = inflater.decompress(body, limit + 1)
    except (zlib.error, gzip.BadGzipFile) as exc:
        raise BadRequest(f"body is not valid {encoding}: {exc}") from exc
    if len(data) > limit:
        raise BadRequest(f"body is over body_size_limit ({limit} bytes) once decompressed", too_large=True)
    if not inflater.eof:
        raise BadRequest(f"body is truncated {encoding}")
    return data
