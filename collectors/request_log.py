"""The ``request_log`` source kind: an exact latency histogram from raw request events.

``kind: request_log`` reads a request log — Parquet or CSV files, a path or glob, local or
``s3://`` (``storage_options`` as in ``collectors.object_storage``) — with one row per request, a
timestamp column and a duration column. Polars lazy scans read only the columns used. Every
collection counts the events of the last ``lookback`` (default 30d) per minute of their
timestamp and per ``group_by`` label set, and emits one cumulative histogram per label set:

| metric | type | labels | unit |
|---|---|---|---|
| ``<metric>_bucket`` | histogram bucket (cumulative) | ``le``, source, configured, ``group_by`` | requests ≤ ``le`` s |
| ``<metric>_count`` | counter | source, configured, ``group_by`` columns | requests |
| ``<metric>_sum`` | counter | source, configured, ``group_by`` columns | seconds |

``<metric>`` defaults to ``redline_request_duration_seconds``. ``le`` is one bucket per entry of
``thresholds`` (written as the shortest decimal of the seconds: ``0.1``, ``0.25``, ``1``) plus
``+Inf`` (= ``_count``). Since the bounds are the thresholds themselves, a latency objective at a
threshold reads exact counts: the share of requests at or under it, with no interpolation.
A duration exactly equal to a threshold counts as within it (``≤``, as Prometheus buckets).

Points: one per complete minute (timestamp = the minute's end, UTC ms), from a label set's first
event to the last complete minute before the collection, idle minutes included (the value is
unchanged). A label set's first point is a 0 at the start of its first minute, so the engine's
counter math sees every event of that minute as an increase. Events in the current, incomplete
minute are emitted once it completes.

Emission: the first collection emits the whole look-back; later ones only the minutes after the
last emitted (the collector keeps that state), plus whole label sets not seen before. Every
collection recomputes the counts from the files, so an event that arrives late — for a minute
already emitted — is counted in the next new minute: the totals stay exact, only its minute is
later. As the look-back moves on, the counts of minutes leaving it are folded into a base that the
series keep, so they never drop. If events already emitted disappear (a file removed or rewritten
within the look-back), the series continue from their emitted values and the health carries a
problem saying how many requests went missing; a restart of the agent starts the series over
from the look-back (the engine sees a counter reset).

Timestamps: datetime columns (naive means UTC), dates, epoch numbers (seconds, ms, µs or ns told
apart by magnitude, as ``collectors.freshness_values``), or strings in exactly two forms — ISO 8601
(``2024-01-15T10:00:00``, fraction, ``Z`` or offset optional) and ``2024-01-15 10:00:00``; without
an offset, UTC. Durations: numbers (or numeric strings) in ``duration_unit`` (s, ms, us).

Bad input fails the whole collection (a histogram missing requests would be wrong for good),
naming the input: no file matches, a missing column (file and column), a timestamp or duration
that cannot be read or a negative duration (column, file, row counted from 1 after the header, and
the value). An empty file (no bytes, or no rows) is a problem on the health naming it; no events at
all on the first collection is an error. ``body_size_limit`` (default 4 GiB) bounds the matched files'
total size (local or S3, checked from the listing before reading); ``timeout`` does not interrupt a scan.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from typing import Final, Literal, Self

import numpy as np
import numpy.typing as npt
import polars as pl
from pydantic import Field, field_validator, model_validator

from redline.collectors.base import ByteCount, CollectorContext, CollectResult, SourceSettings, collect_safely
from redline.collectors.freshness_files import MatchedFiles
from redline.collectors.object_storage import (
    ObjectStorageSettings,
    S3Access,
    check_storage_options,
    is_s3,
)
from redline.kernel.config_types import DurationSeconds
from redline.kernel.errors import SourceError
from redline.kernel.fields import SAMPLE_SCHEMA, empty_samples
from redline.kernel.labels import format_labels
from redline.kernel.units import format_duration

__all__ = ["DEFAULT_METRIC", "RequestLogCollector", "RequestLogConfig", "le_text"]

DEFAULT_METRIC: Final = "redline_request_duration_seconds"
MINUTE_MS: Final = 60_000
_UNIT_FACTOR: Final = {"s": 1.0, "ms": 1_000.0, "us": 1_000_000.0}
_LABEL_RE: Final = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_METRIC_RE: Final = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_RESERVED_LABELS: Final = frozenset({"le", "source"})
_STRING_FORMATS: Final = ("%Y-%m-%dT%H:%M:%S%.f%#z", "%Y-%m-%dT%H:%M:%S%.f")
_UTC_US: Final = pl.Datetime("us", "UTC")

F64 = npt.NDArray[np.float64]
Group = tuple[str, ...]


def le_text(seconds: float) -> str:
    """The ``le`` label of a bound: the shortest decimal of the seconds (``0.25``, ``1``, ``1e-05``)."""
    text = repr(float(seconds))
    return text[:-2] if text.endswith(".0") else text


def _canonical(seconds: float) -> float:
    """A threshold as the decimal it was written as (``300ms`` is 0.3, not 0.30000000000000004)."""
    return float(f"{seconds:.12g}")


class RequestLogConfig(SourceSettings):
    """A request log (``kind: request_log``; see the module docstring)."""

    kind: Literal["request_log"]
    path: str
    """A file or glob (``**`` crosses directories), local or ``s3://bucket/prefix/*.parquet``."""
    format: Literal["parquet", "csv"] | None = None
    """Unset: from the path's suffix (``.parquet``/``.pq`` or ``.csv``)."""
    timestamp_column: str = Field(min_length=1)
    duration_column: str = Field(min_length=1)
    duration_unit: Literal["s", "ms", "us"] = "s"
    thresholds: list[DurationSeconds]
    """Bucket bounds (``[100ms, 250ms, 500ms]``), strictly increasing; each becomes an exact ``le``."""
    filter: dict[str, str | int] = Field(default_factory=dict)
    """Keep only rows whose column equals the value (compared as text: ``status: 200`` matches ``"200"``)."""
    group_by: list[str] = Field(default_factory=list)
    """Columns carried as labels (``route``, ``model``, ``status``); a missing value is an empty label."""
    metric: str = DEFAULT_METRIC
    lookback: DurationSeconds = 30 * 86400.0
    """How far back events are counted; older ones are ignored (once counted, they stay counted)."""
    storage_options: ObjectStorageSettings | None = None
    """For an ``s3://`` path: endpoint, region and credentials (``collectors.object_storage``)."""
    interval: DurationSeconds = 60.0
    body_size_limit: ByteCount = 4 * 1024**3
    """The most the matched local files may hold in total (object storage is not sized); 0 is no limit."""

    @field_validator("thresholds")
    @classmethod
    def _thresholds(cls, value: list[float]) -> list[float]:
        if not value:
            raise ValueError("thresholds needs at least one duration, e.g. [100ms, 250ms, 500ms]")
        bounds = [_canonical(v) for v in value]
        for before, after in itertools.pairwise(bounds):
            if after <= before:
                raise ValueError(
                    f"thresholds must be strictly increasing: {format_duration(after)} follows "
                    f"{format_duration(before)}"
                )
        return bounds

    @field_validator("group_by")
    @classmethod
    def _group_by(cls, value: list[str]) -> list[str]:
        for name in value:
            if _LABEL_RE.fullmatch(name) is None or name.startswith("__"):
                raise ValueError(f"group_by column {name!r} is not a label name ([a-zA-Z_][a-zA-Z0-9_]*)")
            if name in _RESERVED_LABELS:
                raise ValueError(f"group_by column {name!r} would clash with the {name!r} label Redline sets")
        if len(set(value)) != len(value):
            raise ValueError("group_by columns must be distinct")
        return value

    @field_validator("metric")
    @classmethod
    def _metric(cls, value: str) -> str:
        if _METRIC_RE.fullmatch(value) is None:
            raise ValueError(f"{value!r} is not a metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)")
        return value

    @model_validator(mode="after")
    def _checks(self) -> Self:
        check_storage_options(self.path, self.storage_options)
        if self.format is None and self.path.lower().rsplit(".", 1)[-1] not in ("parquet", "pq", "csv"):
            raise ValueError("cannot tell Parquet from CSV by the path's suffix; set format: parquet or csv")
        clash = set(self.group_by) & set(self.labels)
        if clash:
            raise ValueError(f"group_by column(s) {', '.join(sorted(clash))} also set in labels")
        return self

    @property
    def file_format(self) -> Literal["parquet", "csv"]:
        """The files' format."""
        if self.format is not None:
            return self.format
        return "csv" if self.path.lower().endswith(".csv") else "parquet"

    def where(self) -> str:
        """``source 'x' (path)`` for every error."""
        return f"source {self.name!r} ({self.path})"


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


