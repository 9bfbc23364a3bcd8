"""A synthetic fleet whose history holds every case Prometheus's ``increase()`` treats specially.

``build_fleet(end_s)`` returns the history as series (labels, timestamps, values: what
``tests.conformance.remote_write.push`` sends to Prometheus) and as a sample frame for Redline,
and the instants of its events, so that a test can evaluate at each event's edges. Over 31 days ending
at ``end_s`` (all times whole seconds):

- ``requests_total{service="api",instance,code}`` from three instances scraped at different
  intervals and phases: ``a`` every 60 s (phase 0) for the whole history, ``b`` every 15 s
  (phase 7 s) from 36 h before the end, ``c`` every 5 s (phase 2 s) from 8 h to 1 h before the
  end, when it goes away (its series go stale);
- counter resets (``a`` 10 days before the end, ``b`` 27 h before), and a counter that decreases
  by 0.5 (``code="404"`` on ``b``: Prometheus counts any decrease as a reset);
- sparse error codes that appear and disappear mid-window: ``503`` on ``b`` for 20 minutes,
  ``502`` on ``a`` for an hour;
- a gap longer than the 6 h window: ``a`` is not scraped for 7 h, 5 days before the end (its
  counters continue);
- ``latency_seconds_bucket{service="api",instance,le}`` on ``a`` and ``b``, whose bucket set
  changes: ``le="1"`` appears on ``a`` 4 days before the end, ``le="0.5"`` disappears 2 days
  before it; ``b`` has no ``0.5`` bucket at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import polars as pl

from redline.kernel.fields import SAMPLE_SCHEMA
from redline.kernel.labels import parse_labels
from tests.conformance.remote_write import STALE_NAN

__all__ = ["DAY_S", "HOUR_S", "Fleet", "build_fleet"]

HOUR_S = 3600
DAY_S = 86400
HISTORY_S = 31 * DAY_S

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


@dataclass
class FleetSeries:
    """One series: metric, labels as the store writes them, scrape times (s) and values."""

    metric: str
    labels: str
    times_s: I64
    values: F64

    def remote_write(self) -> tuple[dict[str, str], list[int], list[float]]:
        """(labels with ``__name__``, timestamps in ms, values) for ``remote_write.push``."""
        labels = {"__name__": self.metric, **parse_labels(self.labels)}
        return labels, (self.times_s * 1000).tolist(), self.values.tolist()


@dataclass
class Fleet:
    """The history as series and as a sample frame, and its events (name → instant, s)."""

    start_s: int
    end_s: int
    series: list[FleetSeries] = field(default_factory=list)
    frame: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=SAMPLE_SCHEMA))
    events: dict[str, int] = field(default_factory=dict)


def _grid(start_s: int, end_s: int, step_s: int, phase_s: int) -> I64:
    """Scrape times in ``[start_s, end_s]`` at ``step_s`` with ``phase_s``."""
    first = start_s + (phase_s - start_s) % step_s
    return np.arange(first, end_s + 1, step_s, dtype=np.int64)


def _counter(rng: np.random.Generator, n: int, mean_step: float, start_value: float = 0.0) -> F64:
    steps = rng.poisson(mean_step, n).astype(np.float64)
    steps[0] = start_value
    return np.cumsum(steps)


def _reset(values: F64, times_s: I64, at_s: int, restart_value: float) -> F64:
    """The counter restarts at ``at_s`` from ``restart_value`` (its later steps kept)."""
    out = values.copy()
    i = int(np.searchsorted(times_s, at_s))
    if i < len(out):
        out[i:] = out[i:] - out[i] + restart_value
    return out


def build_fleet(end_s: int, seed: int = 11) -> Fleet:
    """The fleet's 31 days ending at ``end_s`` (see the module docstring)."""
    rng = np.random.default_rng(seed)
    start_s = end_s - HISTORY_S
    ev = {
        "a_gap_start": end_s - 5 * DAY_S + 3 * HOUR_S,
        "a_gap_end": end_s - 5 * DAY_S + 10 * HOUR_S,
        "a_reset": end_s - 10 * DAY_S + 30,
        "a_le1_appears": end_s - 4 * DAY_S + 600,
        "b_born": end_s - 36 * HOUR_S + 7,
        "a_le05_gone": end_s - 2 * DAY_S + 1200,
        "b_503_start": end_s - 30 * HOUR_S + 3,
        "b_503_end": end_s - 30 * HOUR_S + 1203,
        "b_reset": end_s - 27 * HOUR_S + 2,
        "b_404_dip": end_s - 20 * HOUR_S + 9,
        "c_born": end_s - 8 * HOUR_S + 2,
        "a_502_start": end_s - 6 * HOUR_S,
        "a_502_end": end_s - 5 * HOUR_S,
        "c_gone": end_s - HOUR_S - 3,
    }
    series: list[FleetSeries] = []
    svc = 'service="api"'

    # -- instance a: 60 s, the whole history, a 7 h gap, a reset
    a_times = _grid(start_s, end_s, 60, 0)
    a_kept = (a_times < ev["a_gap_start"]) | (a_times >= ev["a_gap_end"])
    a_ok = _reset(_counter(rng, len(a_times), 3000.0, 5_000_000.0), a_times, ev["a_reset"], 40.0)
    a_err = _counter(rng, len(a_times), 1.5, 900.0)
    burst = (a_times > end_s - 3 * DAY_S) & (a_times <= end_s - 3 * DAY_S + 2 * HOUR_S)
    a_err = a_err + np.cumsum(np.where(burst, 40.0, 0.0))  # an incident
    a_err = _reset(a_err, a_times, ev["a_reset"], 0.0)
    for code, values in (("200", a_ok), ("500", a_err)):
        labels = f'code="{code}",instance="a",{svc}'
        series.append(FleetSeries("requests_total", labels, a_times[a_kept], values[a_kept]))
    in_502 = (a_times >= ev["a_502_start"]) & (a_times <= ev["a_502_end"])
    series.append(FleetSeries(
        "requests_total", f'code="502",instance="a",{svc}', a_times[in_502],
        _counter(rng, int(in_502.sum()), 12.0, 7.0),
    ))

    # -- instance b: 15 s from 36 h before the end, a reset, a sparse 503, a 404 that dips by 0.5
    b_times = _grid(ev["b_born"], end_s, 15, 7)
    b_ok = _reset(_counter(rng, len(b_times), 700.0, 1200.0), b_times, ev["b_reset"], 3.0)
    b_err = _reset(_counter(rng, len(b_times), 0.4, 2.0), b_times, ev["b_reset"], 0.0)
    b_404 = _counter(rng, len(b_times), 2.0, 50.0)
    dip = int(np.searchsorted(b_times, ev["b_404_dip"]))
    b_404[dip:] -= b_404[dip] - (b_404[dip - 1] - 0.5)  # 0.5 below the sample before
    series += [
        FleetSeries("requests_total", f'code="200",instance="b",{svc}', b_times, b_ok),
        FleetSeries("requests_total", f'code="500",instance="b",{svc}', b_times, b_err),
        FleetSeries("requests_total", f'code="404",instance="b",{svc}', b_times, b_404),
    ]
    in_503 = (b_times >= ev["b_503_start"]) & (b_times <= ev["b_503_end"])
    series.append(FleetSeries(
        "requests_total", f'code="503",instance="b",{svc}', b_times[in_503],
        _counter(rng, int(in_503.sum()), 30.0, 3.0),
    ))

    # -- instance c: 5 s for 7 h, then gone
    c_times = _grid(ev["c_born"], ev["c_gone"], 5, 2)
    stale_times = np.append(c_times, c_times[-1] + 5)
    for code, per_step, first in (("200", 250.0, 20.0), ("500", 2.0, 0.0)):
        values = np.append(_counter(rng, len(c_times), per_step, first), STALE_NAN)
        series.append(FleetSeries("requests_total", f'code="{code}",instance="c",{svc}', stale_times, values))

    # -- histograms whose bucket sets change
    for instance, times, per_step, bounds in (
        ("a", a_times[a_kept], 3000.0, ("0.1", "0.25", "0.5", "1", "+Inf")),
        ("b", b_times, 700.0, ("0.1", "0.25", "+Inf")),
    ):
        n = len(times)
        total = rng.poisson(per_step, n).astype(np.float64)
        slow_share = np.where((times > end_s - 30 * HOUR_S) & (times <= end_s - 29 * HOUR_S), 0.3, 0.02)
        shares = {"0.1": 0.6, "0.25": 1.0 - slow_share, "0.5": 1.0 - slow_share / 2, "1": 1.0 - slow_share / 4}
        for le in bounds:
            below = total if le == "+Inf" else np.floor(total * shares[le])
            values = np.cumsum(below)
            keep = np.ones(n, dtype=np.bool_)
            if instance == "a" and le == "1":
                keep = times >= ev["a_le1_appears"]
            if instance == "a" and le == "0.5":
                keep = times < ev["a_le05_gone"]
            series.append(FleetSeries(
                "latency_seconds_bucket", f'instance="{instance}",le="{le}",{svc}', times[keep], values[keep]
            ))

    return Fleet(start_s, end_s, series, _frame(series), ev)


def _frame(series: list[FleetSeries]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "metric": np.repeat([s.metric for s in series], [len(s.times_s) for s in series]),
            "labels": np.repeat([s.labels for s in series], [len(s.times_s) for s in series]),
            "timestamp": np.concatenate([s.times_s for s in series]) * 1000,
            "value": np.concatenate([s.values for s in series]),
        },
        schema=SAMPLE_SCHEMA,
    )
