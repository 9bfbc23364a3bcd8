"""The ``freshness`` source kind: how old a pipeline's newest data is.

One config, five modes, chosen by which fields are set (exactly one):

- ``path``: a file or glob, local or ``s3://``; the newest modification time across the matches.
  An ``s3://`` path may set ``storage_options`` (endpoint, region, credentials from environment
  variables; see ``collectors.object_storage``).
- ``path`` + ``timestamp_column``: the newest value of that column in Parquet or CSV files
  (``format`` from the suffix unless set); Parquet row-group statistics where present, else a
  polars lazy scan of the one column (see ``collectors.freshness_files``). Gives a row count.
- ``sql`` + ``database`` (a SQLite file, opened read-only) or ``sql`` + ``url`` (any SQLAlchemy
  URL; needs the optional ``sqlalchemy`` package and the driver): the query's first column of its
  first row is the newest timestamp; an optional second column is a row count.
- ``url`` + ``field``: a field of an HTTP JSON document (``job.last_success``, ``$.jobs[0].end``).
- ``dbt_sources``: dbt's ``target/sources.json``, one series per ``results[]`` entry.

Timestamps may be epoch seconds, ms, µs or ns (told apart by magnitude), ISO 8601 strings, or
native datetimes; naive means UTC (``collectors.freshness_values``).

Emitted per collection, stamped with the collection time:

| metric | type | labels | unit |
|---|---|---|---|
| ``redline_data_last_update_timestamp_seconds`` | gauge | source, configured (dbt: + unique_id, status) | Unix s |
| ``redline_data_age_seconds`` | gauge | as above | seconds: now − newest, 0 if newest is ahead |
| ``redline_data_rows`` | gauge | source, configured | rows: ``timestamp_column``; ``sql`` 2nd column |

A glob yields one series for the newest across all matches, not one per file. Data newer than
the clock (skew) reports age 0 and a problem on the health. The ``timeout`` bounds HTTP and SQLite
queries; a file scan runs to completion. ``body_size_limit`` bounds the HTTP body and the dbt file.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Literal, Self

import polars as pl
from pydantic import field_validator, model_validator

from redline.collectors.base import (
    CollectorContext,
    CollectResult,
    Row,
    SourceSettings,
    bearer_header,
    collect_safely,
    samples_from_rows,
)
from redline.collectors.freshness_files import Newest, list_files, newest_in_column
from redline.collectors.freshness_values import (
    field_value,
    parse_field_path,
    query_sqlalchemy,
    query_sqlite,
    read_dbt_sources,
    shown_db_url,
    to_epoch_seconds,
)
from redline.collectors.http_fetch import fetch_body, shown_url
from redline.collectors.object_storage import (
    ObjectStorageSettings,
    S3Access,
    Storage,
    check_storage_options,
    is_s3,
    local_storage,
)
from redline.kernel.errors import ConfigError, SourceError
from redline.kernel.secrets import Secrets, secret_from_env

__all__ = ["FreshnessCollector", "FreshnessConfig"]

LAST_UPDATE = "redline_data_last_update_timestamp_seconds"
AGE = "redline_data_age_seconds"
ROWS = "redline_data_rows"


class FreshnessConfig(SourceSettings):
    """A freshness source: ``kind: freshness`` and exactly one mode (see the module docstring)."""

    kind: Literal["freshness"]
    path: str | None = None
    timestamp_column: str | None = None
    format: Literal["parquet", "csv"] | None = None
    sql: str | None = None
    database: Path | None = None
    url: str | None = None
    password_env: str | None = None
    """For ``sql`` + ``url``: the database password, set into the URL at connection."""
    field: str | None = None
    bearer_token_env: str | None = None
    """For ``url`` + ``field``: sent as ``Authorization: Bearer …``."""
    dbt_sources: Path | None = None
    storage_options: ObjectStorageSettings | None = None
    """For an ``s3://`` path: endpoint, region and credentials (``collectors.object_storage``)."""

    @field_validator("field")
    @classmethod
    def _field_path(cls, value: str | None) -> str | None:
        if value is not None:
            parse_field_path(value)
        return value

    @model_validator(mode="after")
    def _one_mode(self) -> Self:
        modes = [
            name
            for name, chosen in (
                ("path", self.path is not None),
                ("sql", self.sql is not None),
                ("url + field", self.url is not None and self.sql is None),
                ("dbt_sources", self.dbt_sources is not None),
            )
            if chosen
        ]
        if len(modes) != 1:
            raise ValueError(
                "set exactly one of: path (optionally with timestamp_column), sql with database or url, "
                f"url with field, dbt_sources; got {', '.join(modes) or 'none'}"
            )
        if self.sql is not None and (self.database is None) == (self.url is None):
            raise ValueError("sql needs exactly one of database (a SQLite file) or url (a SQLAlchemy URL)")
        if self.url is not None and self.sql is None and self.field is None:
            raise ValueError("url without sql needs field (the JSON field holding the timestamp)")
        if self.field is not None and (self.url is None or self.sql is not None):
            raise ValueError("field goes with url (an HTTP JSON document)")
        if self.timestamp_column is not None and self.path is None:
            raise ValueError("timestamp_column goes with path")
        if self.database is not None and self.sql is None:
            raise ValueError("database goes with sql")
        if self.format is not None and self.timestamp_column is None:
            raise ValueError("format goes with path + timestamp_column")
        if self.timestamp_column is not None and self.format is None:
            suffix = self.path.lower().rsplit(".", 1)[-1] if self.path else ""
            if suffix not in ("parquet", "pq", "csv"):
                raise ValueError("cannot tell Parquet from CSV by the path's suffix; set format: parquet or csv")
        if self.password_env is not None and (self.sql is None or self.url is None):
            raise ValueError("password_env goes with sql + url (a SQLAlchemy URL)")
        if self.bearer_token_env is not None and self.field is None:
            raise ValueError("bearer_token_env goes with url + field (an HTTP JSON document)")
        check_storage_options(self.path or "", self.storage_options)
        return self

    @property
    def file_format(self) -> Literal["parquet", "csv"]:
        """The format of ``path`` in ``timestamp_column`` mode."""
        if self.format is not None:
            return self.format
        return "csv" if (self.path or "").lower().endswith(".csv") else "parquet"

    def where(self) -> str:
        """``source 'x' (the input)`` for every error."""
        if self.path is not None:
            column = f", column {self.timestamp_column}" if self.timestamp_column else ""
            return f"source {self.name!r} ({self.path}{column})"
        if self.sql is not None:
            on = str(self.database) if self.database is not None else shown_db_url(self.url or "")
            return f"source {self.name!r} (query {self.sql!r} on {on})"
        if self.url is not None:
            return f"source {self.name!r} ({shown_url(self.url)}, field {self.field})"
        return f"source {self.name!r} ({self.dbt_sources})"


