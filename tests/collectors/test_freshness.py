"""The freshness source kind on real files, a real SQLite database and a real HTTP server on 127.0.0.1.

The dbt and Airflow documents under tests/fixtures/freshness/ are real-shaped (dbt 1.7
``sources.json`` v3; Airflow's ``/api/v1/dags/{id}/dagRuns`` answer): no dbt or scheduler runs here.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import httpx
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from pydantic import ValidationError

from redline.collectors.base import CollectResult
from redline.collectors.freshness import FreshnessCollector, FreshnessConfig
from redline.collectors.freshness_files import FileEntry, check_total_size
from redline.kernel.errors import SourceError
from redline.kernel.labels import parse_labels
from tests.collectors.context import context
from tests.collectors.http_target import send, serve

FIXTURES = Path(__file__).parent.parent / "fixtures" / "freshness"
NOW = datetime(2024, 1, 15, 10, 10, tzinfo=UTC).timestamp()  # 1705313400


def _collect(client: httpx.Client, **fields: object) -> CollectResult:
    config = FreshnessConfig.model_validate({"name": "events", "kind": "freshness", **fields})
    return FreshnessCollector(config, context(lambda: NOW, http=client)).collect()


def _values(result: CollectResult) -> dict[tuple[str, str], float]:
    return {(row["metric"], row["labels"]): row["value"] for row in result.samples.iter_rows(named=True)}


def _single(result: CollectResult) -> dict[str, float]:
    return {row["metric"]: row["value"] for row in result.samples.iter_rows(named=True)}


def _ts(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


# ---------------------------------------------------------------------------------------------
# Config


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"path": "a.parquet", "dbt_sources": "s.json"},
        {"sql": "SELECT 1"},
        {"sql": "SELECT 1", "database": "a.db", "url": "sqlite:///a.db"},
        {"url": "http://127.0.0.1/x"},
        {"timestamp_column": "t", "dbt_sources": "s.json"},
        {"path": "data/events.txt", "timestamp_column": "t"},
        {"path": "data/*.parquet", "storage_options": {"region": "eu-west-1"}},
        {"url": "http://127.0.0.1/x", "field": "a..b["},
        {"path": "a.parquet", "bearer_token_env": "TOKEN"},
        {"sql": "SELECT 1", "database": "a.db", "password_env": "PW"},
    ],
)
def test_config_rejects_anything_but_exactly_one_mode(fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        FreshnessConfig.model_validate({"name": "x", "kind": "freshness", **fields})


def test_every_source_of_the_example_config_validates() -> None:
    document = yaml.safe_load((Path(__file__).parents[2] / "examples" / "sources-freshness.yaml").read_text())
    configs = [FreshnessConfig.model_validate(source) for source in document["sources"]]
    assert [c.name for c in configs] == [
        "raw-events-files",
        "features-parquet",
        "orders-csv",
        "warehouse-sqlite",
        "warehouse-postgres",
        "scheduler-last-success",
        "dbt-sources",
        "lake-events",
    ]
    assert configs[1].file_format == "parquet" and configs[2].file_format == "csv"


# ---------------------------------------------------------------------------------------------
# Files by modification time


def test_glob_reports_the_newest_modification_time_as_one_series(tmp_path: Path, client: httpx.Client) -> None:
    for name, mtime in (("a.parquet", NOW - 900), ("b.parquet", NOW - 120.5), ("c.csv", NOW - 10)):
        (tmp_path / name).write_bytes(b"x")
        os.utime(tmp_path / name, (mtime, mtime))
    result = _collect(client, path=str(tmp_path / "*.parquet"), labels={"team": "data"})
    assert result.health.ok, result.health.error
    labels = 'source="events",team="data"'
    assert _values(result) == {
        ("redline_data_last_update_timestamp_seconds", labels): NOW - 120.5,
        ("redline_data_age_seconds", labels): 120.5,
    }
    assert result.samples["timestamp"].to_list() == [int(NOW * 1000)] * 2


def test_a_glob_that_matches_no_files_is_an_error_naming_the_glob(tmp_path: Path, client: httpx.Client) -> None:
    (tmp_path / "a.csv").write_bytes(b"x")
    pattern = str(tmp_path / "*.parquet")
    result = _collect(client, path=pattern, timestamp_column="event_time")
    assert not result.health.ok
    assert result.health.error == f"source 'events' ({pattern}, column event_time): no file matches {pattern}"
    assert result.samples.height == 0


def test_a_file_newer_than_now_reports_age_zero_and_a_skew_problem(tmp_path: Path, client: httpx.Client) -> None:
    (tmp_path / "a.parquet").write_bytes(b"x")
    os.utime(tmp_path / "a.parquet", (NOW + 30, NOW + 30))
    result = _collect(client, path=str(tmp_path / "a.parquet"))
    assert result.health.ok
    assert _single(result) == {
        "redline_data_last_update_timestamp_seconds": NOW + 30,
        "redline_data_age_seconds": 0.0,
    }
    assert result.health.problems == ("newest data is 30.000s in the future (clock skew?); age reported as 0",)


# ---------------------------------------------------------------------------------------------
# Newest value of a column


def _write_events(path: Path, stamps: list[datetime], *, statistics: bool = True, rows_per_group: int = 2) -> None:
    table = pa.table({"event_time": pa.array(stamps, pa.timestamp("us", "UTC")), "v": list(range(len(stamps)))})
    pq.write_table(table, path, row_group_size=rows_per_group, write_statistics=statistics)


def test_parquet_newest_comes_from_row_group_statistics_and_rows_from_footers(
    tmp_path: Path, client: httpx.Client
) -> None:
    _write_events(tmp_path / "a.parquet", [datetime(2024, 1, 15, 9, m, tzinfo=UTC) for m in (1, 5, 3, 2, 4)])
    _write_events(tmp_path / "b.parquet", [datetime(2024, 1, 15, 10, 0, 7, 250000, tzinfo=UTC)] * 3)
    result = _collect(client, path=str(tmp_path / "*.parquet"), timestamp_column="event_time")
    assert result.health.ok, result.health.error
    newest = _ts("2024-01-15T10:00:07.250")
    assert _single(result) == {
        "redline_data_last_update_timestamp_seconds": newest,
        "redline_data_age_seconds": NOW - newest,
        "redline_data_rows": 8.0,
    }


def test_parquet_without_statistics_is_scanned_for_the_same_answer(tmp_path: Path, client: httpx.Client) -> None:
    _write_events(tmp_path / "a.parquet", [datetime(2024, 1, 15, 9, m, tzinfo=UTC) for m in (1, 5, 3)])
    _write_events(tmp_path / "b.parquet", [datetime(2024, 1, 15, 9, 58, tzinfo=UTC)], statistics=False)
    assert pq.ParquetFile(tmp_path / "b.parquet").metadata.row_group(0).column(0).statistics is None
    result = _collect(client, path=str(tmp_path / "*.parquet"), timestamp_column="event_time")
    assert _single(result)["redline_data_last_update_timestamp_seconds"] == _ts("2024-01-15T09:58:00")
    assert _single(result)["redline_data_rows"] == 4.0


def test_strings_in_iso_8601_and_sql_form_are_both_read_as_utc(tmp_path: Path, client: httpx.Client) -> None:
    values = ["2024-01-15T09:00:00Z", "2024-01-15 09:59:30", "2024-01-15T11:59:45.5+02:00", None]
    pl.DataFrame({"event_time": values}).write_parquet(tmp_path / "events.parquet")
    result = _collect(client, path=str(tmp_path / "events.parquet"), timestamp_column="event_time")
    assert result.health.ok, result.health.error
    assert _single(result) == {
        "redline_data_last_update_timestamp_seconds": _ts("2024-01-15T09:59:45.5"),
        "redline_data_age_seconds": NOW - _ts("2024-01-15T09:59:45.5"),
        "redline_data_rows": 4.0,
    }


def test_a_string_in_a_third_format_is_an_error_naming_the_column_and_the_value(
    tmp_path: Path, client: httpx.Client
) -> None:
    values = ["2024-01-15T09:00:00Z", "15/01/2024 09:30", "2024-01-15 09:59:30"]
    pl.DataFrame({"event_time": values}).write_csv(tmp_path / "events.csv")
    result = _collect(client, path=str(tmp_path / "events.csv"), timestamp_column="event_time")
    assert result.health.error == (
        f"source 'events' ({tmp_path / 'events.csv'}, column event_time): column 'event_time' holds 1 strings "
        "that are neither ISO 8601 nor 'YYYY-MM-DD HH:MM:SS', e.g. '15/01/2024 09:30'"
    )
    assert result.samples.height == 0


def test_a_missing_column_is_an_error_naming_it_and_the_file(tmp_path: Path, client: httpx.Client) -> None:
    _write_events(tmp_path / "a.parquet", [datetime(2024, 1, 15, 9, tzinfo=UTC)])
    result = _collect(client, path=str(tmp_path / "a.parquet"), timestamp_column="loaded_at")
    assert result.health.error == (
        f"source 'events' ({tmp_path / 'a.parquet'}, column loaded_at): column 'loaded_at' not found in "
        f"{tmp_path / 'a.parquet'} (columns: event_time, v)"
    )
    assert result.samples.height == 0


def test_csv_epoch_milliseconds_are_told_from_seconds_by_magnitude(tmp_path: Path, client: httpx.Client) -> None:
    (tmp_path / "orders.csv").write_text("id,loaded_at\n1,1705309200000\n2,1705312800123\n3,1705311000000\n")
    result = _collect(client, path=str(tmp_path / "orders.csv"), timestamp_column="loaded_at")
    assert _single(result) == {
        "redline_data_last_update_timestamp_seconds": 1705312800.123,
        "redline_data_age_seconds": pytest.approx(NOW - 1705312800.123),
        "redline_data_rows": 3.0,
    }


def test_a_column_with_no_values_is_reported_as_no_data_not_zero(tmp_path: Path, client: httpx.Client) -> None:
    pl.DataFrame({"event_time": [None, None]}, schema={"event_time": pl.Datetime("us")}).write_parquet(
        tmp_path / "a.parquet"
    )
    result = _collect(client, path=str(tmp_path / "a.parquet"), timestamp_column="event_time")
    assert result.health.error is not None
    assert result.health.error.endswith("column 'event_time' has no value in 1 files (2 rows)")
    assert result.samples.height == 0


# ---------------------------------------------------------------------------------------------
# SQL


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    path = tmp_path / "warehouse.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE loads (loaded_at TEXT, n INTEGER)")
        db.executemany("INSERT INTO loads VALUES (?, ?)", [("2024-01-15 09:00:00", 10), ("2024-01-15 09:55:00", 5)])
        db.execute("CREATE TABLE empty (loaded_at TEXT)")
    db.close()
    return path


def test_sqlite_query_gives_the_newest_timestamp_and_a_row_count(warehouse: Path, client: httpx.Client) -> None:
    result = _collect(client, sql="SELECT max(loaded_at), sum(n) FROM loads", database=str(warehouse))
    assert result.health.ok, result.health.error
    assert _single(result) == {
        "redline_data_last_update_timestamp_seconds": _ts("2024-01-15T09:55:00"),
        "redline_data_age_seconds": 900.0,
        "redline_data_rows": 15.0,
    }


@pytest.mark.parametrize(
    ("sql", "why"),
    [
        ("SELECT loaded_at FROM empty", "query returned no row"),
        ("SELECT max(loaded_at) FROM empty", "query returned NULL (no data yet, or an empty table?)"),
        ("DELETE FROM loads", "query failed: attempt to write a readonly database"),
    ],
)
def test_sqlite_no_row_null_or_a_write_is_an_error_naming_the_query(
    warehouse: Path, client: httpx.Client, sql: str, why: str
) -> None:
    result = _collect(client, sql=sql, database=str(warehouse))
    assert result.health.error == f"source 'events' (query {sql!r} on {warehouse}): {why}"
    assert result.samples.height == 0
    with sqlite3.connect(warehouse) as db:
        assert db.execute("SELECT count(*) FROM loads").fetchone() == (2,)
    db.close()


def test_sqlalchemy_url_reads_the_same_database(warehouse: Path, client: httpx.Client) -> None:
    result = _collect(client, sql="SELECT max(loaded_at) FROM loads", url=f"sqlite:///{warehouse}")
    assert _single(result) == {
        "redline_data_last_update_timestamp_seconds": _ts("2024-01-15T09:55:00"),
        "redline_data_age_seconds": 900.0,
    }


def test_sqlalchemy_url_without_the_package_names_the_package(
    warehouse: Path, client: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "sqlalchemy", None)  # what `import sqlalchemy` sees when it is not installed
    result = _collect(client, sql="SELECT 1", url="postgresql://app:hunter2@db.internal/warehouse")
    assert result.health.error is not None
    assert result.health.error.startswith(
        "source 'events' (query 'SELECT 1' on postgresql://app:***@db.internal/warehouse): "
        "a SQLAlchemy URL needs the optional package 'sqlalchemy'"
    )
    assert "hunter2" not in result.health.error


# ---------------------------------------------------------------------------------------------
# HTTP JSON field


def _json_server(document: object, seen: list[str | None] | None = None) -> AbstractContextManager[str]:
    def respond(handler: BaseHTTPRequestHandler) -> None:
        if seen is not None:
            seen.append(handler.headers.get("Authorization"))
        send(handler, 200, json.dumps(document).encode(), "application/json")

    return serve(respond)


def test_http_field_from_a_scheduler_api_with_a_bearer_token_from_the_environment(client: httpx.Client) -> None:
    document = json.loads((FIXTURES / "airflow_dag_runs.json").read_text())
    seen: list[str | None] = []
    with _json_server(document, seen) as base:
        config = FreshnessConfig.model_validate(
            {
                "name": "features",
                "kind": "freshness",
                "url": f"{base}/api/v1/dags/features_daily/dagRuns",
                "field": "$.dag_runs[0].end_date",
                "bearer_token_env": "AIRFLOW_TOKEN",
            }
        )
        collector = FreshnessCollector(config, context(lambda: NOW, env={"AIRFLOW_TOKEN": "s3cr3t"}, http=client))
        result = collector.collect()
    assert seen == ["Bearer s3cr3t"]
    newest = _ts("2024-01-15T10:02:41.377514")
    assert _single(result) == {
        "redline_data_last_update_timestamp_seconds": newest,
        "redline_data_age_seconds": pytest.approx(NOW - newest),
    }
    assert "s3cr3t" not in repr(collector.__dict__)


def test_an_empty_token_variable_is_an_error_naming_it_and_nothing_is_requested(client: httpx.Client) -> None:
    seen: list[str | None] = []
    with _json_server({"end_date": "2024-01-15T10:02:41Z"}, seen) as base:
        config = FreshnessConfig.model_validate(
            {"name": "features", "kind": "freshness", "url": f"{base}/runs", "field": "$.end_date",
             "bearer_token_env": "AIRFLOW_TOKEN"}
        )
        result = FreshnessCollector(config, context(lambda: NOW, env={"AIRFLOW_TOKEN": ""}, http=client)).collect()
    assert result.health.error == (
        f"source 'features' ({base}/runs, field $.end_date): environment variable AIRFLOW_TOKEN "
        "(named by bearer_token_env) is not set (nor AIRFLOW_TOKEN_FILE)"
    )
    assert seen == [] and result.samples.is_empty()


def test_an_empty_password_variable_is_an_error_naming_it(client: httpx.Client) -> None:
    config = FreshnessConfig.model_validate(
        {"name": "warehouse", "kind": "freshness", "sql": "SELECT max(ts) FROM t",
         "url": "postgresql://reader@127.0.0.1:1/db", "password_env": "WAREHOUSE_PW"}
    )
    result = FreshnessCollector(config, context(lambda: NOW, env={"WAREHOUSE_PW": ""}, http=client)).collect()
    assert result.health.error is not None
    assert result.health.error.endswith(
        ": environment variable WAREHOUSE_PW (named by password_env) is not set (nor WAREHOUSE_PW_FILE)"
    )
    assert result.health.error.startswith("source 'warehouse' (")
    assert result.samples.is_empty()


@pytest.mark.parametrize(
    ("field", "expected"),
    [("job.finished_ms", 1705312800.5), ("job.finished_s", 1705312800.0), ("job.finished_iso", 1705312800.0)],
)
def test_http_field_accepts_epoch_seconds_milliseconds_and_iso(
    client: httpx.Client, field: str, expected: float
) -> None:
    document = {"job": {"finished_ms": 1705312800500, "finished_s": 1705312800, "finished_iso": "2024-01-15T10:00Z"}}
    with _json_server(document) as base:
        result = _collect(client, url=f"{base}/status", field=field)
    assert _single(result)["redline_data_last_update_timestamp_seconds"] == expected


@pytest.mark.parametrize(
    ("field", "why"),
    [
        ("job.finished_at", "field 'job.finished_at' not found: no key 'finished_at' at job (keys: state)"),
        ("job.state", "field 'job.state' holds 'success', not a timestamp (expected epoch seconds/ms, or ISO 8601 "
         "such as 2024-01-15T10:00:00Z)"),
    ],
)
def test_http_field_missing_or_not_a_timestamp_is_an_error_naming_field_and_url(
    client: httpx.Client, field: str, why: str
) -> None:
    with _json_server({"job": {"state": "success"}}) as base:
        result = _collect(client, url=f"{base}/status", field=field)
    assert result.health.error == f"source 'events' ({base}/status, field {field}): {why}"
    assert result.samples.height == 0


# ---------------------------------------------------------------------------------------------
# dbt


def test_dbt_sources_give_one_series_per_result_and_runtime_errors_as_problems(client: httpx.Client) -> None:
    result = _collect(client, dbt_sources=str(FIXTURES / "sources.json"), labels={"project": "jaffle_shop"})
    assert result.health.ok
    orders = 'project="jaffle_shop",source="events",status="pass",unique_id="source.jaffle_shop.jaffle_shop.orders"'
    payments = 'project="jaffle_shop",source="events",status="warn",unique_id="source.jaffle_shop.stripe.payments"'
    assert _values(result) == {
        ("redline_data_last_update_timestamp_seconds", orders): _ts("2024-01-15T09:58:00"),
        ("redline_data_age_seconds", orders): 720.0,
        ("redline_data_last_update_timestamp_seconds", payments): _ts("2024-01-14T20:00:00.5"),
        ("redline_data_age_seconds", payments): 50999.5,
    }
    assert parse_labels(orders)["unique_id"] == "source.jaffle_shop.jaffle_shop.orders"
    assert result.health.problems == (
        "source.jaffle_shop.crm.customers: status 'runtime error', no max_loaded_at: "
        "Database Error in source customers (models/staging/sources.yml)",
    )


def test_dbt_sources_without_results_is_an_error_naming_the_file(client: httpx.Client) -> None:
    path = FIXTURES / "sources_no_results.json"
    result = _collect(client, dbt_sources=str(path))
    assert result.health.error == (
        f"source 'events' ({path}): no 'results' in the file (not the output of `dbt source freshness`?)"
    )
    assert result.samples.height == 0


def test_a_failing_source_leaves_another_source_collected_alongside_it_untouched(
    tmp_path: Path, client: httpx.Client
) -> None:
    (tmp_path / "a.parquet").write_bytes(b"x")
    os.utime(tmp_path / "a.parquet", (NOW - 60, NOW - 60))
    bad = _collect(client, dbt_sources=str(FIXTURES / "sources_no_results.json"))
    good = _collect(client, path=str(tmp_path / "a.parquet"))
    assert not bad.health.ok and good.health.ok
    assert _single(good)["redline_data_age_seconds"] == 60.0


def test_a_file_whose_size_the_listing_did_not_give_is_refused_naming_it() -> None:
    """max_bytes cannot be kept to without a size: the file is named, nothing is read."""
    with pytest.raises(SourceError, match=r"the size of bucket/x.csv is not known \(the listing gave none\)"):
        check_total_size([FileEntry("bucket/x.csv", 0.0, None)], 1000)
    check_total_size([FileEntry("bucket/y.csv", 0.0, 1000)], 1000)  # at the limit: fine
