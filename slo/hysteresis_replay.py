"""``slo.hysteresis`` over whole arrays of steps: the backtest's replay without a loop per step.

``replay`` answers what ``slo.hysteresis.step`` applied minute by minute from inactive answers
(``slo.hysteresis.replay_loop`` is the reference it equals), on runs instead of steps. Only the
steps the data judges count (an unknown step moves nothing and keeps the state of the last judged
one); among them, a *run* is a maximal stretch where the condition holds:

- a run *fires by itself* from its first step at least ``for:`` after its start (a step where the
  condition does not hold resets a pending tier, so ``for:`` never spans two runs);
- a firing run keeps firing through the non-holding steps less than the resolve delay after its
  last holding step, and *bridges* into the next run when the last non-holding step before it is
  still inside the delay: that run fires from its start, as the same episode;
- so in a chain of runs linked by bridges, every run after the first one that fires by itself
  fires whole.

``open_mask`` is ``slo.hysteresis.inhibited`` over arrays likewise: a less severe tier opens at the
first step of one of its firing stretches where no more severe tier is open, and stays open to
the end of that stretch. Times are compared as ``step`` compares them (float seconds, ``now -
since >= for``, ``now - last_held < keep``), so the answers are the same bit for bit.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

__all__ = ["open_mask", "replay"]

Bools = npt.NDArray[np.bool_]
F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


def replay(times_s: F64, holds: Bools, known: Bools, for_seconds: float, keep_firing_for_seconds: float) -> Bools:
    """Whether the tier fires at each of ``times_s`` (ascending, Unix seconds) where the condition
    ``holds`` at the ``known`` steps (the others say nothing): ``step`` applied in order from inactive."""
    n = len(times_s)
    out = np.zeros(n, dtype=np.bool_)
    judged = np.flatnonzero(known)
    if not len(judged):
        return out
    t = np.asarray(times_s, dtype=np.float64)[judged]
    h = np.asarray(holds, dtype=np.bool_)[judged]
    fires = _fires_on_judged(t, h, float(for_seconds), float(keep_firing_for_seconds))
    # an unjudged step keeps the state of the last judged one (inactive before any)
    last_judged = np.cumsum(known) - 1  # its position among the judged steps
    out[:] = np.where(last_judged >= 0, fires[np.maximum(last_judged, 0)], False)
    return out


def _fires_on_judged(t: F64, h: Bools, for_s: float, keep_s: float) -> Bools:
    """``replay`` on judged steps only (times ``t``, condition ``h``)."""
    m = len(t)
    fires = np.zeros(m, dtype=np.bool_)
    edges = np.diff(np.concatenate([[0], h.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1  # each run's first and last
    if not len(starts):
        return fires
    run_start_t, run_end_t = t[starts], t[ends]
    # the last step of each run at least for: after its start: the run fires by itself
    self_fires = run_end_t - run_start_t >= for_s
    # a bridge into run r + 1: the last non-holding step before it is inside run r's resolve delay
    bridge = t[starts[1:] - 1] - run_end_t[:-1] < keep_s
    chain_start = np.concatenate([[True], ~bridge])
    chain = np.cumsum(chain_start) - 1
    fired_before = np.concatenate([[0], np.cumsum(self_fires)[:-1]])  # self-firing runs before each run
    first_of_chain = np.flatnonzero(chain_start)
    from_start = fired_before - fired_before[first_of_chain][chain] > 0
    run_fires = from_start | self_fires
    run_of = np.cumsum(edges[:-1] == 1) - 1  # the latest run at or before each judged step
    held = np.flatnonzero(h)
    r = run_of[held]
    fires[held] = from_start[r] | (t[held] - run_start_t[r] >= for_s)
    after = np.flatnonzero(~h & (run_of >= 0))
    r = run_of[after]
    fires[after] = run_fires[r] & (t[after] - run_end_t[r] < keep_s)
    return fires


def open_mask(firing_by_severity: Sequence[Bools]) -> list[Bools]:
    """Which severities are open at each step, most severe first (``firing_by_severity`` ordered
    so): ``slo.hysteresis.open_mask`` on whole arrays."""
    if not firing_by_severity:
        return []
    out = [np.asarray(firing_by_severity[0], dtype=np.bool_).copy()]
    higher = out[0].copy()
    for firing in firing_by_severity[1:]:
        f = np.asarray(firing, dtype=np.bool_)
        idx = np.arange(len(f))
        stretch_start = np.maximum.accumulate(np.where(f & ~np.concatenate([[False], f[:-1]]), idx, -1))
        may_open = np.maximum.accumulate(np.where(f & ~higher, idx, -1))
        opened = f & (may_open >= stretch_start)
        out.append(opened)
        higher = higher | opened
    return out
