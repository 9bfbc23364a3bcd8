"""What every collector is: given its config, fetch one batch of samples and report its health.

A collector never raises into the scheduler. A down target, a timeout or a malformed payload
becomes ``SourceHealth(ok=False, error=...)`` on the result, with whatever samples could still
be read (a malformed line is skipped, the rest of the scrape lands). No samples is reported
as no samples, never as zeros.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, Self

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from redline.collectors.limits import UNLIMITED_BYTES, ByteCount, SourceLimits, frame_limit_error
from redline.kernel.config_types import DurationSeconds
from redline.kernel.errors import SourceError
from redline.kernel.fields import SAMPLE_SCHEMA, empty_samples
from redline.kernel.labels import format_labels
from redline.kernel.secrets import Secrets, secret_from_env
from redline.kernel.units import format_duration

if TYPE_CHECKING:
    import httpx

__all__ = [
    "ByteCount",
    "CollectResult",
    "Collector",
    "CollectorContext",
    "Fetched",
    "Row",
    "SeriesLimitSettings",
    "SourceHealth",
    "SourceSettings",
    "bearer_header",
    "check_label_names",
    "collect_safely",
    "samples_from_rows",
]

logger = logging.getLogger(__name__)
_LABEL_NAME_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


@dataclass(frozen=True)
class SourceHealth:
    """How one collection went: ``error`` names the source and the input that failed."""

    source: str
    ok: bool
    error: str | None
    duration_seconds: float
    samples: int
    timestamp_ms: int
    problems: tuple[str, ...] = ()
    """Non-fatal problems (skipped lines) when ``ok`` is still true."""


@dataclass(frozen=True)
class CollectResult:
    """One batch (``store.types.SAMPLE_SCHEMA``) and the health of the collection."""

    health: SourceHealth
    samples: pl.DataFrame = field(default_factory=empty_samples)


@dataclass(frozen=True, eq=False)
class CollectorContext:
    """The side effects a collector may use, handed in by whoever builds it.

    The agent builds one (its clock, its ``env``, its HTTP client) for all its collectors, and
    ``redline collect`` one for the source it runs; a test builds its own, so it can pass a dict
    environment or a fixed clock. A collector reads nothing else: no ``os.environ``, no
    ``time.time()``, no HTTP client of its own.
    """

    clock: Callable[[], float]
    """Seconds since the epoch: stamps samples and is the "now" of ages and windows."""
    env: Mapping[str, str]
    """Where the variables a config names (``*_env``, the AWS credentials, ``PATH``) are read,
    once, when a collector is built."""
    http: httpx.Client
    """Every HTTP request a collector makes goes through this client (the caller owns it)."""

    def __repr__(self) -> str:  # the environment holds secrets
        return f"CollectorContext(clock={self.clock!r}, env=<{len(self.env)} variables>, http={self.http!r})"


class Collector(Protocol):
    """Anything that can be asked for one batch. Implementations must not raise."""

    name: str

    def collect(self) -> CollectResult:
        """Fetch once and return samples plus health."""
        ...


def check_label_names(labels: dict[str, str]) -> dict[str, str]:
    """``labels`` when every name is a Prometheus label name; ``ValueError`` naming one that is not."""
    for name in labels:
        if _LABEL_NAME_RE.fullmatch(name) is None or name.startswith("__"):
            raise ValueError(f"{name!r} is not a label name ([a-zA-Z_][a-zA-Z0-9_]*, not starting __)")
    return labels


class SourceSettings(BaseModel):
    """The settings every source kind shares; a kind's config model subclasses this and adds
    ``kind: Literal[...]`` plus its own fields."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.:-]+$")
    interval: DurationSeconds = 15.0
    timeout: DurationSeconds | None = None
    """Unset: 10 s, or the interval when that is shorter (as Prometheus's scrape_timeout)."""
    labels: dict[str, str] = Field(default_factory=dict)
    """Added to every series of this source, with ``source=<name>``."""
    body_size_limit: ByteCount = 10 * 1024 * 1024
    """The most one collection may read (an HTTP body after decompression, a file's bytes): ``10MB``
    or a number of bytes, 0 for no limit. Over it the collection fails whole (Prometheus's name)."""
    max_bytes: int | None = Field(default=None, gt=0)
    """The older name of ``body_size_limit`` (a number of bytes), still read; prefer ``body_size_limit``."""

    @property
    def timeout_s(self) -> float:
        """The timeout in force."""
        return self.timeout if self.timeout is not None else min(10.0, self.interval)

    @property
    def read_limit(self) -> int:
        """``body_size_limit`` as a number of bytes to read up to (no limit: ``UNLIMITED_BYTES``)."""
        return self.body_size_limit or UNLIMITED_BYTES

    @model_validator(mode="before")
    @classmethod
    def _max_bytes_is_body_size_limit(cls, data: object) -> object:
        # max_bytes stays its own field so that a bad value is reported where it is written.
        if isinstance(data, dict) and data.get("max_bytes") is not None:
            if "body_size_limit" in data:
                raise ValueError("give body_size_limit or max_bytes (its older name), not both")
            value = data["max_bytes"]
            if isinstance(value, int) and not isinstance(value, bool) and value > 0:
                data = {**data, "body_size_limit": value}
        return data

    @field_validator("labels")
    @classmethod
    def _label_names(cls, value: dict[str, str]) -> dict[str, str]:
        for name in check_label_names(value):
            if name == "source":
                raise ValueError("'source' is set by Redline to the source name; choose another label")
        return value

    @model_validator(mode="after")
    def _timeout_within_interval(self) -> Self:
        if self.timeout is not None and self.timeout > self.interval:
            raise ValueError(
                f"timeout ({format_duration(self.timeout)}) must not exceed interval "
                f"({format_duration(self.interval)})"
            )
        return self

    def series_labels(self) -> dict[str, str]:
        """The labels stamped on every series of this source."""
        return {**self.labels, "source": self.name}


