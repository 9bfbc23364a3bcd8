"""Redline's exported rules (``--format sloth``), evaluated by a real Prometheus 2.42 over
backfilled history, give the same error ratios and burn rates as Redline's own evaluator on the
same samples, and the PromQL of Sloth's published Grafana dashboard returns data over them.

How: the raw history (6 h of 15 s scrapes: requests by code with an incident, a counter reset
on one instance, a ten-minute scrape gap, and a latency histogram whose bucket bounds are
spelled as Python's client writes them, ``1.0``) is backfilled with
``promtool tsdb create-blocks-from openmetrics``; Prometheus starts on it; the SLI groups of
``render_rules_yaml`` (the groups that read only raw series) are backfilled over the whole
history with ``promtool tsdb create-blocks-from rules`` against that Prometheus; the rule blocks
are moved into the data directory, Prometheus restarts on them and the meta groups (period
ratios, burn rates: they read the recorded ratios) are backfilled the same way, then the budget
groups (they read the period ratios); then
Prometheus restarts with the whole rule file loaded.
Every recorded ``slo:sli_error:ratio_rate<W>`` point is then read back with its timestamp and
compared with ``SLOEvaluator.error_ratios`` at that instant: within 1% relative, except where
a window starts within one scrape of a counter starting from zero (see
``_window_starts_at_counter_start``: a known limit of Redline's aggregate extrapolation, 5%).
The rule evaluation instants carry Prometheus's per-group offset (a hash of the group and file
name), so they differ from run to run; every recorded point is compared, about 11,000. When the
offset puts an evaluation in the last second before a 2 h block boundary, promtool does not write
it (``_dropped_by_promtool``), so a few minutes may be missing in some runs.
"""

from __future__ import annotations

import json
import math
import random
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import polars as pl
import pytest
import yaml

from redline.kernel.fields import SAMPLE_SCHEMA
from redline.kernel.units import parse_duration
from redline.slo.engine import SLOEvaluator
from redline.slo.rules import period_window, render_rules_yaml, sli_windows
from redline.slo.spec import BURN_WINDOWS, SLOSpec
from tests.prometheus_server import api_data, backfill, serve_prometheus

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "tests/fixtures/sloth_dashboard/queries.json"

STEP_S = 15
HOURS = 6
INCIDENT = (3 * 3600, 3 * 3600 + 1800)
RESET_AT = 4 * 3600  # instance b restarts: its counters start again from 0
GAP = (4 * 3600 + 1800, 4 * 3600 + 2400)  # ten minutes without scrapes
BOUNDS = ("0.1", "0.25", "1.0", "+Inf")  # as prometheus_client writes them
EVAL_MS = 60_000  # the rule groups' evaluation interval (promtool --eval-interval, evaluation_interval)
RULE_BLOCK_MS = 2 * 3600 * 1000  # the blocks promtool create-blocks-from rules writes

SPECS = [
    SLOSpec.model_validate(d)
    for d in (
        {
            "name": "api-availability",
            "objective": 99.5,
            "labels": {"team": "core"},
            "sli": {"ratio": {"errors": 'requests_total{code=~"5.."}', "total": "requests_total"}},
        },
        {  # no series matches its errors: 0 errors, recorded as 0 (not left out) in every window
            "name": "api-not-found",
            "objective": 99.9,
            "sli": {"ratio": {"errors": 'requests_total{code="404"}', "total": "requests_total"}},
        },
        {
            "name": "api-success",
            "objective": 99.0,
            "window": "7d",
            "sli": {"ratio": {"good": 'requests_total{code!~"5.."}', "total": "requests_total"}},
        },
        {
            "name": "api-latency-250ms",
            "objective": 90.0,
            "sli": {"latency": {"histogram": "latency_seconds", "threshold": "250ms"}},
        },
        {
            "name": "api-latency-1s",
            "objective": 99.0,
            "window": "1d",
            "sli": {"latency": {"histogram": 'latency_seconds{instance="a"}', "threshold": "1s"}},
        },
    )
]


