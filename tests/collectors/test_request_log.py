"""The request_log collector against real files in tmp_path and on a moto S3 server on 127.0.0.1.

``fixtures/request_log/api_requests.csv`` is an API gateway's request log as such logs are exported
(request id, timestamp, route, method, status, duration in ms, model), with timestamps in the forms
seen in practice: ISO 8601 with ``Z``, an offset or none, and ``YYYY-MM-DD HH:MM:SS``. The
exactness tests build logs of known durations and run Redline's own ``SLOEvaluator`` on the samples.
"""

from __future__ import annotations

import io
import random
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import yaml
from pydantic import ValidationError

from redline.collectors.base import CollectResult
from redline.collectors.request_log import RequestLogCollector, RequestLogConfig, le_text
from redline.kernel.labels import format_labels, parse_labels
from redline.slo.engine import SLOEvaluator
from redline.slo.spec import SLOSpec
from tests.collectors.context import context
from tests.s3_server import s3_server

FIXTURE = Path(__file__).parent.parent / "fixtures" / "request_log" / "api_requests.csv"
EXAMPLE = Path(__file__).parent.parent.parent / "examples" / "sources-request-log.yaml"
MIN = 60_000
T10 = int(datetime(2024, 6, 3, 10, 0, tzinfo=UTC).timestamp() * 1000)  # 2024-06-03T10:00Z, ms
METRIC = "redline_request_duration_seconds"


def _config(path: Path | str, **fields: object) -> RequestLogConfig:
    return RequestLogConfig.model_validate(
        {
            "name": "api",
            "kind": "request_log",
            "path": str(path),
            "timestamp_column": "timestamp",
            "duration_column": "duration_ms",
            "duration_unit": "ms",
            "thresholds": ["100ms", "250ms", "500ms"],
            **fields,
        }
    )


class Clock:
    def __init__(self, ms: int) -> None:
        self.ms = ms

    def __call__(self) -> float:
        return self.ms / 1000


def _table(result: CollectResult, metric: str = f"{METRIC}_bucket") -> dict[tuple[str, int], float]:
    """(le or the labels, timestamp) → value for one metric."""
    out: dict[tuple[str, int], float] = {}
    for row in result.samples.filter(pl.col("metric") == metric).iter_rows(named=True):
        labels = parse_labels(row["labels"])
        out[(labels.get("le", row["labels"]), row["timestamp"])] = row["value"]
    return out


def _latency_spec(threshold: str, selector: str = f'{METRIC}{{source="api"}}') -> SLOSpec:
    return SLOSpec.model_validate(
        {
            "name": f"latency-{threshold}",
            "objective": 99,
            "window": "1d",
            "sli": {"latency": {"histogram": selector, "threshold": threshold}},
        }
    )


def _slis(samples: list[pl.DataFrame], thresholds: list[str], at_ms: int, selector: str | None = None) -> dict[
    str, float | None
]:
    specs = [_latency_spec(t) if selector is None else _latency_spec(t, selector) for t in thresholds]
    ev = SLOEvaluator(specs)
    for batch in samples:
        ev.ingest(batch)
    assert ev.check_series(pl.concat(samples)) == []
    return {r.name.removeprefix("latency-"): r.sli for r in ev.evaluate(at_ms).objectives}


# -- the histogram ------------------------------------------------------------------------------


def test_fixture_log_becomes_a_cumulative_histogram_per_minute_with_both_timestamp_forms() -> None:
    clock = Clock(T10 + 5 * MIN + 10_000)  # 10:05:10: minutes 10:00 … 10:04 are complete
    result = RequestLogCollector(_config(FIXTURE), context(clock)).collect()
    assert result.health.ok, result.health.error
    stamps = [T10 + i * MIN for i in range(6)]  # the 0 at 10:00, then each minute's end
    expected = {  # le=0.1, 0.25, 0.5, +Inf per stamp; 100 ms counts in le=0.1, 250 ms in le=0.25
        "0.1": [0, 1, 2, 2, 3, 3],
        "0.25": [0, 2, 4, 4, 5, 5],
        "0.5": [0, 3, 5, 5, 7, 7],
        "+Inf": [0, 4, 6, 6, 8, 8],
    }
    buckets = {(le, ts): float(v) for le, vs in expected.items() for ts, v in zip(stamps, vs, strict=True)}
    assert _table(result) == buckets
    labels = format_labels({"source": "api"})
    counts = {(labels, ts): float(v) for ts, v in zip(stamps, expected["+Inf"], strict=True)}
    assert _table(result, f"{METRIC}_count") == counts
    sums = _table(result, f"{METRIC}_sum")
    assert [sums[(labels, ts)] for ts in stamps] == pytest.approx(
        [0, 2.227, 2.577, 2.577, 2.83, 2.83], rel=1e-12, abs=1e-12
    )
    assert result.health.samples == 6 * 6


