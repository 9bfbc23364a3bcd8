"""Redline's error ratios and increase() against a real Prometheus 2.42 on the same history.

The history (15 s scrapes over 6 h, ending an hour ago) is backfilled with
``promtool tsdb create-blocks-from openmetrics``; Prometheus then serves it on 127.0.0.1.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import polars as pl
import pytest

from redline.kernel.fields import SAMPLE_SCHEMA
from redline.kernel.units import parse_duration
from redline.slo.engine import SLOEvaluator
from redline.slo.series.increase import increase
from redline.slo.spec import BURN_WINDOWS, SLOSpec
from tests.prometheus_server import api_data, run_prometheus

STEP_S = 15
HOURS = 6
INCIDENT = (3 * 3600, 3 * 3600 + 1800)
RESET_AT = 4 * 3600  # instance b restarts: its counters start again from 0
GAP = (4 * 3600 + 1800, 4 * 3600 + 2400)  # ten minutes without scrapes
JOB_BORN = 3 * 3600 + 600  # a counter that appears mid-history at 1 (zero-start limit)


@dataclass
class History:
    start_s: int
    text: str
    frame: pl.DataFrame


def _build_history(start_s: int) -> tuple[str, pl.DataFrame]:
    rng = random.Random(42)
    counters = {("200", "a"): 5000.0, ("200", "b"): 3000.0, ("500", "a"): 40.0, ("500", "b"): 25.0}
    jobs = 0.0
    series: dict[tuple[str, str], list[tuple[int, float]]] = {k: [] for k in counters}
    job_series: list[tuple[int, float]] = []
    for off in range(0, HOURS * 3600 + 1, STEP_S):
        if off > 0:
            for (code, inst), value in counters.items():
                if code == "200":
                    step = rng.randint(80, 120) if inst == "a" else rng.randint(40, 60)
                else:
                    step = rng.randint(0, 2)
                    if code == "500" and inst == "a" and INCIDENT[0] <= off < INCIDENT[1]:
                        step += rng.randint(30, 50)
                counters[(code, inst)] = value + step
            if off == RESET_AT:
                for key in counters:
                    if key[1] == "b":
                        counters[key] = float(rng.randint(0, 3))
            if off >= JOB_BORN:
                jobs = 1.0 if off == JOB_BORN else jobs + 1  # zero point 15 s before birth
        if GAP[0] <= off < GAP[1]:
            continue
        for key, value in counters.items():
            series[key].append((start_s + off, value))
        if off >= JOB_BORN:
            job_series.append((start_s + off, jobs))
    lines = ["# HELP requests Requests served.", "# TYPE requests counter"]
    rows: list[tuple[str, str, int, float]] = []
    for (code, inst), points in series.items():
        labels = f'code="{code}",instance="{inst}"'
        for t, v in points:
            lines.append(f"requests_total{{{labels}}} {v:.1f} {t}")
            rows.append(("requests_total", labels, t * 1000, v))
    lines += ["# HELP jobs Jobs run.", "# TYPE jobs counter"]
    for t, v in job_series:
        lines.append(f'jobs_total{{instance="a"}} {v:.1f} {t}')
        rows.append(("jobs_total", 'instance="a"', t * 1000, v))
    lines.append("# EOF")
    return "\n".join(lines) + "\n", pl.DataFrame(rows, schema=SAMPLE_SCHEMA, orient="row")


@dataclass
class PromServer:
    url: str
    client: httpx.Client

    def query(self, expr: str, at_s: float) -> float | None:
        result = api_data(self.client, self.url, "/api/v1/query", query=expr, time=f"{at_s:.3f}")["result"]
        if not result:
            return None
        value = float(result[0]["value"][1])
        return None if math.isnan(value) else value


@pytest.fixture(scope="module")
def history() -> History:
    end = int(time.time()) // 3600 * 3600 - 3600
    start = end - HOURS * 3600
    text, frame = _build_history(start)
    return History(start, text, frame)


@pytest.fixture(scope="module")
def prometheus(history: History, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PromServer]:
    with run_prometheus(history.text, tmp_path_factory.mktemp("prom")) as url, httpx.Client(timeout=10.0) as client:
        yield PromServer(url, client)


def _evaluation_offsets() -> list[int]:
    return [
        INCIDENT[0] + 600,  # during the incident
        INCIDENT[1] - 60,
        INCIDENT[1] + 240,  # incident just over: the 5m window straddles its end
        RESET_AT + 30,  # right after the counter reset
        RESET_AT + 120,
        GAP[0] + 370,  # inside the gap: the 5m window holds no samples
        GAP[1] + 15,  # just after the gap
        GAP[1] + 45,
        GAP[1] + 200,
        HOURS * 3600,
        HOURS * 3600 - 7,  # between scrapes
    ]


def test_error_ratios_match_prometheus_within_one_percent(history: History, prometheus: PromServer) -> None:
    spec = SLOSpec.model_validate(
        {
            "name": "api",
            "objective": 99.9,
            "sli": {"ratio": {"errors": 'requests_total{code=~"5.."}', "total": "requests_total"}},
        }
    )
    ev = SLOEvaluator([spec])
    ev.ingest(history.frame)
    compared = 0
    for off in _evaluation_offsets():
        at_s = history.start_s + off
        ours = ev.error_ratios(at_s * 1000, "api")
        for w in BURN_WINDOWS:
            theirs = prometheus.query(
                f'sum(rate(requests_total{{code=~"5.."}}[{w}])) / sum(rate(requests_total[{w}]))', at_s
            )
            mine = ours[w]
            where = f"window {w} at +{off} s"
            if theirs is None:
                assert mine is None, f"{where}: Prometheus has no result, Redline {mine}"
                continue
            assert mine is not None, f"{where}: Prometheus {theirs}, Redline none"
            assert mine == pytest.approx(theirs, rel=0.01), where
            compared += 1
    assert compared >= 60


def test_increase_matches_prometheus_per_series(history: History, prometheus: PromServer) -> None:
    cases = [
        ("requests_total", 'code="500",instance="b"', 'requests_total{code="500",instance="b"}'),
        ("requests_total", 'code="200",instance="b"', 'requests_total{code="200",instance="b"}'),
        ("jobs_total", 'instance="a"', 'jobs_total{instance="a"}'),
    ]
    offsets = [*_evaluation_offsets(), JOB_BORN + 130, JOB_BORN + 600]
    compared = 0
    for metric, labels, selector in cases:
        mask = (pl.col("metric") == metric) & (pl.col("labels") == labels)
        one = history.frame.filter(mask).sort("timestamp")
        ts = one.get_column("timestamp").to_numpy()
        vs = one.get_column("value").to_numpy()
        for off in offsets:
            at_s = history.start_s + off
            for w in ("5m", "30m", "1h", "6h"):
                theirs = prometheus.query(f"increase({selector}[{w}])", at_s)
                mine = increase(ts, vs, at_s * 1000, round(parse_duration(w) * 1000))
                where = f"{selector} window {w} at +{off} s"
                if theirs is None:
                    assert mine is None, where
                    continue
                assert mine == pytest.approx(theirs, rel=1e-9, abs=1e-9), where
                compared += 1
    assert compared >= 100