def _build_history(start_s: int) -> tuple[str, pl.DataFrame]:
    rng = random.Random(7)
    requests = {("200", "a"): 5000.0, ("200", "b"): 3000.0, ("500", "a"): 40.0, ("500", "b"): 25.0}
    buckets = {(inst, le): 0.0 for inst in ("a", "b") for le in BOUNDS}
    req_points: dict[tuple[str, str], list[tuple[int, float]]] = {k: [] for k in requests}
    bucket_points: dict[tuple[str, str], list[tuple[int, float]]] = {k: [] for k in buckets}
    for off in range(0, HOURS * 3600 + 1, STEP_S):
        incident = INCIDENT[0] <= off < INCIDENT[1]
        if off > 0:
            for (code, inst), value in requests.items():
                if code == "200":
                    step = rng.randint(80, 120) if inst == "a" else rng.randint(40, 60)
                else:
                    step = rng.randint(0, 2) + (rng.randint(30, 50) if inst == "a" and incident else 0)
                requests[(code, inst)] = value + step
            for inst in ("a", "b"):
                n = rng.randint(60, 100)
                shares = (0.5, 0.7 if incident else 0.93, 0.95 if incident else 0.995, 1.0)
                for le, share in zip(BOUNDS, shares, strict=True):
                    buckets[(inst, le)] += math.floor(n * share)
            if off == RESET_AT:
                for key in requests:
                    if key[1] == "b":
                        requests[key] = float(rng.randint(0, 3))
                for key in buckets:
                    if key[0] == "b":
                        buckets[key] = 0.0
        if GAP[0] <= off < GAP[1]:
            continue
        for key, value in requests.items():
            req_points[key].append((start_s + off, value))
        for key, value in buckets.items():
            bucket_points[key].append((start_s + off, value))
    lines = ["# HELP requests Requests served.", "# TYPE requests counter"]
    rows: list[tuple[str, str, int, float]] = []
    for (code, inst), points in req_points.items():
        labels = f'code="{code}",instance="{inst}"'
        for t, v in points:
            lines.append(f"requests_total{{{labels}}} {v:.1f} {t}")
            rows.append(("requests_total", labels, t * 1000, v))
    lines += ["# HELP latency_seconds Request latency.", "# TYPE latency_seconds histogram"]
    for (inst, le), points in bucket_points.items():
        labels = f'instance="{inst}",le="{le}"'
        for t, v in points:
            lines.append(f"latency_seconds_bucket{{{labels}}} {v:.1f} {t}")
            rows.append(("latency_seconds_bucket", labels, t * 1000, v))
    lines.append("# EOF")
    return "\n".join(lines) + "\n", pl.DataFrame(rows, schema=SAMPLE_SCHEMA, orient="row")


@dataclass
class Backfilled:
    start_s: int
    end_s: int
    frame: pl.DataFrame
    url: str
    client: httpx.Client
    rules_path: Path

    def get(self, path: str, **params: str) -> dict[str, Any]:
        return api_data(self.client, self.url, path, **params)


@pytest.fixture(scope="module")
def backfilled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backfilled]:
    root = tmp_path_factory.mktemp("prom-rules")
    end = int(time.time()) // 3600 * 3600 - 3600
    start = end - HOURS * 3600
    text, frame = _build_history(start)
    data = backfill(text, root)
    rules_path = root / "rules.yml"
    rules_path.write_text(render_rules_yaml(SPECS, "sloth"))
    check = subprocess.run(["promtool", "check", "rules", str(rules_path)], capture_output=True, timeout=60)
    assert check.returncode == 0, check.stdout.decode() + check.stderr.decode()
    document = yaml.safe_load(rules_path.read_text())
    for kind in ("sli", "meta", "budget"):  # each reads what the one before recorded
        groups = root / f"{kind}-rules.yml"
        groups.write_text(
            yaml.safe_dump({"groups": [g for g in document["groups"] if g["name"].startswith(f"redline-slo-{kind}-")]})
        )
        blocks = root / f"{kind}-blocks"
        with serve_prometheus(data, root) as url:
            done = subprocess.run(
                [
                    "promtool", "tsdb", "create-blocks-from", "rules",
                    f"--start={start}", f"--end={end}", f"--url={url}",
                    "--eval-interval=60s", f"--output-dir={blocks}", str(groups),
                ],
                capture_output=True, timeout=300,
            )
        assert done.returncode == 0, done.stdout.decode() + done.stderr.decode()
        moved = 0
        for block in blocks.iterdir():
            if block.is_dir():
                shutil.move(str(block), str(data / block.name))
                moved += 1
        assert moved >= 3, f"expected {kind} rule blocks for {HOURS} h of history, got {moved}"
    with serve_prometheus(data, root, rule_files=[rules_path]) as url, httpx.Client(timeout=30.0) as client:
        yield Backfilled(start, end, frame, url, client, rules_path)