class SeriesLimitSettings(SourceSettings):
    """The settings of a source kind that keeps to Prometheus's per-scrape series limits
    (``collectors.limits``): a scrape, dcgm-exporter, a PromQL backend. Defaults protect the agent
    from one runaway target; 0 is no limit, as in Prometheus."""

    sample_limit: int = Field(default=200_000, ge=0)
    """The most samples one collection may hold."""
    label_limit: int = Field(default=64, ge=0)
    """The most labels one series may carry, ``__name__`` and ``source`` included."""
    label_name_length_limit: int = Field(default=256, ge=0)
    """The longest label name, in bytes."""
    label_value_length_limit: int = Field(default=2048, ge=0)
    """The longest label value (the metric name included), in UTF-8 bytes."""

    @property
    def limits(self) -> SourceLimits:
        """The series limits in force."""
        return SourceLimits(
            self.sample_limit, self.label_limit, self.label_name_length_limit, self.label_value_length_limit
        )


Row = tuple[str, Mapping[str, str], int, float]
"""One sample as a collector builds it: metric, labels, timestamp in ms, value."""

Fetched = tuple[pl.DataFrame, Sequence[str]] | tuple[pl.DataFrame, Sequence[str], str | None]
"""What a collection's fetch returns to ``collect_safely``: samples, non-fatal problems and,
optionally, the error of a collection that failed in part (``None``: it did not)."""


def bearer_header(var: str, env: Mapping[str, str], *, where: str = "bearer_token_env") -> Secrets:
    """``{"Authorization": "Bearer <token>"}`` with the token from ``var`` (``kernel.secrets.secret_from_env``:
    ``ConfigError`` naming the variable when it is unset)."""
    return Secrets(Authorization=f"Bearer {secret_from_env(var, env, where=where)}")


def samples_from_rows(rows: Iterable[Row], extra_labels: Mapping[str, str]) -> pl.DataFrame:
    """A sample frame from rows, with ``extra_labels`` (source and configured labels) merged in;
    a label the row already has is kept as ``exported_<name>``, as Prometheus does."""
    metrics: list[str] = []
    labels: list[str] = []
    stamps: list[int] = []
    values: list[float] = []
    for metric, own, ts_ms, value in rows:
        merged = {(f"exported_{k}" if k in extra_labels else k): v for k, v in own.items()}
        merged.update(extra_labels)
        metrics.append(metric)
        labels.append(format_labels(merged))
        stamps.append(ts_ms)
        values.append(value)
    if not metrics:
        return empty_samples()
    return pl.DataFrame(
        {"metric": metrics, "labels": labels, "timestamp": stamps, "value": values}, schema=SAMPLE_SCHEMA
    )


def collect_safely(
    source: str,
    where: str,
    clock: Callable[[], float],
    fetch: Callable[[int], Fetched],
    *,
    empty_is_error: bool = True,
    limits: SourceLimits | None = None,
) -> CollectResult:
    """Run ``fetch(now_ms)`` and turn its outcome into a ``CollectResult``; never raises.

    ``fetch`` returns the samples and non-fatal problems, or raises ``SourceError`` for a failed
    collection. It may add a third element, an error for a collection that failed in part: the
    health is then not ok, with that error, and the samples it did read are kept. ``where``
    (``source 'x' (http://…)``) prefixes every error. An empty result is reported as an error
    ("returned no samples"), never as zeros, unless ``empty_is_error`` is false (a scrape target
    with no series yet is healthy); no samples but problems is always an error naming the first
    problem. With ``limits``, a frame over any of them fails whole: no sample is kept and the error
    names the limit (for sources that build their frame whole; a scrape checks as it parses).
    """
    now_ms = int(clock() * 1000)
    started = time.monotonic()
    samples = empty_samples()
    problems: Sequence[str] = ()
    try:
        fetched = fetch(now_ms)
        samples, problems = fetched[0], fetched[1]
        failed = fetched[2] if len(fetched) == 3 else None
        over = frame_limit_error(samples, limits) if limits is not None else None
        if over is not None:
            samples, error = empty_samples(), f"{where}: {over}"
        elif failed is not None:
            error = f"{where}: {failed}"
        elif samples.height:
            error = None
        elif problems:
            error = f"{where}: no sample could be read; {problems[0]}"
        else:
            error = f"{where}: returned no samples" if empty_is_error else None
    except SourceError as exc:
        error = f"{where}: {exc}"
    except Exception as exc:  # containment: a collector must never raise into the scheduler
        logger.exception("%s: unexpected error", where)
        error = f"{where}: unexpected error: {type(exc).__name__}: {exc}"
    health = SourceHealth(
        source=source,
        ok=error is None,
        error=error,
        duration_seconds=time.monotonic() - started,
        samples=samples.height,
        timestamp_ms=now_ms,
        problems=tuple(problems),
    )
    return CollectResult(health, samples)
