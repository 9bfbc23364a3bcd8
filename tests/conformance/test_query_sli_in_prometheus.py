"""Query SLIs run as written on a real Prometheus 2.42 (Debian's package, on 127.0.0.1).

History (backfilled with ``promtool``): 6 h of 15 s scrapes of ``http_requests_total`` by code —
100 good requests per scrape, and in the last 30 minutes 10 errors per scrape too — and a
pipeline's ``last_success`` timestamp that stops moving 40 minutes before the end. A Sloth file
and an OpenSLO file are loaded with ``backend: prom``; the agent (jobs called by the test, on a
fixed clock at the end of the history) collects the ``promql`` source, which runs the objectives'
queries for every window, stores the answers, and evaluates them.

Every burn rate must equal what Prometheus itself answers for the same expression over the same
window, divided by the error budget (the queries are the same, so within float noise), and must
be near the value computed by hand from the history; the page must fire; ``redline status
--json`` must read the same figures back from the store. Then the bad inputs: a query Prometheus
cannot parse, a query answering one series per code, and Prometheus stopped.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from redline.agent.cli import main
from redline.agent.runtime import Agent
from redline.alerts.state import AlertStateStore
from redline.config import load_config
from redline.slo.spec import BURN_WINDOWS
from tests.prometheus_server import api_data, backfill, serve_prometheus

STEP_S = 15
HOURS = 6
START_S = 1_763_000_000 - (1_763_000_000 % 3600)
END_S = START_S + HOURS * 3600
INCIDENT_S = END_S - 1800  # errors from here on
STALL_S = END_S - 2400  # the pipeline's last success
AT_S = END_S + 5  # the agent's clock: just after the last scrape
ERRORS = 'sum(rate(http_requests_total{code=~"5.."}[{{.window}}]))'
TOTAL = "sum(rate(http_requests_total[{{.window}}]))"

SLOTH = f"""
version: prometheus/v1
service: api
slos:
  - name: availability
    objective: 99.9
    sli:
      events:
        error_query: '{ERRORS}'
        total_query: '{TOTAL}'
"""

OPENSLO = """
apiVersion: openslo/v1
kind: SLO
metadata: {name: api-success}
spec:
  service: api
  budgetingMethod: Occurrences
  timeWindow: [{duration: 7d, isRolling: true}]
  objectives: [{target: 0.99}]
  indicator:
    metadata: {name: api-good}
    spec:
      ratioMetric:
        good: {metricSource: {type: Prometheus, spec: {query: 'sum(rate(http_requests_total{code="200"}[5m]))'}}}
        total: {metricSource: {type: Prometheus, spec: {query: 'sum(rate(http_requests_total[5m]))'}}}
---
apiVersion: openslo/v1
kind: SLO
metadata: {name: features-fresh}
spec:
  service: pipeline
  budgetingMethod: Timeslices
  timeWindow: [{duration: 1d, isRolling: true}]
  objectives: [{target: 0.95, op: lt, value: 1800, timeSliceWindow: 1m}]
  indicator:
    metadata: {name: features-age}
    spec:
      thresholdMetric:
        metricSource: {type: Prometheus, spec: {query: 'time() - pipeline_last_success_timestamp_seconds'}}
"""


def history() -> str:
    lines = ["# HELP http_requests Requests served.", "# TYPE http_requests counter"]
    for code in ("200", "500"):
        count = 0
        for t in range(START_S, END_S + 1, STEP_S):
            if t > START_S:
                count += 100 if code == "200" else (10 if t > INCIDENT_S else 0)
            lines.append(f'http_requests_total{{code="{code}"}} {count} {t}')
    lines += ["# HELP pipeline_last_success_timestamp_seconds Last success.",
              "# TYPE pipeline_last_success_timestamp_seconds gauge"]
    for t in range(START_S, END_S + 1, STEP_S):
        lines.append(f"pipeline_last_success_timestamp_seconds {min(t, STALL_S) - 60} {t}")
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


class FixedClock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture(scope="module")
def tsdb(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("prometheus")
    return backfill(history(), root), root


@pytest.fixture
def prometheus(tsdb: tuple[Path, Path]) -> Iterator[str]:
    with serve_prometheus(*tsdb) as url:
        yield url


def write_config(tmp_path: Path, url: str, extra_slos: str = "") -> Path:
    (tmp_path / "sloth.yaml").write_text(SLOTH)
    (tmp_path / "openslo.yaml").write_text(OPENSLO)
    path = tmp_path / "redline.yaml"
    path.write_text(f"""
