"""The promql collector against a real Prometheus 2.42 serving a backfilled history.

The history (15 s samples over 3 h of ``http_requests_total`` by job, instance and code, ending
two hours ago) is written as OpenMetrics, turned into blocks by ``promtool tsdb
create-blocks-from openmetrics`` and served by ``prometheus`` on 127.0.0.1. Every expected value
below is computed from the formulas that wrote the history, not read back from Prometheus.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import polars as pl
import pytest

from redline.collectors import promql
from redline.collectors.promql import PromQLCollector, PromQLConfig
from redline.kernel.fields import SAMPLE_SCHEMA
from redline.kernel.labels import format_labels
from redline.slo.engine import SLOEvaluator
from redline.slo.spec import SLOSpec
from tests.collectors.context import context
from tests.prometheus_server import run_prometheus

STEP_S = 15
POINTS = 3 * 3600 // STEP_S  # k = 0..720
SUM_BY_CODE = 'sum by (code) (http_requests_total{job="api"})'
MAX_SAMPLES = 20_000
"""Prometheus runs with --query.max-samples at this, so a query loading more is a real 422."""


def _series(k: int) -> dict[tuple[str, str, str], int]:
    """(job, instance, code) → counter value at the k-th sample."""
    return {
        ("api", "a", "200"): 1000 + 7 * k,
        ("api", "b", "200"): 500 + 3 * k,
        ("api", "a", "500"): k // 10,
        ("api", "b", "503"): 2 * (k // 40),
        ("batch", "c", "200"): 100 + k,
    }


def _sum_by_code(k: int) -> dict[str, int]:
    """What ``SUM_BY_CODE`` gives at the k-th sample: 1500 + 10k, k // 10, 2 (k // 40)."""
    out: dict[str, int] = {}
    for (job, _, code), value in _series(k).items():
        if job == "api":
            out[code] = out.get(code, 0) + value
    return out


@dataclass(frozen=True)
class Backend:
    url: str
    start_s: int
    raw: pl.DataFrame
    """The history as Redline would have scraped it (source label added), for the SLI comparison."""


def _openmetrics(start_s: int) -> tuple[str, pl.DataFrame]:
    lines = ["# HELP http_requests Requests served.", "# TYPE http_requests counter"]
    rows: list[tuple[str, str, int, float]] = []
    for k in range(POINTS + 1):
        t = start_s + k * STEP_S
        for (job, inst, code), value in _series(k).items():
            lines.append(f'http_requests_total{{code="{code}",instance="{inst}",job="{job}"}} {value} {t}')
            labels = format_labels({"code": code, "instance": inst, "job": job, "source": "prom"})
            rows.append(("http_requests_total", labels, t * 1000, float(value)))
    lines.append("# EOF")
    return "\n".join(lines) + "\n", pl.DataFrame(rows, schema=SAMPLE_SCHEMA, orient="row")


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    start_s = int(time.time()) // 3600 * 3600 - 5 * 3600
    text, raw = _openmetrics(start_s)
    with run_prometheus(text, tmp_path_factory.mktemp("prom"), [f"--query.max-samples={MAX_SAMPLES}"]) as url:
        yield Backend(url, start_s, raw)


class Clock:
    """Settable time, seconds since the epoch."""

    def __init__(self, now_s: float) -> None:
        self.now_s = now_s

    def __call__(self) -> float:
        return self.now_s


def _config(url: str, queries: list[dict[str, str]], **extra: object) -> PromQLConfig:
    return PromQLConfig.model_validate(
        {"name": "prom", "kind": "promql", "url": url, "queries": queries, "interval": "30s", **extra}
    )


def _code_rows(result_samples: pl.DataFrame) -> list[tuple[str, str, int, float]]:
    return [(m, lb, ts, v) for m, lb, ts, v in result_samples.sort("timestamp", "labels").iter_rows()]