def _epoch_ms_of_number(value: pl.Expr) -> pl.Expr:
    """Epoch seconds/ms/µs/ns (by magnitude, as ``freshness_values``) as integer ms."""
    magnitude = value.abs()
    ms = (
        pl.when(magnitude < 1e11).then(value * 1e3)
        .when(magnitude < 1e14).then(value)
        .when(magnitude < 1e17).then(value / 1e3)
        .otherwise(value / 1e6)
    )
    return ms.floor().cast(pl.Int64)


def _timestamp_ms(column: str, dtype: pl.DataType) -> pl.Expr:
    """The column as UTC epoch ms (null where it cannot be read)."""
    col = pl.col(column)
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone is None:
            col = col.dt.replace_time_zone("UTC")
        return col.dt.convert_time_zone("UTC").dt.epoch("ms")
    if isinstance(dtype, pl.Date):
        return col.cast(pl.Datetime("ms")).dt.epoch("ms")
    if dtype.is_numeric():
        return _epoch_ms_of_number(col.cast(pl.Float64))
    text = col.cast(pl.String).str.strip_chars()
    digits = text.str.contains(r"^\d+(\.\d+)?$")
    iso = text.str.replace(" ", "T", literal=True)
    parsed = pl.coalesce([iso.str.strptime(_UTC_US, f, strict=False) for f in _STRING_FORMATS])
    return (
        pl.when(digits).then(_epoch_ms_of_number(text.cast(pl.Float64, strict=False)))
        .otherwise(parsed.dt.epoch("ms"))
    )