class FreshnessCollector:
    """Reads one freshness source per ``collect()``; never raises (errors go to the health).

    The context's ``env`` supplies the secrets named by ``*_env`` fields (and the standard AWS
    variables), read here once; nothing else is read at construction (but a ``<VAR>_FILE`` secret).
    """

    def __init__(self, config: FreshnessConfig, context: CollectorContext) -> None:
        self.name = config.name
        self.config = config
        self._client = context.http
        self._clock = context.clock
        self._where = config.where()
        env = context.env
        self._s3 = S3Access(config.storage_options, env) if is_s3(config.path or "") else None
        self._headers = Secrets({"Accept": "application/json"})
        self._password = Secrets()
        self._setup_error: str | None = None
        try:
            if config.bearer_token_env is not None:
                self._headers |= bearer_header(config.bearer_token_env, env)
            if config.password_env is not None:
                self._password["password"] = secret_from_env(config.password_env, env, where="password_env")
        except ConfigError as exc:
            self._setup_error = str(exc)
        self._storage: Storage | None = None

    def collect(self) -> CollectResult:
        """Read the newest timestamp once. Never raises: every failure is on ``result.health``."""
        return collect_safely(self.name, self._where, self._clock, self._fetch)

    def _fetch(self, now_ms: int) -> tuple[pl.DataFrame, list[str]]:
        if self._setup_error is not None:
            raise SourceError(self._setup_error)
        cfg = self.config
        if cfg.dbt_sources is not None:
            return self._dbt(cfg.dbt_sources, now_ms)
        newest = self._newest()
        problems: list[str] = []
        rows = self._rows(newest.seconds, now_ms, {}, problems)
        if newest.rows is not None:
            rows.append((ROWS, {}, now_ms, float(newest.rows)))
        return samples_from_rows(rows, cfg.series_labels()), problems

    def _newest(self) -> Newest:
        cfg = self.config
        if cfg.path is not None:
            if self._storage is None:
                self._storage = self._s3.storage() if self._s3 is not None else local_storage()
            entries = list_files(cfg.path, self._storage)
            if cfg.timestamp_column is None:
                return Newest(max(entry.mtime_s for entry in entries))
            return newest_in_column(entries, cfg.timestamp_column, cfg.file_format, self._storage)
        if cfg.sql is not None:
            if cfg.database is not None:
                row = query_sqlite(cfg.database, cfg.sql, cfg.timeout_s)
            else:
                row = query_sqlalchemy(cfg.url or "", self._password.get("password"), cfg.sql)
            rows = None
            if row.rows is not None:
                if isinstance(row.rows, bool) or not isinstance(row.rows, int | float):
                    raise SourceError(f"the second column (row count) is {row.rows!r}, not a number")
                rows = int(row.rows)
            return Newest(to_epoch_seconds(row.newest, "the query's first column"), rows)
        assert cfg.url is not None and cfg.field is not None
        document = fetch_body(
            self._client, cfg.url, timeout_s=cfg.timeout_s, max_bytes=cfg.read_limit, headers=self._headers
        ).json()
        value = field_value(document, parse_field_path(cfg.field), cfg.field)
        return Newest(to_epoch_seconds(value, f"field {cfg.field!r}"))

    def _rows(self, newest_s: float, now_ms: int, labels: Mapping[str, str], problems: list[str]) -> list[Row]:
        age = now_ms / 1000 - newest_s
        if age < 0:
            where = f" ({labels['unique_id']})" if "unique_id" in labels else ""
            problems.append(f"newest data{where} is {-age:.3f}s in the future (clock skew?); age reported as 0")
            age = 0.0
        return [(LAST_UPDATE, labels, now_ms, newest_s), (AGE, labels, now_ms, age)]

    def _dbt(self, path: Path, now_ms: int) -> tuple[pl.DataFrame, list[str]]:
        results, problems = read_dbt_sources(path, self.config.read_limit)
        rows: list[Row] = []
        for result in results:
            labels = {"unique_id": result.unique_id, "status": result.status}
            rows.extend(self._rows(result.max_loaded_at_s, now_ms, labels, problems))
        return samples_from_rows(rows, self.config.series_labels()), problems