def _expected_sum_rows(record: str, at: list[tuple[int, int]]) -> list[tuple[str, str, int, float]]:
    """Rows of ``SUM_BY_CODE`` recorded as ``record``: ``at`` is (timestamp ms, sample index k)."""
    rows = [
        (record, format_labels({"code": code, "source": "prom", "team": "sre"}), ts_ms, float(value))
        for ts_ms, k in at
        for code, value in _sum_by_code(k).items()
    ]
    return sorted(rows, key=lambda r: (r[2], r[1]))


def test_an_instant_query_stores_each_result_series_under_its_record_name(
    backend: Backend, client: httpx.Client
) -> None:
    at_s = backend.start_s + 480 * STEP_S + 7  # between samples: each series' latest value, k = 480
    cfg = _config(backend.url, [{"record": "api_requests_total", "query": SUM_BY_CODE}], labels={"team": "sre"})
    result = PromQLCollector(cfg, context(Clock(at_s), http=client)).collect()
    assert result.health.ok, result.health.error
    assert result.health.problems == ()
    assert _code_rows(result.samples) == _expected_sum_rows("api_requests_total", [(at_s * 1000, 480)])
    assert _sum_by_code(480) == {"200": 6300, "500": 48, "503": 24}


def test_the_first_collection_backfills_the_lookback_then_each_later_one_is_an_instant_query(
    backend: Backend, client: httpx.Client
) -> None:
    end_s = backend.start_s + 480 * STEP_S
    clock = Clock(end_s)
    cfg = _config(
        backend.url, [{"record": "api_requests_total", "query": SUM_BY_CODE}],
        labels={"team": "sre"}, lookback="1h", step="1m",
    )
    collector = PromQLCollector(cfg, context(clock, http=client))
    first = collector.collect()
    assert first.health.ok, first.health.error
    # 61 points at end - 60 s * j; a minute is 4 samples
    expected = _expected_sum_rows("api_requests_total", [((end_s - 60 * j) * 1000, 480 - 4 * j) for j in range(61)])
    assert first.samples.height == 61 * 3
    assert _code_rows(first.samples) == expected
    clock.now_s = end_s + 30
    second = collector.collect()
    assert second.health.ok, second.health.error
    assert _code_rows(second.samples) == _expected_sum_rows("api_requests_total", [((end_s + 30) * 1000, 482)])