def _duration_s(column: str, dtype: pl.DataType, factor: float) -> pl.Expr:
    """The column in seconds (null where not a finite number)."""
    col = pl.col(column)
    number = col.cast(pl.Float64) if dtype.is_numeric() else (
        col.cast(pl.String).str.strip_chars().cast(pl.Float64, strict=False)
    )
    seconds = number if factor == 1.0 else number / factor
    return pl.when(seconds.is_finite()).then(seconds)


class RequestLogCollector:
    """Reads the log on every ``collect()`` and emits the new minutes of the histogram.

    The context's ``env`` supplies the credentials of an ``s3://`` path (read once, here). No I/O
    at construction. Not thread-safe: the scheduler runs one collect per source at a time.
    """

    def __init__(self, config: RequestLogConfig, context: CollectorContext) -> None:
        self.name = config.name
        self.config = config
        self._clock = context.clock
        self._where = config.where()
        self._s3 = S3Access(config.storage_options, context.env) if is_s3(config.path) else None
        self._files = MatchedFiles(config.path, self._s3, config.read_limit)
        self._factor = _UNIT_FACTOR[config.duration_unit]
        self._les = [le_text(t) for t in config.thresholds]
        # state (see the module docstring): minutes are epoch minute indexes
        self._anchor: int | None = None
        """The first minute counted; minutes before it are folded into ``_base``."""
        self._last: int | None = None
        """The last minute emitted."""
        self._base: dict[Group, F64] = {}
        self._emitted: dict[Group, F64] = {}
        """Per label set, the cumulative vector last emitted: one count per threshold, count, sum."""

    def __repr__(self) -> str:
        return f"RequestLogCollector({self.config.name!r}, path={self.config.path!r})"

    def collect(self) -> CollectResult:
        """Read once. Never raises: every failure is on ``result.health``."""
        return collect_safely(
            self.name, self._where, self._clock, self._fetch, empty_is_error=self._last is None
        )

    # -- reading -------------------------------------------------------------------------------

    def _checked_scan(self, uri: str, problems: list[str]) -> pl.LazyFrame | None:
        """The file's events (file, row, minute, duration, bad flags, group columns); None for an
        empty file (a problem); SourceError naming the file and the column when one is missing."""
        cfg = self.config
        try:
            lf = self._files.scan(uri, self.config.file_format)
            schema = lf.collect_schema()
            no_rows = lf.head(1).collect().is_empty()  # reads one row, not a full pass over the file
        except pl.exceptions.NoDataError:
            problems.append(f"{uri} is empty (no header, no rows)")
            return None
        except (pl.exceptions.PolarsError, OSError) as exc:
            raise SourceError(f"cannot read {uri}: {_short(exc)}") from None
        for col in dict.fromkeys([cfg.timestamp_column, cfg.duration_column, *cfg.group_by, *cfg.filter]):
            if col not in schema:
                shown = ", ".join(schema.names()[:20])
                raise SourceError(f"{uri} has no column {col!r} (columns: {shown})")
        if no_rows:
            problems.append(f"{uri} is empty (no rows)")
            return None
        lf = lf.with_row_index("__row", offset=1)
        if cfg.filter:
            lf = lf.filter(pl.all_horizontal([pl.col(c).cast(pl.String) == str(v) for c, v in cfg.filter.items()]))
        ts_raw, dur_raw = pl.col(cfg.timestamp_column), pl.col(cfg.duration_column)
        ts = _timestamp_ms(cfg.timestamp_column, schema[cfg.timestamp_column])
        dur = _duration_s(cfg.duration_column, schema[cfg.duration_column], self._factor)
        return lf.select(
            __file=pl.lit(uri),
            __row=pl.col("__row"),
            __ts=ts,
            __d=dur,
            __ts_text=ts_raw.cast(pl.String),
            __d_text=dur_raw.cast(pl.String),
            **{c: pl.col(c).cast(pl.String).fill_null("") for c in cfg.group_by},
        ).with_columns(
            __bad_ts=pl.col("__ts").is_null(),
            __bad_d=pl.col("__d").is_null() | (pl.col("__d") < 0),
        )

    def _read(self, since_minute: int, problems: list[str]) -> pl.DataFrame:
        """Per (group, minute ≥ ``since_minute``): request count, duration sum and one count per
        threshold; SourceError for a bad row (see the module docstring)."""
        cfg = self.config
        entries, storage = self._files.listed()
        frames = [f for e in entries if (f := self._checked_scan(e.uri(storage), problems)) is not None]
        if not frames:
            raise SourceError(f"no events: {'; '.join(problems)}")
        lf = pl.concat(frames, how="vertical") if len(frames) > 1 else frames[0]
        bad = pl.col("__bad_ts") | pl.col("__bad_d")
        minute = pl.col("__ts") // MINUTE_MS
        lf = lf.filter(bad | (minute >= since_minute))
        d = pl.col("__d")
        try:
            grouped = (
                lf.group_by([*cfg.group_by, minute.alias("__minute")])
                .agg(
                    bad.sum().alias("__bad"),
                    *[(d <= t).sum().cast(pl.Float64).alias(f"__le{i}") for i, t in enumerate(cfg.thresholds)],
                    pl.len().cast(pl.Float64).alias("__count"),
                    d.sum().alias("__sum"),
                )
                .collect()
            )
            if grouped.get_column("__bad").sum():
                self._raise_first_bad(lf.filter(bad).sort("__file", "__row").head(1).collect())
        except (pl.exceptions.PolarsError, OSError) as exc:
            raise SourceError(f"cannot read {cfg.path}: {_short(exc)}") from None
        return grouped

    def _raise_first_bad(self, first: pl.DataFrame) -> None:
        cfg = self.config
        row = first.row(0, named=True)
        where = f"{row['__file']} row {row['__row']}"
        if row["__bad_ts"]:
            raise SourceError(
                f"column {cfg.timestamp_column!r} at {where} holds {row['__ts_text']!r}, not a timestamp "
                "(expected ISO 8601, 'YYYY-MM-DD HH:MM:SS', epoch seconds/ms or a datetime)"
            )
        value = row["__d_text"]
        what = "a negative duration" if row["__d"] is not None else "not a number"
        raise SourceError(f"column {cfg.duration_column!r} at {where} holds {value!r}: {what}")

    # -- emitting ------------------------------------------------------------------------------

    def _fetch(self, now_ms: int) -> tuple[pl.DataFrame, list[str]]:
        cfg = self.config
        problems: list[str] = []
        lookback_start = (now_ms - round(cfg.lookback * 1000)) // MINUTE_MS
        anchor = lookback_start if self._anchor is None else max(self._anchor, lookback_start)
        scan_from = anchor if self._anchor is None else self._anchor
        grouped = self._read(scan_from, problems)
        if self._last is None and grouped.is_empty():
            after = " after the filter" if cfg.filter else ""
            raise SourceError(f"no events in the last {format_duration(cfg.lookback)}{after}")
        last_complete = now_ms // MINUTE_MS - 1
        width = len(cfg.thresholds) + 2
        value_cols = [*(f"__le{i}" for i in range(len(cfg.thresholds))), "__count", "__sum"]

        base = {g: v.copy() for g, v in self._base.items()}
        emitted = dict(self._emitted)
        rows: list[pl.DataFrame] = []
        partitions = grouped.sort("__minute").partition_by(cfg.group_by, as_dict=True) if cfg.group_by else {
            (): grouped.sort("__minute")
        }
        seen: set[Group] = set()
        for key, part in partitions.items():
            group: Group = tuple(str(k) for k in key)
            seen.add(group)
            minutes = part.get_column("__minute").to_numpy()
            values = part.select(value_cols).to_numpy().astype(np.float64)
            old = minutes < anchor
            group_base = base.get(group, np.zeros(width))
            if old.any():  # leaving the look-back: fold into the base
                group_base = group_base + values[old].sum(axis=0)
                minutes, values = minutes[~old], values[~old]
            base[group] = group_base
            rows += self._group_rows(group, minutes, values, group_base, emitted, last_complete, problems)
        for group, vector in self._emitted.items():  # label sets with no event left in the look-back
            if group not in seen and self._last is not None and last_complete > self._last:
                rows.append(self._points(group, range(self._last + 1, last_complete + 1), np.tile(vector, (
                    last_complete - self._last, 1))))
        samples = pl.concat(rows).sort("metric", "labels", "timestamp") if rows else empty_samples()
        # commit the state only once the batch is built
        self._anchor = anchor
        self._base = base
        self._emitted = emitted
        self._last = last_complete if self._last is None else max(self._last, last_complete)
        return samples, problems

    def _group_rows(
        self,
        group: Group,
        minutes: npt.NDArray[np.int64],
        values: F64,
        base: F64,
        emitted: dict[Group, F64],
        last_complete: int,
        problems: list[str],
    ) -> list[pl.DataFrame]:
        """The points of one label set for the minutes after the last emitted (all, if it is new);
        updates ``emitted`` (and ``base`` in place, when emitted events went missing)."""
        done = minutes <= last_complete
        minutes, values = minutes[done], values[done]
        before = emitted.get(group)
        if before is None:
            if not len(minutes):
                return []
            first = int(minutes[0])
            start = first
            rows = [self._points(group, [first - 1], base[None, :])]  # the 0 at the start of the first minute
        else:
            assert self._last is not None
            start = self._last + 1
            if start > last_complete:
                return []
            upto = values[minutes < start].sum(axis=0) + base
            missing = before - upto
            if (missing[:-1] > 0).any() or missing[-1] > 0:
                if missing[-2] > 0:
                    problems.append(
                        f"{int(missing[-2])} requests already counted{self._group_text(group)} are no longer in "
                        "the files (removed or rewritten?); the series continue from their emitted values"
                    )
                base += np.maximum(missing, 0.0)
            rows = []
        span = np.arange(start, last_complete + 1, dtype=np.int64)
        per_minute = np.zeros((len(span), len(base)))
        inside = minutes >= start
        np.add.at(per_minute, minutes[inside] - start, values[inside])
        before_start = values[~inside].sum(axis=0)
        cumulative = base + before_start + np.cumsum(per_minute, axis=0)
        emitted[group] = cumulative[-1].copy()
        return [*rows, self._points(group, span, cumulative)]

    def _group_text(self, group: Group) -> str:
        if not group:
            return ""
        return " (" + ", ".join(f"{k}={v!r}" for k, v in zip(self.config.group_by, group, strict=True)) + ")"

    def _points(self, group: Group, minutes: Sequence[int] | npt.NDArray[np.int64], cumulative: F64) -> pl.DataFrame:
        """Samples for each minute (stamped at its end) of the cumulative vectors, built as columns."""
        cfg = self.config
        labels = {**dict(zip(cfg.group_by, group, strict=True)), **cfg.series_labels()}
        stamps = pl.Series("timestamp", (np.asarray(minutes, dtype=np.int64) + 1) * MINUTE_MS, pl.Int64)
        series = [(f"{cfg.metric}_bucket", {**labels, "le": le}) for le in [*self._les, "+Inf"]]
        series += [(f"{cfg.metric}_count", labels), (f"{cfg.metric}_sum", labels)]
        columns = [*range(len(self._les) + 1), len(self._les), len(self._les) + 1]
        frames = [
            pl.DataFrame(
                {"metric": pl.repeat(metric, len(stamps), eager=True, dtype=pl.String),
                 "labels": pl.repeat(format_labels(own), len(stamps), eager=True, dtype=pl.String),
                 "timestamp": stamps,
                 "value": pl.Series(cumulative[:, col], dtype=pl.Float64)},
                schema=SAMPLE_SCHEMA,
            )
            for (metric, own), col in zip(series, columns, strict=True)
        ]
        return pl.concat(frames)