def test_group_by_and_filter_carry_columns_as_labels() -> None:
    clock = Clock(T10 + 5 * MIN)
    config = _config(FIXTURE, group_by=["route", "status"], filter={"method": "POST", "model": "llama-3-8b"},
                     labels={"env": "prod"}, thresholds=["1s"])
    result = RequestLogCollector(config, context(clock)).collect()
    assert result.health.ok, result.health.error
    counts = _table(result, f"{METRIC}_count")
    ok = format_labels({"route": "/v1/chat/completions", "status": "200", "env": "prod", "source": "api"})
    failed = format_labels({"route": "/v1/chat/completions", "status": "500", "env": "prod", "source": "api"})
    assert {k for k, _ in counts} == {ok, failed}  # embeddings filtered out by model
    assert [counts[(ok, T10 + i * MIN)] for i in range(6)] == [0.0, 2.0, 3.0, 3.0, 4.0, 4.0]
    assert [counts[(failed, T10 + i * MIN)] for i in range(6)] == [0.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    les = {parse_labels(lb)["le"] for lb in result.samples.filter(pl.col("metric").str.ends_with("_bucket"))["labels"]}
    assert les == {"1", "+Inf"}


def test_le_is_the_shortest_decimal_of_the_seconds() -> None:
    config = _config(FIXTURE, thresholds=["100ms", "300ms", "1s", "2.5s", 60, "10us"][:-1])
    assert [le_text(t) for t in config.thresholds] == ["0.1", "0.3", "1", "2.5", "60"]
    assert le_text(1e-5) == "1e-05"


# -- exactness ------------------------------------------------------------------------------------


def _random_log(n: int, seed: int, minutes: int, start_ms: int) -> pl.DataFrame:
    rng = random.Random(seed)
    bounds = [100, 250, 500]
    durations = [rng.choice(bounds) if rng.random() < 0.1 else round(rng.lognormvariate(5, 1), 3) for _ in range(n)]
    stamps = [datetime.fromtimestamp((start_ms + rng.randrange(minutes * MIN)) / 1000, UTC) for _ in range(n)]
    routes = [rng.choice(["/a", "/b"]) for _ in range(n)]
    return pl.DataFrame({"timestamp": stamps, "duration_ms": durations, "route": routes})


def _exact(durations_ms: list[float], threshold_s: float) -> float:
    return sum(1 for d in durations_ms if d / 1000 <= threshold_s) / len(durations_ms)


def test_latency_sli_at_every_threshold_equals_the_exact_share_of_durations(tmp_path: Path) -> None:
    log = _random_log(5_000, seed=7, minutes=90, start_ms=T10)
    log.write_parquet(tmp_path / "requests.parquet")
    now = T10 + 95 * MIN
    result = RequestLogCollector(_config(tmp_path / "*.parquet"), context(Clock(now))).collect()
    assert result.health.ok, result.health.error
    slis = _slis([result.samples], ["100ms", "250ms", "500ms"], now)
    durations = log["duration_ms"].to_list()
    for threshold, seconds in (("100ms", 0.1), ("250ms", 0.25), ("500ms", 0.5)):
        sli = slis[threshold]
        assert sli is not None and abs(sli - _exact(durations, seconds)) <= 1e-12, threshold
    # and per route, selecting one group's series
    routed = _config(tmp_path / "*.parquet", group_by=["route"])
    result = RequestLogCollector(routed, context(Clock(now))).collect()
    slis = _slis([result.samples], ["250ms"], now, f'{METRIC}{{source="api",route="/b"}}')
    on_b = log.filter(pl.col("route") == "/b")["duration_ms"].to_list()
    assert abs((slis["250ms"] or 0.0) - _exact(on_b, 0.25)) <= 1e-12


def test_later_collections_emit_new_minutes_only_and_late_events_stay_exact(tmp_path: Path) -> None:
    first = _random_log(2_000, seed=1, minutes=30, start_ms=T10)
    first.write_csv(tmp_path / "part-1.csv")
    clock = Clock(T10 + 30 * MIN + 5_000)
    collector = RequestLogCollector(_config(tmp_path / "*.csv"), context(clock))
    batch1 = collector.collect()
    assert batch1.health.ok, batch1.health.error
    assert batch1.samples["timestamp"].max() == T10 + 30 * MIN

    # ten minutes on: new events, plus late ones for minutes 5 and 29 (already emitted)
    late = pl.DataFrame({"timestamp": [datetime.fromtimestamp((T10 + m * MIN + 1) / 1000, UTC) for m in (5, 29)],
                         "duration_ms": [90.0, 900.0], "route": ["/a", "/a"]})
    new = _random_log(500, seed=2, minutes=10, start_ms=T10 + 30 * MIN)
    pl.concat([late, new]).write_csv(tmp_path / "part-2.csv")
    clock.ms = T10 + 40 * MIN + 5_000
    batch2 = collector.collect()
    assert batch2.health.ok, batch2.health.error
    stamps = sorted(set(batch2.samples["timestamp"].to_list()))
    assert stamps == [T10 + m * MIN for m in range(31, 41)]  # only the new minutes
    inf = _table(batch2)
    new_minute_31 = new.filter(pl.col("timestamp").dt.epoch("ms") < T10 + 31 * MIN).height
    assert inf[("+Inf", T10 + 31 * MIN)] == 2_000 + 2 + new_minute_31  # the late two land in 10:30–10:31

    # nothing new: a healthy empty collection
    batch3 = collector.collect()
    assert batch3.health.ok and batch3.samples.is_empty()

    slis = _slis([batch1.samples, batch2.samples], ["100ms", "250ms", "500ms"], clock.ms)
    durations = [*first["duration_ms"].to_list(), 90.0, 900.0, *new["duration_ms"].to_list()]
    for threshold, seconds in (("100ms", 0.1), ("250ms", 0.25), ("500ms", 0.5)):
        assert abs((slis[threshold] or 0.0) - _exact(durations, seconds)) <= 1e-12, threshold


def test_lookback_bounds_the_first_read_and_series_never_drop_as_it_moves_on(tmp_path: Path) -> None:
    log = pl.DataFrame({
        "timestamp": [datetime.fromtimestamp((T10 + m * MIN) / 1000, UTC) for m in (0, 1, 50, 51)],
        "duration_ms": [10.0, 20.0, 30.0, 40.0],
    })
    log.write_parquet(tmp_path / "log.parquet")
    clock = Clock(T10 + 52 * MIN)
    collector = RequestLogCollector(_config(tmp_path / "log.parquet", lookback="1h"), context(clock))
    first = collector.collect()
    assert _table(first)[("+Inf", T10 + 52 * MIN)] == 4.0
    clock.ms = T10 + 120 * MIN  # minutes 0 and 1 have left the look-back: folded, not dropped
    second = collector.collect()
    assert second.health.ok, second.health.error
    assert set(_table(second).values()) == {4.0}

    clock.ms = T10 + 100 * MIN  # a new collector reads only the last hour: minutes 50 and 51
    fresh = RequestLogCollector(_config(tmp_path / "log.parquet", lookback="1h"), context(clock)).collect()
    assert min(fresh.samples["timestamp"]) == T10 + 50 * MIN
    assert _table(fresh)[("+Inf", T10 + 100 * MIN)] == 2.0


def test_a_removed_file_is_a_problem_and_the_series_do_not_drop(tmp_path: Path) -> None:
    for name, minute in (("a.csv", 0), ("b.csv", 1)):
        pl.DataFrame({"timestamp": [f"2024-06-03 10:0{minute}:30"], "duration_ms": [50]}).write_csv(tmp_path / name)
    clock = Clock(T10 + 3 * MIN)
    collector = RequestLogCollector(_config(tmp_path / "*.csv"), context(clock))
    assert _table(collector.collect())[("+Inf", T10 + 3 * MIN)] == 2.0
    (tmp_path / "a.csv").unlink()
    clock.ms = T10 + 4 * MIN
    result = collector.collect()
    assert result.health.ok
    assert result.health.problems == (
        "1 requests already counted are no longer in the files (removed or rewritten?); "
        "the series continue from their emitted values",
    )
    assert _table(result) == {(le, T10 + 4 * MIN): 2.0 for le in ("0.1", "0.25", "0.5", "+Inf")}


# -- bad input ------------------------------------------------------------------------------------


def test_a_missing_column_names_the_file_and_the_column(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_text("timestamp,latency\n2024-06-03T10:00:00Z,12\n")
    result = RequestLogCollector(_config(path), context(Clock(T10 + 5 * MIN))).collect()
    assert not result.health.ok and result.samples.is_empty()
    assert result.health.error == (
        f"source 'api' ({path}): {path} has no column 'duration_ms' (columns: timestamp, latency)"
    )


@pytest.mark.parametrize(("value", "what"), [("-3", "a negative duration"), ("abc", "not a number"),
                                              ("", "not a number"), ("nan", "not a number")])
def test_a_bad_duration_names_the_column_row_and_value(tmp_path: Path, value: str, what: str) -> None:
    path = tmp_path / "log.csv"
    path.write_text(f"timestamp,duration_ms\n2024-06-03T10:00:00Z,12\n2024-06-03T10:00:01Z,{value}\n")
    collector = RequestLogCollector(_config(path), context(Clock(T10 + 5 * MIN)))
    result = collector.collect()
    assert not result.health.ok and result.samples.is_empty()
    shown = repr(value) if value else "None"
    assert result.health.error == (
        f"source 'api' ({path}): column 'duration_ms' at {path} row 2 holds {shown}: {what}"
    )
    path.write_text("timestamp,duration_ms\n2024-06-03T10:00:00Z,12\n")  # fixed: the next collection is whole
    fixed = collector.collect()
    assert fixed.health.ok and _table(fixed)[("+Inf", T10 + 5 * MIN)] == 1.0


def test_a_negative_duration_in_parquet_names_the_row(tmp_path: Path) -> None:
    path = tmp_path / "log.parquet"
    stamps = [datetime(2024, 6, 3, 10, tzinfo=UTC)] * 3
    pl.DataFrame({"timestamp": stamps, "duration_ms": [1.0, 2.0, -0.5]}).write_parquet(path)
    result = RequestLogCollector(_config(path), context(Clock(T10 + 5 * MIN))).collect()
    assert result.health.error == (
        f"source 'api' ({path}): column 'duration_ms' at {path} row 3 holds '-0.5': a negative duration"
    )


def test_a_timestamp_in_neither_form_names_the_column_row_and_value(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_text("timestamp,duration_ms\n2024-06-03 10:00:00,12\n03/06/2024 10:00,5\n")
    result = RequestLogCollector(_config(path), context(Clock(T10 + 5 * MIN))).collect()
    assert result.health.error == (
        f"source 'api' ({path}): column 'timestamp' at {path} row 2 holds '03/06/2024 10:00', not a timestamp "
        "(expected ISO 8601, 'YYYY-MM-DD HH:MM:SS', epoch seconds/ms or a datetime)"
    )
    assert result.samples.is_empty()


def test_a_glob_matching_nothing_is_an_error_naming_the_glob(tmp_path: Path) -> None:
    result = RequestLogCollector(_config(tmp_path / "*.parquet"), context(Clock(T10))).collect()
    assert result.health.error == f"source 'api' ({tmp_path}/*.parquet): no file matches {tmp_path}/*.parquet"


def test_an_empty_file_is_an_error_alone_and_a_problem_beside_others(tmp_path: Path) -> None:
    empty = tmp_path / "a.csv"
    empty.write_text("")
    result = RequestLogCollector(_config(empty), context(Clock(T10 + 5 * MIN))).collect()
    assert result.health.error == f"source 'api' ({empty}): no events: {empty} is empty (no header, no rows)"
    (tmp_path / "b.csv").write_text("timestamp,duration_ms\n")
    (tmp_path / "c.csv").write_text("timestamp,duration_ms\n2024-06-03T10:00:00Z,12\n")
    result = RequestLogCollector(_config(tmp_path / "*.csv"), context(Clock(T10 + 5 * MIN))).collect()
    assert result.health.ok
    assert result.health.problems == (f"{empty} is empty (no header, no rows)", f"{tmp_path}/b.csv is empty (no rows)")
    assert _table(result)[("+Inf", T10 + 5 * MIN)] == 1.0


def test_no_event_in_the_lookback_is_an_error_not_zeros(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_text("timestamp,duration_ms\n2024-06-03T10:00:00Z,12\n")
    result = RequestLogCollector(_config(path, lookback="1d"), context(Clock(T10 + 3 * 86_400_000))).collect()
    assert result.health.error == f"source 'api' ({path}): no events in the last 1d"
    assert result.samples.is_empty()


@pytest.mark.parametrize(("thresholds", "message"), [
    ([], "thresholds needs at least one duration"),
    (["250ms", "100ms"], "thresholds must be strictly increasing: 100ms follows 250ms"),
    (["250ms", "0.25s"], "thresholds must be strictly increasing: 250ms follows 250ms"),
])
def test_thresholds_empty_or_not_increasing_are_config_errors(thresholds: list[str], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        _config(FIXTURE, thresholds=thresholds)


def test_config_rejects_unknown_suffix_and_reserved_group_labels() -> None:
    with pytest.raises(ValidationError, match="set format: parquet or csv"):
        _config("logs/requests.log")
    assert _config("logs/requests.log", format="csv").file_format == "csv"
    with pytest.raises(ValidationError, match="would clash with the 'le' label"):
        _config(FIXTURE, group_by=["le"])
    with pytest.raises(ValidationError, match="storage_options goes with an s3:// path"):
        _config(FIXTURE, storage_options={"region": "us-east-1"})


# -- s3 ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def s3() -> Iterator[tuple[str, Any]]:
    """A moto S3 server on 127.0.0.1 with bucket ``logs``; yields its endpoint and a boto3 client."""
    with s3_server("logs") as found:
        yield found


def test_s3_glob_is_read_with_storage_options_and_stays_exact(s3: tuple[str, Any]) -> None:
    endpoint, client = s3
    log = _random_log(1_000, seed=3, minutes=20, start_ms=T10)
    for i, part in enumerate((log[:600], log[600:])):
        buffer = io.BytesIO()
        part.write_parquet(buffer)
        client.put_object(Bucket="logs", Key=f"api/date=2024-06-03/part-{i}.parquet", Body=buffer.getvalue())
    storage = {"endpoint_url": endpoint, "region": "us-east-1", "access_key_id_env": "LOG_KEY",
               "secret_access_key_env": "LOG_SECRET"}
    config = _config("s3://logs/api/date=*/*.parquet", storage_options=storage)
    now = T10 + 21 * MIN
    env = {"LOG_KEY": "k", "LOG_SECRET": "s"}
    result = RequestLogCollector(config, context(Clock(now), env=env)).collect()
    assert result.health.ok, result.health.error
    slis = _slis([result.samples], ["250ms"], now)
    assert abs((slis["250ms"] or 0.0) - _exact(log["duration_ms"].to_list(), 0.25)) <= 1e-12

    nothing_there = _config("s3://logs/none/*.parquet", storage_options=storage)
    missing = RequestLogCollector(nothing_there, context(Clock(now), env=env)).collect()
    assert missing.health.error == "source 'api' (s3://logs/none/*.parquet): no file matches s3://logs/none/*.parquet"
    unset = RequestLogCollector(config, context(Clock(now), env={"LOG_KEY": "k"})).collect()
    assert unset.health.error == (
        "source 'api' (s3://logs/api/date=*/*.parquet): "
        "environment variable LOG_SECRET (named in storage_options) is not set"
    )


# -- the example ----------------------------------------------------------------------------------


def test_example_source_entry_validates_and_its_objective_reads_an_emitted_bound() -> None:
    document = yaml.safe_load(EXAMPLE.read_text())
    assert set(document) >= {"agent", "sources", "slos"}
    (entry,) = [s for s in document["sources"] if s["kind"] == "request_log"]
    config = RequestLogConfig.model_validate(entry)
    les = {le_text(t) for t in config.thresholds}
    for slo in document["slos"]:
        spec = SLOSpec.model_validate(slo)
        assert spec.sli.latency is not None
        assert spec.sli.latency.histogram.metric == config.metric
        assert le_text(float(f"{spec.sli.latency.threshold:.12g}")) in les