def test_a_backfill_longer_than_one_request_allows_is_split_without_losing_or_repeating_points(
    backend: Backend, client: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(promql, "MAX_POINTS_PER_REQUEST", 7)  # 61 points → 9 requests
    end_s = backend.start_s + 480 * STEP_S
    cfg = _config(
        backend.url, [{"record": "api_requests_total", "query": SUM_BY_CODE}],
        labels={"team": "sre"}, lookback="1h", step="1m",
    )
    result = PromQLCollector(cfg, context(Clock(end_s), http=client)).collect()
    assert result.health.ok, result.health.error
    expected = _expected_sum_rows("api_requests_total", [((end_s - 60 * j) * 1000, 480 - 4 * j) for j in range(61)])
    assert _code_rows(result.samples) == expected


def test_a_scalar_result_is_one_sample_without_labels_and_nan_is_kept_as_nan(
    backend: Backend, client: httpx.Client
) -> None:
    at_s = backend.start_s + 100 * STEP_S
    cfg = _config(
        backend.url,
        [
            {"record": "api_error_share", "query": 'scalar(sum(http_requests_total{job="api",code=~"5.."}))'},
            {"record": "nothing_per_nothing", "query": "0 / 0"},
        ],
    )
    result = PromQLCollector(cfg, context(Clock(at_s), http=client)).collect()
    assert result.health.ok, result.health.error
    rows = {r[0]: r for r in result.samples.iter_rows()}
    assert rows["api_error_share"] == ("api_error_share", 'source="prom"', at_s * 1000, 10.0 + 4.0)
    assert rows["nothing_per_nothing"][:3] == ("nothing_per_nothing", 'source="prom"', at_s * 1000)
    assert math.isnan(rows["nothing_per_nothing"][3])


def test_a_query_prometheus_rejects_fails_alone_and_the_others_samples_are_kept(
    backend: Backend, client: httpx.Client
) -> None:
    at_s = backend.start_s + 480 * STEP_S
    cfg = _config(
        backend.url,
        [
            {"record": "broken", "query": "sum(http_requests_total"},
            {"record": "api_requests_total", "query": SUM_BY_CODE},
            # a 1 s subquery over 3 h holds 5 × 10,800 points: over --query.max-samples, a 422
            {"record": "too_big", "query": "max_over_time(http_requests_total[3h:1s])"},
        ],
        labels={"team": "sre"},
    )
    result = PromQLCollector(cfg, context(Clock(at_s), http=client)).collect()
    health = result.health
    assert not health.ok
    assert health.error is not None
    assert health.error.startswith(
        f"source 'prom' ({backend.url}): 2 of 3 queries failed: "
        "query 'broken' (sum(http_requests_total): HTTP 400 bad_data: "
    )
    assert "query 'too_big' (max_over_time(http_requests_total[3h:1s])): HTTP 422 execution: " in health.error
    assert "query processing would load too many samples into memory" in health.error
    assert _code_rows(result.samples) == _expected_sum_rows("api_requests_total", [(at_s * 1000, 480)])


def test_a_query_matching_nothing_is_reported_not_stored_as_zero(backend: Backend, client: httpx.Client) -> None:
    at_s = backend.start_s + 480 * STEP_S
    cfg = _config(backend.url, [{"record": "gone_total", "query": 'http_requests_total{job="nope"}'}])
    result = PromQLCollector(cfg, context(Clock(at_s), http=client)).collect()
    assert not result.health.ok
    assert result.health.error == (
        f"source 'prom' ({backend.url}): no sample could be read; "
        "query 'gone_total' (http_requests_total{job=\"nope\"}) returned no series"
    )
    assert result.samples.height == 0


def test_recorded_counters_give_the_same_error_ratios_as_the_scraped_counters(
    backend: Backend, client: httpx.Client
) -> None:
    """The documented way to take an objective from PromQL: record ``sum by (code)`` of the counters."""
    end_s = backend.start_s + POINTS * STEP_S
    cfg = _config(
        backend.url, [{"record": "api_requests_total", "query": SUM_BY_CODE}], lookback="3h", step="15s"
    )
    recorded = PromQLCollector(cfg, context(Clock(end_s), http=client)).collect()
    assert recorded.health.ok, recorded.health.error
    assert recorded.samples.height == (POINTS + 1) * 3

    def ratios(errors: str, total: str, samples: pl.DataFrame) -> dict[str, float | None]:
        spec = SLOSpec.model_validate(
            {"name": "api", "objective": 99.9, "sli": {"ratio": {"errors": errors, "total": total}}}
        )
        ev = SLOEvaluator([spec])
        ev.ingest(samples)
        return ev.error_ratios(end_s * 1000 - 60_000, "api")

    from_promql = ratios('api_requests_total{code=~"5.."}', "api_requests_total", recorded.samples)
    from_scrape = ratios(
        'http_requests_total{job="api",code=~"5.."}', 'http_requests_total{job="api"}', backend.raw
    )
    assert from_promql.keys() == from_scrape.keys()
    for window, mine in from_promql.items():
        theirs = from_scrape[window]
        assert mine is not None and theirs is not None, window
        assert mine == pytest.approx(theirs, rel=1e-9), window
    # at k = 716: errors k//10 + 2 (k//40), total 10 k + errors, over (k - window/15 s, k];
    # windows longer than the history see its whole increase from k = 0, each series extended at
    # its start as Prometheus does: the 200s (from 1500) by half an interval (7.5 s of 716 × 15 s),
    # the errors (from 0) not at all (the zero floor)
    whole = (71 + 34) / (7160 * (716 * 15 + 7.5) / (716 * 15) + 71 + 34)
    expected = {
        "5m": 2 / 202, "30m": 18 / 1218, "1h": 36 / 2436, "2h": 72 / 4872,
        "6h": whole, "1d": whole, "3d": whole, "slo": whole,
    }
    assert from_promql == pytest.approx(expected, rel=1e-12)
