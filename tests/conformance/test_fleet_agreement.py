"""Redline's error ratios agree with a real Prometheus 2.42 at every window, on a fleet built to
hold every case ``increase()`` treats specially (``tests.conformance.fleet``).

The fleet's 31 days are pushed into Prometheus by remote write; Redline ingests the same samples
in time order up to each instant and evaluates there, as the live agent does. At every instant
(a grid, plus each event's edges for each window) each window's ratios must agree within 1%
relative, or 1e-6 absolute where Prometheus's value is below 1e-4.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import numpy as np
import polars as pl
import pytest

from redline.kernel.units import parse_duration
from redline.slo.engine import SLOEvaluator
from redline.slo.spec import BURN_WINDOWS, SLOSpec
from tests.conformance.fleet import DAY_S, HOUR_S, Fleet, build_fleet
from tests.conformance.remote_write import push
from tests.prometheus_server import api_data, serve_prometheus

WINDOWS = (*BURN_WINDOWS, "30d")
REL, ABS, SMALL = 0.01, 1e-6, 1e-4

ERRORS = 'requests_total{code=~"5.."}'
SIDES = {  # side → its PromQL selector; each side's sum(increase(...)) is queried once per window
    "errors": ERRORS,
    "total": "requests_total",
    "le_0.25": 'latency_seconds_bucket{le="0.25"}',
    "le_0.5": 'latency_seconds_bucket{le="0.5"}',
    "le_inf": 'latency_seconds_bucket{le="+Inf"}',
}
OBJECTIVES = {
    # name: (the spec's SLI, the error ratio from the sides' sums: bad side or None for total − good)
    "availability": ({"ratio": {"errors": ERRORS, "total": "requests_total"}}, ("errors", None, "total")),
    "latency-250ms": ({"latency": {"histogram": "latency_seconds", "threshold": "250ms"}}, (None, "le_0.25", "le_inf")),
    # the 0.5 bucket exists on one instance, and only until 2 days before the end
    "latency-500ms": ({"latency": {"histogram": "latency_seconds", "threshold": "500ms"}}, (None, "le_0.5", "le_inf")),
}


@dataclass
class Served:
    fleet: Fleet
    url: str
    client: httpx.Client


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    fleet = build_fleet(int(time.time()) // HOUR_S * HOUR_S - HOUR_S)
    root = tmp_path_factory.mktemp("fleet")
    # a head wider than the history, so that remote write takes old samples in any order
    args = ["--web.enable-remote-write-receiver", "--storage.tsdb.min-block-duration=64d",
            "--storage.tsdb.max-block-duration=64d"]
    with serve_prometheus(root / "data", root, extra_args=args) as url, httpx.Client(timeout=60.0) as client:
        assert push(client, url, (s.remote_write() for s in fleet.series)) == fleet.frame.height
        yield Served(fleet, url, client)


def _instants(fleet: Fleet) -> dict[int, set[str]]:
    """Instant → windows to compare there: every window on a grid over the last 5 days, and at
    each event's edges (the window ending at it, and starting at it) that window and the short
    ones; the 30-day window as each event passes (its start never reaches one)."""
    short = {"5m", "30m", "1h"}
    out: dict[int, set[str]] = {}
    for t in range(fleet.end_s - 5 * DAY_S + 1800, fleet.end_s + 1, 12 * HOUR_S):
        out.setdefault(t, set()).update(WINDOWS)
    for at_s in fleet.events.values():
        for t in (at_s, at_s + 4):  # the 30-day window (the costliest query) only as an event passes
            out.setdefault(t, set()).add("30d")
        for w in BURN_WINDOWS:
            w_s = round(parse_duration(w))
            for t in (at_s, at_s + 4, at_s + w_s, at_s + w_s + 9):
                if fleet.end_s - 6 * DAY_S <= t <= fleet.end_s:
                    out.setdefault(t, set()).update({w, *short})
    return out


def _prometheus_ratios(served: Served, at_s: int, windows: set[str]) -> dict[tuple[str, str], float | None]:
    """(objective, window) → Prometheus's error ratio at ``at_s`` (None: no result), one query."""
    parts = [
        f'label_replace(sum(increase({selector}[{w}])), "q", "{side}|{w}", "", "")'
        for side, selector in SIDES.items() for w in sorted(windows)
    ]
    result = api_data(served.client, served.url, "/api/v1/query", query=" or ".join(parts), time=str(at_s))["result"]
    sums = {item["metric"]["q"]: float(item["value"][1]) for item in result}
    out: dict[tuple[str, str], float | None] = {}
    for name, (_, (bad, good, total)) in OBJECTIVES.items():
        for w in windows:
            den = sums.get(f"{total}|{w}")
            if den is None or not den > 0:
                out[(name, w)] = None
                continue
            num = sums.get(f"{bad}|{w}", 0.0) if bad is not None else den - sums.get(f"{good}|{w}", 0.0)
            out[(name, w)] = min(max(num / den, 0.0), 1.0)
    return out


def test_error_ratios_agree_with_prometheus_at_every_window_and_event_edge(served: Served) -> None:
    fleet = served.fleet
    specs = [SLOSpec.model_validate({"name": n, "objective": 99.0, "sli": sli}) for n, (sli, _) in OBJECTIVES.items()]
    ev = SLOEvaluator(specs)
    frame = fleet.frame.sort("timestamp")
    ts = frame.get_column("timestamp").to_numpy()
    ingested = 0
    worst: dict[str, tuple[float, str]] = {w: (0.0, "") for w in WINDOWS}
    failures: list[str] = []
    compared = 0
    instants = _instants(fleet)
    for at_s in sorted(instants):
        upto = int(np.searchsorted(ts, at_s * 1000, side="right"))
        if upto > ingested:
            ev.ingest(frame.slice(ingested, upto - ingested))
            ingested = upto
        theirs = _prometheus_ratios(served, at_s, instants[at_s])
        for result in ev.results(at_s * 1000):  # error ratio = burn rate × budget (0.01)
            ours = {w: None if b is None else b * 0.01 for w, b in result.burn_rates.items()}
            ours["30d"] = None if result.sli is None else 1.0 - result.sli
            for w in instants[at_s]:
                mine, reference = ours[w], theirs[(result.name, w)]
                where = f"{result.name} {w} at end-{fleet.end_s - at_s}s"
                if reference is None or mine is None:
                    if (reference is None) != (mine is None):
                        failures.append(f"{where}: Prometheus {reference}, Redline {mine}")
                    continue
                compared += 1
                gap = abs(mine - reference)
                relative = gap / reference if reference else gap
                if relative > worst[w][0]:
                    worst[w] = (relative, where)
                if not (gap <= REL * abs(reference) or (abs(reference) < SMALL and gap <= ABS)):
                    failures.append(f"{where}: Prometheus {reference!r}, Redline {mine!r} ({relative:.2%})")
    print(f"\n{compared} comparisons at {len(instants)} instants; worst relative difference per window:")
    for w, (relative, where) in worst.items():
        print(f"  {w:>4}: {relative:.4%}  ({where})")
    assert not failures, f"{len(failures)} disagreements of {compared}:\n" + "\n".join(failures[:40])
    assert compared > 1000


def test_the_fleet_holds_the_cases_it_promises(served: Served) -> None:
    frame = served.fleet.frame
    per_series = frame.group_by("labels").agg(pl.col("timestamp").diff().median().alias("step"))
    steps = set(per_series.get_column("step").drop_nulls().to_list())
    assert {5_000, 15_000, 60_000} <= steps
    assert frame.get_column("value").is_nan().sum() == 2  # the staleness markers of instance c