agent: {{data_dir: {tmp_path / "data"}, listen: "127.0.0.1:0"}}
sources:
  - {{name: prom, kind: promql, url: "{url}", interval: 30s, timeout: 20s}}
slo_files:
  - {{path: sloth.yaml, format: sloth, backend: prom}}
  - {{path: openslo.yaml, format: openslo, backend: prom}}
slos:
{extra_slos or "  []"}
alerting:
  notifiers: [{{name: log, kind: log}}]
""")
    return path


def prometheus_ratio(client: httpx.Client, url: str, expr: str, at_s: float) -> float:
    data = api_data(client, url, "/api/v1/query", query=expr, time=str(at_s))
    (series,) = data["result"]
    return float(series["value"][1])


def status_json(capsys: pytest.CaptureFixture[str], config: Path, at_s: float) -> dict[str, dict[str, Any]]:
    capsys.readouterr()
    assert main(["status", "--config", str(config), "--at", str(at_s), "--json"]) == 0
    return {o["name"]: o for o in json.loads(capsys.readouterr().out)["objectives"]}


def test_query_slis_run_on_prometheus_give_its_own_ratios_and_page(
    tmp_path: Path, prometheus: str, capsys: pytest.CaptureFixture[str]
) -> None:
    loaded = load_config(write_config(tmp_path, prometheus))
    clock = FixedClock(AT_S)
    agent = Agent(loaded, env={}, clock=clock, serve_metrics=False)
    try:
        health = agent.collect("prom")
        assert health.ok, health.error
        assert health.problems == ()
        report = agent.evaluate()
    finally:
        agent.shutdown()
    by_name = {o.name: o for o in report.objectives}
    api = by_name["api-availability"]
    with httpx.Client(timeout=10) as client:
        for w in (*BURN_WINDOWS, "30d"):
            expected = prometheus_ratio(
                client, prometheus, f"({ERRORS}) / ({TOTAL})".replace("{{.window}}", w), AT_S
            )
            got = api.burn_rates[w] * 0.001 if w != "30d" else 1.0 - (api.sli or 0.0)  # type: ignore[operator]
            assert got == pytest.approx(expected, rel=1e-9), w
        # The good-over-total OpenSLO ratio, its [5m] range set to each window.
        success = by_name["api-success"]
        expected_1h = 1.0 - prometheus_ratio(
            client, prometheus,
            'sum(rate(http_requests_total{code="200"}[1h])) / sum(rate(http_requests_total[1h]))', AT_S,
        )
        assert success.burn_rates["1h"] == pytest.approx(expected_1h / 0.01, rel=1e-9)
    # By hand: the last 5 minutes hold 10 errors in every 110 requests; the last hour 1,200
    # errors (120 scrapes × 10) in 24,000 + 1,200; the 6 h (all of "30d") 1,200 in 144,000 + 1,200.
    assert api.burn_rates["5m"] == pytest.approx((10 / 110) / 0.001, rel=0.01)
    assert api.burn_rates["1h"] == pytest.approx((1200 / 25_200) / 0.001, rel=0.01)
    assert api.sli == pytest.approx(1 - 1200 / 145_200, rel=1e-4)
    assert api.kind == "availability" and api.dimension == "users"
    assert api.status == "breached"  # 0.83% errors against a 0.1% budget over the whole history
    # The page: 14.4× over 1h and 5m (Redline's multiwindow policy on the backend's ratios).
    state = AlertStateStore(tmp_path / "data" / "alerts.sqlite")
    try:
        firing = {(r.slo, r.severity) for r in state.records() if r.state == "firing"}
    finally:
        state.close()
    assert ("api-availability", "page") in firing

    # Freshness as time slices by subquery: the age (now − (stall − 60 s)) reaches 30 min 11 min
    # before the end; with `op: lt` an age of exactly 30 min is stale, so of the 60 one-minute
    # slices of the last hour the 12 at END − 11 min … END are stale.
    fresh = by_name["features-fresh"]
    assert fresh.kind == "freshness" and fresh.dimension == "data"
    assert fresh.burn_rates["1h"] is not None and fresh.burn_rates["5m"] is not None
    assert fresh.burn_rates["1h"] * 0.05 == pytest.approx(12 / 60)
    assert fresh.burn_rates["5m"] * 0.05 == pytest.approx(1.0)

    # `redline status --json` reads the same answers back from the store.
    status = status_json(capsys, tmp_path / "redline.yaml", AT_S)
    assert status["api-availability"]["burn_rates"]["1h"] == pytest.approx(api.burn_rates["1h"], rel=1e-12)
    assert status["api-availability"]["status"] == "breached"


def test_a_bad_query_a_split_answer_and_a_stopped_backend_are_named_and_never_100_percent(
    tmp_path: Path, tsdb: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    extra = """
  - name: broken
    objective: 99
    sli:
      query:
        source: prom
        errors: 'sum(rate(http_requests_total{code="500"}[{{.window}}])'
        total: 'sum(rate(http_requests_total[{{.window}}]))'
  - name: split
    objective: 99
    sli:
      query:
        source: prom
        errors: 'sum(rate(http_requests_total{code="500"}[{{.window}}]))'
        total: 'sum by (code) (rate(http_requests_total[{{.window}}]))'
