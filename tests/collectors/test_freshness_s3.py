"""The freshness source kind on s3:// paths, against moto's S3 server on 127.0.0.1 (uploaded with boto3)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from redline.collectors.base import CollectResult
from redline.collectors.freshness import FreshnessCollector, FreshnessConfig
from tests.collectors.context import context
from tests.s3_server import s3_server

NOW = datetime(2030, 1, 1, tzinfo=UTC).timestamp()
ENV = {"LAKE_KEY": "testing-key", "LAKE_SECRET": "testing-secret"}


@pytest.fixture(scope="module")
def s3() -> Iterator[tuple[str, Any]]:
    """A moto S3 server with bucket ``lake``; yields its endpoint and a boto3 client."""
    with s3_server("lake", ENV["LAKE_KEY"], ENV["LAKE_SECRET"]) as found:
        yield found


def _collect(endpoint: str, env: dict[str, str] = ENV, **fields: object) -> CollectResult:
    config = FreshnessConfig.model_validate(
        {
            "name": "lake",
            "kind": "freshness",
            "storage_options": {
                "endpoint_url": endpoint,
                "region": "us-east-1",
                "access_key_id_env": "LAKE_KEY",
                "secret_access_key_env": "LAKE_SECRET",
            },
            **fields,
        }
    )
    with httpx.Client() as client:
        return FreshnessCollector(config, context(lambda: NOW, env=env, http=client)).collect()


def _single(result: CollectResult) -> dict[str, float]:
    return {row["metric"]: row["value"] for row in result.samples.iter_rows(named=True)}


def _parquet(stamps: list[datetime]) -> bytes:
    buffer = io.BytesIO()
    table = pa.table({"event_time": pa.array(stamps, pa.timestamp("ms", "UTC"))})
    pq.write_table(table, buffer, row_group_size=2)
    return buffer.getvalue()


def test_s3_glob_reports_the_newest_last_modified(s3: tuple[str, Any]) -> None:
    endpoint, client = s3
    for key in ("mtime/date=2024-01-14/a.parquet", "mtime/date=2024-01-15/b.parquet", "mtime/c.csv"):
        client.put_object(Bucket="lake", Key=key, Body=b"x")
    newest = max(
        client.head_object(Bucket="lake", Key=key)["LastModified"].timestamp()
        for key in ("mtime/date=2024-01-14/a.parquet", "mtime/date=2024-01-15/b.parquet")
    )
    result = _collect(endpoint, path="s3://lake/mtime/date=*/*.parquet")
    assert result.health.ok, result.health.error
    assert _single(result) == {
        "redline_data_last_update_timestamp_seconds": newest,
        "redline_data_age_seconds": NOW - newest,
    }


def test_s3_parquet_column_newest_from_statistics_and_strings_by_scan(s3: tuple[str, Any]) -> None:
    endpoint, client = s3
    stamps = [datetime(2024, 1, 15, 9, m, tzinfo=UTC) for m in (10, 40, 20)]
    client.put_object(Bucket="lake", Key="col/part-0.parquet", Body=_parquet(stamps))
    client.put_object(Bucket="lake", Key="col/part-1.parquet", Body=_parquet(stamps[:1]))
    result = _collect(endpoint, path="s3://lake/col/*.parquet", timestamp_column="event_time")
    assert result.health.ok, result.health.error
    newest = datetime(2024, 1, 15, 9, 40, tzinfo=UTC).timestamp()
    assert _single(result) == {
        "redline_data_last_update_timestamp_seconds": newest,
        "redline_data_age_seconds": NOW - newest,
        "redline_data_rows": 4.0,
    }

    buffer = io.BytesIO()
    pl.DataFrame({"event_time": ["2024-01-15 09:00:00", "2024-01-15T09:50:00Z"]}).write_parquet(buffer)
    client.put_object(Bucket="lake", Key="str/part-0.parquet", Body=buffer.getvalue())
    result = _collect(endpoint, path="s3://lake/str/*.parquet", timestamp_column="event_time")
    assert _single(result)["redline_data_last_update_timestamp_seconds"] == datetime(
        2024, 1, 15, 9, 50, tzinfo=UTC
    ).timestamp()


def test_s3_glob_that_matches_nothing_is_an_error_naming_the_glob(s3: tuple[str, Any]) -> None:
    endpoint, _ = s3
    result = _collect(endpoint, path="s3://lake/nothing-here/*.parquet", timestamp_column="event_time")
    assert result.health.error == (
        "source 'lake' (s3://lake/nothing-here/*.parquet, column event_time): "
        "no file matches s3://lake/nothing-here/*.parquet"
    )
    assert result.samples.height == 0


def test_s3_credentials_env_var_that_is_unset_is_named_and_nothing_is_read(s3: tuple[str, Any]) -> None:
    endpoint, _ = s3
    result = _collect(endpoint, env={"LAKE_KEY": "testing-key"}, path="s3://lake/mtime/*.csv")
    assert result.health.error == (
        "source 'lake' (s3://lake/mtime/*.csv): environment variable LAKE_SECRET (named in storage_options) is not set"
    )
