"""FOCUS billing exports (FinOps Open Cost and Usage Specification 1.0–1.2) as cumulative spend.

``kind: focus`` reads CSV or Parquet exports, local or ``s3://``, with polars lazy scans (only the
columns used are read). An ``s3://`` path may set ``storage_options`` (endpoint, region,
credentials from environment variables; see ``collectors.object_storage``). Each charge row's
cost (``EffectiveCost`` by default, or ``BilledCost``) is spread over its charge period —
``ChargePeriodStart`` inclusive, ``ChargePeriodEnd`` exclusive — in proportion to the time each
bucket (``bucket``, default 1h) overlaps it; a row whose end is not after its start is placed whole
in the bucket holding its start. Buckets are then summed per group
and accumulated into one cumulative series per group, stamped at each bucket's end, so the spend
guardrails read it like a counter.

| metric                     | type              | labels                                                    | unit |
|----------------------------|-------------------|-----------------------------------------------------------|------|
| ``redline_spend_usd_total`` | cumulative spend | ``source``, configured labels, one per ``group_by`` entry | USD  |

``group_by`` entries become labels: ``ServiceName`` → ``service``, ``ResourceId`` → ``resource_id``,
``SubAccountId`` → ``sub_account``, ``ChargeCategory`` → ``charge_category``, ``Tags.<key>`` →
``tag_<key>`` (characters outside ``[a-zA-Z0-9_]`` become ``_``). A missing value is an empty label.

Currency: nothing is converted. Every row must carry the configured ``currency`` (default USD) in
``BillingCurrency``; the metric is named after it (``redline_spend_eur_total`` for ``currency:
EUR``). A file with several currencies, or another one than configured, fails the collection with
the files and currencies found.

Credits and refunds (negative costs) are kept as such, so the cumulative series can go *down*.
That is not a counter reset: spend math must take the plain difference of the series over a
window (last − first), never Prometheus-style reset correction.

Each series starts with a 0 at the start of its first bucket. Emission: every collection recomputes
the cumulative series from all matched rows, but emits only the buckets that end after the newest
bucket emitted before, and whole series not seen before (the first collection emits everything).
A bill revised in the past therefore shows up in the next new bucket. A file leaving the glob, or a
restart, makes the series start over from the earliest charge (it may drop; see above).

Bad input fails the whole collection (a cumulative series missing rows would be wrong for good):
no file matches, an empty file, a missing column (named with the file), a date that is not ISO 8601
(named with the column, the row counted from 1 after the header, and the value), a cost that is
not a number, mixed currencies. Dates are accepted as ``YYYY-MM-DDTHH:MM:SS[.fff]`` followed by ``Z``
or an offset (``T`` may be a space); Parquet datetime columns are read as they are (naive = UTC).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final, Literal, Self

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

__all__ = ["FOCUS_DIMENSIONS", "FocusCollector", "FocusConfig", "focus_spend"]

FOCUS_DIMENSIONS: Final = {
    "ServiceName": "service",
    "ResourceId": "resource_id",
    "SubAccountId": "sub_account",
    "ChargeCategory": "charge_category",
}
"""FOCUS columns ``group_by`` and ``filter`` accept, and the label each becomes."""

_MANDATORY: Final = frozenset(
    {"BillingCurrency", "ChargePeriodStart", "ChargePeriodEnd", "EffectiveCost", "BilledCost",
     "ServiceName", "ChargeCategory"}
)
"""Columns this collector can read that FOCUS 1.0–1.2 makes mandatory (the others are conditional)."""

_DATE_FORMATS: Final = ("%Y-%m-%dT%H:%M:%S%.fZ", "%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%d %H:%M:%S%.fZ",
                        "%Y-%m-%d %H:%M:%S%.f%z")
_UTC_MS: Final = pl.Datetime("ms", "UTC")
_TAG_KEY_RE: Final = re.compile(r"[^a-zA-Z0-9_]")


def _dimension(entry: str) -> str:
    if entry in FOCUS_DIMENSIONS or (entry.startswith("Tags.") and len(entry) > 5):
        return entry
    raise ValueError(f"{entry!r} is not one of {', '.join(FOCUS_DIMENSIONS)} or Tags.<key>")


def label_of(entry: str) -> str:
    """The label name a ``group_by`` entry becomes."""
    if entry.startswith("Tags."):
        return "tag_" + _TAG_KEY_RE.sub("_", entry[5:])
    return FOCUS_DIMENSIONS[entry]


class FocusConfig(SourceSettings):
    """One FOCUS export (a file or a glob, local or ``s3://``): ``kind: focus``."""

    kind: Literal["focus"]
    path: str
    format: Literal["auto", "csv", "parquet"] = "auto"
    """``auto``: by the extension (``.csv``, ``.csv.gz``, ``.parquet``)."""
    cost_column: Literal["EffectiveCost", "BilledCost"] = "EffectiveCost"
    bucket: DurationSeconds = 3600.0
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    group_by: list[str] = Field(default_factory=lambda: ["ServiceName"])
    filter: dict[str, list[str]] = Field(default_factory=dict)
    """Keep rows whose column (or ``Tags.<key>``) holds one of the values."""
    storage_options: ObjectStorageSettings | None = None
    """For an ``s3://`` path: endpoint, region and credentials (``collectors.object_storage``)."""
    interval: DurationSeconds = 3600.0
    body_size_limit: ByteCount = 4 * 1024**3
    """The most the matched local files may hold in total (object storage is not sized); 0 is no limit."""

    @field_validator("group_by")
    @classmethod
    def _group_by(cls, value: list[str]) -> list[str]:
        for entry in value:
            _dimension(entry)
        if len({label_of(e) for e in value}) != len(value):
            raise ValueError("group_by entries must be distinct (after tag keys become label names)")
        return value

    @field_validator("filter")
    @classmethod
    def _filter(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for entry, allowed in value.items():
            _dimension(entry)
            if not allowed:
                raise ValueError(f"filter {entry!r} needs at least one value")
        return value

    @model_validator(mode="after")
    def _storage_options(self) -> Self:
        check_storage_options(self.path, self.storage_options)
        return self

    @property
    def metric(self) -> str:
        """The metric name the spend is emitted under."""
        return f"redline_spend_{self.currency.lower()}_total"


def _is_remote(path: str) -> bool:
    return "://" in path


def _file_format(cfg: FocusConfig, path: str) -> Literal["csv", "parquet"]:
    if cfg.format != "auto":
        return cfg.format
    lower = path.lower()
    if lower.endswith(".parquet") or lower.endswith(".pq"):
        return "parquet"
    if lower.endswith(".csv") or lower.endswith(".csv.gz"):
        return "csv"
    raise SourceError(f"cannot tell the format of {path}: set format: csv or parquet")


def _typed_ms(col: str, dtype: pl.DataType) -> pl.Expr | None:
    """A Parquet datetime/date column as UTC epoch ms (naive = UTC); None for text columns."""
    if isinstance(dtype, pl.Datetime):
        expr = pl.col(col)
        if dtype.time_zone is None:
            expr = expr.dt.replace_time_zone("UTC")
        return expr.dt.convert_time_zone("UTC").dt.epoch("ms")
    if isinstance(dtype, pl.Date):
        return pl.col(col).cast(pl.Datetime("ms")).dt.epoch("ms")
    return None


def _parse_iso_ms(text: pl.Expr) -> pl.Expr:
    """ISO 8601 text as UTC epoch ms; anything else becomes null."""
    text = text.str.strip_chars()
    return pl.coalesce([text.str.strptime(_UTC_MS, fmt, strict=False) for fmt in _DATE_FORMATS]).dt.epoch("ms")


def focus_spend(
    grouped: pl.DataFrame, *, bucket_ms: int, dims: Sequence[str]
) -> pl.DataFrame:
    """Spread each row's ``cost`` over [``start_ms``, ``end_ms``) into buckets of ``bucket_ms`` and
    accumulate per ``dims``: columns ``dims``, ``timestamp`` (bucket end, ms), ``value`` (cumulative),
    with a 0 at the start of each group's first bucket."""
    first = pl.col("start_ms") // bucket_ms
    span = pl.col("end_ms") - pl.col("start_ms")
    last = pl.when(span > 0).then((pl.col("end_ms") - 1) // bucket_ms).otherwise(first)
    exploded = grouped.with_columns(b=pl.int_ranges(first, last + 1)).explode("b")
    lo = pl.max_horizontal(pl.col("start_ms"), pl.col("b") * bucket_ms)
    hi = pl.min_horizontal(pl.col("end_ms"), (pl.col("b") + 1) * bucket_ms)
    share = pl.when(span > 0).then(pl.col("cost") * (hi - lo) / span).otherwise(pl.col("cost"))
    per_bucket = (
        exploded.group_by([*dims, "b"]).agg(share.sum().alias("value")).sort([*dims, "b"])
    )
    cumulative = per_bucket.select(
        *dims,
        timestamp=(pl.col("b") + 1) * bucket_ms,
        value=pl.col("value").cum_sum().over(dims) if dims else pl.col("value").cum_sum(),
    )
    # Each series starts at 0 at the start of its first bucket, so that bucket's spend counts in
    # an increase over a window that holds it.
    first_b = per_bucket.group_by(dims).agg(pl.col("b").min()) if dims else per_bucket.select(pl.col("b").min())
    baseline = first_b.select(*dims, timestamp=pl.col("b") * bucket_ms, value=pl.lit(0.0))
    return pl.concat([baseline, cumulative]).sort([*dims, "timestamp"])


class FocusCollector:
    """Reads the export(s) on every ``collect()`` and emits new cumulative spend buckets.

    The context's ``env`` supplies the credentials of an ``s3://`` path (``collectors.object_storage``; read
    once, here). Not thread-safe: the scheduler runs one collect per source at a time.
    """

    def __init__(self, config: FocusConfig, context: CollectorContext) -> None:
        self.name = config.name
        self.config = config
        self._clock = context.clock
        self._where = f"source {config.name!r} ({config.path})"
        self._s3 = S3Access(config.storage_options, context.env) if is_s3(config.path) else None
        self._files = MatchedFiles(config.path, self._s3, config.read_limit)
        self._emitted_until_ms: int | None = None
        self._seen: set[str] = set()
        self._dims = list(dict.fromkeys([*config.group_by, *config.filter]))
        self._raw = sorted({"Tags" if d.startswith("Tags.") else d for d in self._dims})

    def __repr__(self) -> str:
        return f"FocusCollector({self.config.name!r}, path={self.config.path!r})"

    def collect(self) -> CollectResult:
        """Read once. Never raises: every failure is on ``result.health``."""
        return collect_safely(self.name, self._where, self._clock, self._fetch, empty_is_error=False)

    # -- reading -------------------------------------------------------------------------------

    def _uris(self) -> list[str]:
        if _is_remote(self.config.path) and self._s3 is None:
            return [self.config.path]  # another scheme, read by polars itself (no listing)
        entries, storage = self._files.listed()
        return [entry.uri(storage) for entry in entries]

    def _scan(self, path: str) -> pl.LazyFrame:
        return self._files.scan(path, _file_format(self.config, path))

    def _checked_scan(self, path: str) -> pl.LazyFrame:
        """The file's columns this collector uses, typed, with the file name; SourceError naming
        the file and the column when one is missing."""
        cfg = self.config
        try:
            lf = self._scan(path)
            schema = lf.collect_schema()
        except pl.exceptions.NoDataError:
            raise SourceError(f"{path} is empty (no header, no rows)") from None
        except (pl.exceptions.PolarsError, OSError) as exc:
            if "expanded paths were empty" in str(exc):
                raise SourceError(f"no file matches {path}") from None
            raise SourceError(f"cannot read {path}: {_short(exc)}") from None
        needed = ["ChargePeriodStart", "ChargePeriodEnd", "BillingCurrency", cfg.cost_column, *self._raw]
        for col in needed:
            if col not in schema:
                what = "mandatory FOCUS column" if col in _MANDATORY else "column"
                raise SourceError(f"{path} has no {what} {col!r}")
        plain = {d: v for d, v in cfg.filter.items() if not d.startswith("Tags.")}
        if plain:
            lf = lf.filter(pl.all_horizontal([pl.col(d).cast(pl.String).is_in(v) for d, v in plain.items()]))
        cost_raw = pl.col(cfg.cost_column)
        cost = cost_raw.cast(pl.String).str.strip_chars().cast(pl.Float64, strict=False)
        if schema[cfg.cost_column].is_numeric():
            cost = cost_raw.cast(pl.Float64)
        periods: dict[str, pl.Expr] = {}
        for col, key in (("ChargePeriodStart", "start"), ("ChargePeriodEnd", "end")):
            typed = _typed_ms(col, schema[col])
            # Text stays text until after the grouping (see read_grouped); typed columns are exact.
            periods[f"{key}_raw"] = pl.col(col).cast(pl.String) if typed is None else pl.lit(None, pl.String)
            periods[f"{key}_ms"] = pl.lit(None, pl.Int64) if typed is None else typed
        return lf.select(
            file=pl.lit(path),
            **periods,
            currency=pl.col("BillingCurrency").cast(pl.String),
            cost=cost,
            cost_bad=cost.is_null(),
            **{c: pl.col(c).cast(pl.String) for c in self._raw},
        )

    def read_grouped(self) -> pl.DataFrame:
        """All matched rows summed per (file, charge period, currency, raw dimensions), with the
        charge period parsed; raises SourceError for the bad inputs named in the module docstring."""
        cfg = self.config
        if self._s3 is not None:
            self._s3.check()  # a variable named in storage_options is not set: fail before reading
        frames = [self._checked_scan(f) for f in self._uris()]
        lf = pl.concat(frames, how="vertical") if len(frames) > 1 else frames[0]
        # Group on the raw texts first: a month of hourly rows has few distinct periods, so the
        # date parsing below runs on thousands of values, not millions.
        keys = ["file", "start_raw", "end_raw", "start_ms", "end_ms", "currency", *self._raw]
        try:
            grouped = (
                lf.group_by(keys)
                .agg(pl.col("cost").sum(), pl.col("cost_bad").any())
                .with_columns(
                    start_ms=pl.coalesce("start_ms", _parse_iso_ms(pl.col("start_raw"))),
                    end_ms=pl.coalesce("end_ms", _parse_iso_ms(pl.col("end_raw"))),
                )
                .collect()
            )
        except (pl.exceptions.PolarsError, OSError) as exc:
            raise SourceError(f"cannot read {cfg.path}: {_short(exc)}") from None
        if grouped.is_empty():
            what = "after the filter" if cfg.filter else "(header only)"
            raise SourceError(f"no charge rows in {cfg.path} {what}")
        self._check_values(grouped)
        return grouped

    def _check_values(self, grouped: pl.DataFrame) -> None:
        cfg = self.config
        for raw, parsed, column in (("start_raw", "start_ms", "ChargePeriodStart"),
                                    ("end_raw", "end_ms", "ChargePeriodEnd")):
            bad = grouped.filter(pl.col(parsed).is_null())
            if bad.height:
                file, value = bad.row(0, named=True)["file"], bad.row(0, named=True)[raw]
                row = self._row_of(file, pl.col(column).cast(pl.String).eq_missing(value))
                raise SourceError(
                    f"{file}: {column} at row {row} is {value!r}, not an ISO 8601 date (YYYY-MM-DDTHH:MM:SSZ)"
                )
        bad_cost = grouped.filter(pl.col("cost_bad"))
        if bad_cost.height:
            file = bad_cost.row(0, named=True)["file"]
            col = pl.col(cfg.cost_column).cast(pl.String).str.strip_chars()
            is_bad = col.is_null() | col.cast(pl.Float64, strict=False).is_null()
            row = self._row_of(file, is_bad)
            raise SourceError(f"{file}: {cfg.cost_column} at row {row} is not a number (FOCUS costs are never null)")
        found = grouped.group_by("currency").agg(pl.col("file").unique().sort()).sort("currency", nulls_last=True)
        currencies = found.get_column("currency").to_list()
        if currencies != [cfg.currency]:
            listing = "; ".join(
                f"{c if c is not None else '(empty)'} in {', '.join(fs)}" for c, fs in found.iter_rows()
            )
            if len(currencies) > 1:
                raise SourceError(f"mixed billing currencies, nothing converted: {listing}")
            raise SourceError(f"BillingCurrency is not the configured {cfg.currency}: {listing}")

    def _row_of(self, file: str, is_bad: pl.Expr) -> str:
        """The 1-based data row (after the header) of the first row where ``is_bad`` holds."""
        try:
            hit = (
                self._scan(file).with_row_index("row", offset=1).filter(is_bad).select("row").head(1).collect()
            )
        except (pl.exceptions.PolarsError, OSError):
            return "?"
        return str(hit.item()) if hit.height else "?"

    # -- spend ---------------------------------------------------------------------------------

    def _labelled(self, grouped: pl.DataFrame) -> pl.DataFrame:
        """Dimension columns named as labels, tag filters applied."""
        cfg = self.config
        exprs: dict[str, pl.Expr] = {}
        for dim in self._dims:
            if dim.startswith("Tags."):
                key = dim[5:].replace("\\", "\\\\").replace("'", "\\'")
                exprs[dim] = pl.col("Tags").str.json_path_match(f"$['{key}']")
            else:
                exprs[dim] = pl.col(dim)
        frame = grouped.with_columns(**exprs)
        for dim, allowed in cfg.filter.items():
            if dim.startswith("Tags."):
                frame = frame.filter(pl.col(dim).is_in(allowed))
        return frame.select(*cfg.group_by, "start_ms", "end_ms", "cost").with_columns(
            pl.col(d).fill_null("") for d in cfg.group_by
        )

    def _fetch(self, now_ms: int) -> tuple[pl.DataFrame, list[str]]:
        del now_ms  # samples are stamped at bucket ends from the bill, not at the read
        cfg = self.config
        grouped = self.read_grouped()
        labelled = self._labelled(grouped)
        if labelled.is_empty():
            raise SourceError("no charge rows pass the Tags filter")
        spend = self._samples(focus_spend(labelled, bucket_ms=int(cfg.bucket * 1000), dims=cfg.group_by))
        if self._emitted_until_ms is not None:
            new_series = ~pl.col("labels").is_in(list(self._seen))
            spend = spend.filter((pl.col("timestamp") > self._emitted_until_ms) | new_series)
        if spend.is_empty():
            return empty_samples(), []  # healthy: the bill has no bucket newer than the last emitted
        self._emitted_until_ms = max(self._emitted_until_ms or 0, int(spend.get_column("timestamp").max()))  # type: ignore[arg-type]
        self._seen.update(spend.get_column("labels").unique().to_list())
        return spend, []

    def _samples(self, spend: pl.DataFrame) -> pl.DataFrame:
        cfg = self.config
        base = cfg.series_labels()
        names = {d: label_of(d) for d in cfg.group_by}
        series = spend.select(cfg.group_by).unique(maintain_order=True)
        label_text = [
            format_labels({**base, **{names[d]: v for d, v in row.items()}}) for row in series.iter_rows(named=True)
        ]
        lookup = series.with_columns(labels=pl.Series(label_text, dtype=pl.String))
        joined = spend.join(lookup, on=cfg.group_by, how="left") if cfg.group_by else spend.with_columns(
            labels=pl.lit(format_labels(base))
        )
        return joined.select(
            metric=pl.lit(cfg.metric), labels="labels", timestamp="timestamp", value="value"
        ).cast(dict(SAMPLE_SCHEMA))  # type: ignore[arg-type]


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__