"""
    with serve_prometheus(*tsdb) as url:
        loaded = load_config(write_config(tmp_path, url, extra))
        clock = FixedClock(AT_S)
        agent = Agent(loaded, env={}, clock=clock, serve_metrics=False)
        try:
            health = agent.collect("prom")
            report = agent.evaluate()
        finally:
            agent.shutdown()
    by_name = {o.name: o for o in report.objectives}
    # The broken errors query fails on the server: the source says which and why; its total
    # and every other objective's answers are kept.
    assert not health.ok and health.error is not None
    assert "1 of" in health.error and 'slo="broken"' in health.error and "bad_data" in health.error
    assert by_name["api-availability"].status == "breached"
    broken = by_name["broken"]
    assert broken.status == "no_data" and broken.sli is None
    assert broken.reason.startswith("the errors query has no answer for the 30d window at the last collection")
    # One series per code: no single ratio, said so.
    split = by_name["split"]
    assert split.status == "no_data" and split.error is not None and "sum()" in split.error

    # Prometheus is stopped: the collection fails naming the source, and six minutes on (past the
    # 5-minute staleness) the objectives read no_data with the reason — never the last value.
    loaded = load_config(write_config(tmp_path, url))
    clock = FixedClock(AT_S + 360)
    agent = Agent(loaded, env={}, clock=clock, serve_metrics=False)
    try:
        agent.load_history()
        down = agent.collect("prom")
        later = {o.name: o for o in agent.evaluate().objectives}
    finally:
        agent.shutdown()
    assert not down.ok and down.error is not None and "prom" in down.error
    assert later["api-availability"].status == "no_data"
    assert "no answer from source 'prom' in the last 5m" in later["api-availability"].reason
    # The stored answers are intact: at the time they were recorded they still give the ratios.
    status = status_json(capsys, tmp_path / "redline.yaml", AT_S)
    assert status["api-availability"]["burn_rates"]["5m"] == pytest.approx((10 / 110) / 0.001, rel=0.01)