def _recorded(backfilled: Backfilled, record: str, slo: str, at_s: int) -> dict[int, float]:
    """Every point of a recorded series up to ``at_s``, by timestamp in ms."""
    data = backfilled.get("/api/v1/query", query=f'{record}{{slo="{slo}"}}[{HOURS + 1}h]', time=str(at_s))
    result = data["result"]
    assert isinstance(result, list)
    if not result:
        return {}
    assert len(result) == 1, result
    return {round(float(t) * 1000): float(v) for t, v in result[0]["values"]}


def _dropped_by_promtool(start_s: int, end_s: int, first_ms: int) -> int:
    """How many evaluations ``promtool tsdb create-blocks-from rules`` does not write for a group
    whose evaluations fall on ``first_ms`` plus whole minutes.

    promtool (2.42, ``importRule``) queries each 2 h block from its first evaluation to the block's
    end truncated to whole seconds, and the next block starts at its first whole second: an
    evaluation less than a second before a block boundary falls between the two queries. The
    group's offset puts one there about once in 60 runs.
    """
    first_boundary = (start_s * 1000 // RULE_BLOCK_MS + 1) * RULE_BLOCK_MS
    boundaries = range(first_boundary, end_s * 1000 + 1, RULE_BLOCK_MS)
    return sum(1 for b in boundaries if 0 < (b - first_ms) % EVAL_MS < 1000)


def _window_starts_at_counter_start(offset_s: float, window: str) -> bool:
    """Whether the window's first sample of some series is that counter's first (from zero):
    the window starts within one scrape of the history start or of the reset on instance b.

    There Prometheus limits each series' extrapolation towards the window start by its
    zero-start rule, which Redline cannot apply to an aggregate of series
    (``slo.series.increase.extrapolate_increase``, ``first_value=None``), so a 5m ratio can differ by
    up to about one scrape over the window (15 s / 300 s); seen: 1.4% at 286 s after the reset.
    """
    start = offset_s - parse_duration(window)
    return any(-STEP_S < start - s0 < STEP_S for s0 in (0, RESET_AT))


def test_recorded_error_ratios_match_redline_within_one_percent(backfilled: Backfilled) -> None:
    """Within 1% relative at every recorded point (5% where ``_window_starts_at_counter_start``)."""
    ev = SLOEvaluator(SPECS)
    ev.ingest(backfilled.frame)
    compared = absent = 0
    for spec in SPECS:
        windows = [w for w in sli_windows(spec) if w != period_window(spec) or w in BURN_WINDOWS]
        points = {w: _recorded(backfilled, f"slo:sli_error:ratio_rate{w}", spec.name, backfilled.end_s)
                  for w in windows}
        instants = sorted(set().union(*points.values()))
        dropped = _dropped_by_promtool(backfilled.start_s, backfilled.end_s, instants[0]) if instants else 0
        assert len(instants) >= HOURS * 60 - 2 - dropped, f"{spec.name}: only {len(instants)} evaluations recorded"
        for at_ms in instants:
            ours = ev.error_ratios(at_ms, spec.name)
            for w in windows:
                mine = ours[w] if w in ours else ours["slo"]  # a 1d objective's own window
                theirs = points[w].get(at_ms)
                where = f"{spec.name} window {w} at +{(at_ms / 1000 - backfilled.start_s):.0f} s"
                if theirs is None or math.isnan(theirs):
                    assert mine is None, f"{where}: Prometheus recorded nothing, Redline {mine}"
                    absent += 1
                    continue
                assert mine is not None, f"{where}: Prometheus {theirs}, Redline none"
                near = _window_starts_at_counter_start(at_ms / 1000 - backfilled.start_s, w)
                assert mine == pytest.approx(theirs, rel=0.05 if near else 0.01), where
                compared += 1
    assert compared >= sum(len(BURN_WINDOWS) for s in SPECS) * (HOURS * 60 - 15)
    assert absent > 0  # the scrape gap leaves the 5m window empty in both


def test_prometheus_loads_every_exported_rule(backfilled: Backfilled) -> None:
    document = yaml.safe_load(backfilled.rules_path.read_text())
    data = backfilled.get("/api/v1/rules")
    groups = data["groups"]
    assert isinstance(groups, list)
    loaded = {g["name"]: len(g["rules"]) for g in groups}
    assert loaded == {g["name"]: len(g["rules"]) for g in document["groups"]}
    alerts = [r for g in groups for r in g["rules"] if r["type"] == "alerting"]
    assert sorted({(r["name"], r["labels"]["severity"], r["labels"]["sloth_severity"]) for r in alerts}) == [
        ("SLOErrorBudgetBurnPage", "page", "page"), ("SLOErrorBudgetBurnTicket", "ticket", "ticket"),
    ]
    assert len(alerts) == 2 * len(SPECS)


def test_recorded_burn_rates_equal_redlines_within_one_percent(backfilled: Backfilled) -> None:
    """``slo:current_burn_rate:ratio`` (the 5m ratio over the budget, from the meta group) against
    Redline's 5m burn rate at every recorded instant. The meta group evaluates at its own offset and
    reads the newest 5m ratio recorded before: Redline is asked at that ratio's instant."""
    ev = SLOEvaluator(SPECS)
    ev.ingest(backfilled.frame)
    compared = 0
    for spec in SPECS:
        budget = 1.0 - spec.target
        five = sorted(_recorded(backfilled, "slo:sli_error:ratio_rate5m", spec.name, backfilled.end_s))
        burns = _recorded(backfilled, "slo:current_burn_rate:ratio", spec.name, backfilled.end_s)
        for burn_ms, theirs in burns.items():
            read = [t for t in five if burn_ms - 300_000 < t <= burn_ms]
            if not read:
                continue  # no 5m ratio in the lookback: no burn rate recorded either (checked below)
            at_ms = read[-1]
            ratio = ev.error_ratios(at_ms, spec.name)["5m"]
            where = f"{spec.name} at +{(at_ms / 1000 - backfilled.start_s):.0f} s"
            if math.isnan(theirs):
                assert ratio is None, where
                continue
            assert ratio is not None, f"{where}: Prometheus {theirs}, Redline none"
            near = _window_starts_at_counter_start(at_ms / 1000 - backfilled.start_s, "5m")
            assert ratio / budget == pytest.approx(theirs, rel=0.05 if near else 0.01), where
            compared += 1
    assert compared >= len(SPECS) * (HOURS * 60 - 30)


def test_period_records_average_the_recorded_5m_ratios(backfilled: Backfilled) -> None:
    """Sloth's budget over the period: the mean of the 5m ratio records in it, not a raw rate."""
    for spec in (s for s in SPECS if period_window(s) not in BURN_WINDOWS):
        period = _recorded(backfilled, f"slo:sli_error:ratio_rate{period_window(spec)}", spec.name, backfilled.end_s)
        five = _recorded(backfilled, "slo:sli_error:ratio_rate5m", spec.name, backfilled.end_s)
        last = max(period)
        inside = [v for t, v in five.items() if t <= last]
        assert period[last] == pytest.approx(sum(inside) / len(inside), rel=1e-9), spec.name
        remaining = _recorded(backfilled, "slo:period_error_budget_remaining:ratio", spec.name, backfilled.end_s)
        newest = max(remaining)  # the budget group reads the newest period ratio recorded before it
        read = max(t for t in period if t <= newest)
        assert remaining[newest] == pytest.approx(1 - period[read] / (1 - spec.target), rel=1e-9), spec.name


def _dashboard() -> dict[str, Any]:
    document = json.loads(DASHBOARD.read_text())
    assert isinstance(document, dict)
    return document


def _fill(query: str, values: dict[str, str]) -> str:
    return re.sub(r"\$\{([^}]+)\}", lambda m: values[m.group(1)], query)


_FILTER = re.compile(r"\s*>\s*[0-9.]+\s*$")


def _filter_free(query: str) -> str | None:
    """The query without its trailing ``> x`` filter (``slo:current_burn_rate:ratio > 0``), if it has one."""
    core = _FILTER.sub("", query)
    return core if core != query else None


_FALLBACK = re.compile(r"(?i)\s+or\s+on\(\)\s+vector\([^)]*\)")


def _fallback_free(query: str) -> str | None:
    """The query without its ``or on() vector(x)`` fallback (which always answers), if it has one."""
    core = _FALLBACK.sub("", query)
    return core if core != query else None


def _label_values(backfilled: Backfilled, label: str, match: str) -> list[str]:
    resp = backfilled.client.get(f"{backfilled.url}/api/v1/label/{label}/values", params={"match[]": match})
    resp.raise_for_status()
    values = resp.json()["data"]
    assert isinstance(values, list)
    return sorted(str(v) for v in values)


def test_sloths_grafana_dashboard_finds_every_objective_and_returns_data(backfilled: Backfilled) -> None:
    """Every panel query of Sloth's published dashboard (tests/fixtures/sloth_dashboard) over the rules,
    at the end of the history, for every objective: an answer (a ``> x`` filter that nothing passes:
    the series without it); without a fallback, or with it taken away, series of ours (the alert
    panels read ``ALERTS``, which only a live firing alert writes: for them the alert rules are
    checked to carry the labels the panel selects)."""
    board = _dashboard()
    # the dashboard's variables: label_values(slo:objective:ratio, sloth_service), then its SLOs
    assert _label_values(backfilled, "sloth_service", board["variables"]["service"].split("(", 1)[1].split(",")[0]) == [
        "redline"
    ]
    slos = _label_values(backfilled, "sloth_slo", 'slo:objective:ratio{sloth_service="redline"}')
    assert slos == sorted(s.name for s in SPECS)
    month = time.gmtime(backfilled.end_s).tm_mon
    answered = 0
    for spec in SPECS:
        for window in board["variables"]["sli_window"]:
            values = {"service": "redline", "slo": spec.name, "sli_window": window, "min_burning_rate": "1",
                      "__to:date:M": str(month)}
            for panel, query in board["panels"].items():
                filled = _fill(query, values)
                result = backfilled.get("/api/v1/query", query=filled, time=str(backfilled.end_s))["result"]
                unfiltered = _filter_free(filled)
                if not result and unfiltered is not None:  # nothing burns over the filter: the series exist
                    result = backfilled.get("/api/v1/query", query=unfiltered, time=str(backfilled.end_s))["result"]
                assert result, f"{panel} for {spec.name}: no answer to {filled}"
                core = _fallback_free(filled)
                if core is None or "ALERTS" in core:
                    continue
                if "${sli_window}" in query and window not in sli_windows(spec):
                    continue  # a 7d objective has no 30d record, its period one is 1w (as Sloth's)
                data = backfilled.get("/api/v1/query", query=core, time=str(backfilled.end_s))["result"]
                assert data, f"{panel} for {spec.name} (window {window}): no series for {core}"
                answered += 1
    assert answered > 0
    rules = [r for g in backfilled.get("/api/v1/rules")["groups"] for r in g["rules"] if r["type"] == "alerting"]
    for rule in rules:
        labels = rule["labels"]
        assert labels["sloth_severity"] in ("page", "ticket") and labels["sloth_service"] == "redline"
        assert labels["sloth_slo"] in slos


def test_the_page_alert_expression_answers_with_the_labels_alerts_carries(backfilled: Backfilled) -> None:
    """Mid-incident, the page alert's expression has a series, with sloth_service and sloth_slo."""
    document = yaml.safe_load(backfilled.rules_path.read_text())
    (page,) = [
        r for g in document["groups"] for r in g["rules"]
        if r.get("alert") and r["labels"]["slo"] == "api-availability" and r["labels"]["severity"] == "page"
    ]
    at = backfilled.start_s + INCIDENT[0] + 1500
    result = backfilled.get("/api/v1/query", query=page["expr"], time=str(at))["result"]
    assert len(result) == 1, result
    assert (result[0]["metric"]["sloth_service"], result[0]["metric"]["sloth_slo"]) == ("redline", "api-availability")
