"""Hysteresis of one alert tier: ``for:`` before it fires, a resolve delay before it stops.

One pure step function decides, from what the data says now, whether a tier is inactive,
pending or firing; the live alert policy (``redline.alerts.alert_policy``, state persisted in
SQLite) and the backtest (``redline.slo.backtest``, over arrays of steps) both use it, so a
backtest reports the pages and tickets the agent would really have sent.

- ``for_seconds`` (Prometheus's ``for:``): the condition must hold at every evaluation for that
  long before the tier fires; one evaluation where it does not hold resets it (as Prometheus).
- ``keep_firing_for_seconds`` (Prometheus's ``keep_firing_for``, the *resolve delay*): a firing
  tier stops only once the condition has not held for that long; holding again meanwhile keeps
  the same firing episode, so a condition flapping faster than the delay pages once.
- The data can also say nothing (``holds`` is ``None``: no data, an unknown burn rate): missing
  data is no evidence, so the state stays as it is and no clock advances a transition.

Inhibition (``inhibited``): only the most severe tier of an objective notifies. A severity opens
only while no more severe one is open, and, once open, stays open as long as its own tiers are
firing (an Alertmanager ``inhibit_rules`` with ``equal: [slo]`` does the same on the ``tier``
and ``severity`` labels).

Pure: times are parameters (Unix seconds), no clock, no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

__all__ = ["HoldState", "TierState", "inhibited", "open_mask", "replay", "replay_loop", "step"]

TierState = Literal["inactive", "pending", "firing"]


@dataclass(frozen=True)
class HoldState:
    """Where one tier stands: ``active_since`` is when the condition began holding (the alert's
    start, as Prometheus's ``activeAt``), ``firing_since`` when it fired, ``last_held`` the last
    evaluation at which the condition held (the resolve delay counts from it)."""

    state: TierState = "inactive"
    active_since: float | None = None
    firing_since: float | None = None
    last_held: float | None = None

    @property
    def firing(self) -> bool:
        """Whether the tier is firing (held, or kept firing by its resolve delay)."""
        return self.state == "firing"


INACTIVE = HoldState()


def step(
    prev: HoldState, holds: bool | None, now: float, for_seconds: float, keep_firing_for_seconds: float
) -> HoldState:
    """The tier's state after an evaluation at ``now`` where the condition ``holds`` (``None``: unknown).

    A restart that loads ``prev`` from storage continues with the original start times: a
    pending tier fires ``for_seconds`` after it first held, not after the restart.
    """
    if holds is None:
        return prev
    if holds:
        if prev.state == "firing":
            return HoldState("firing", prev.active_since, prev.firing_since, now)
        since = prev.active_since if prev.state == "pending" and prev.active_since is not None else now
        if now - since >= for_seconds:
            return HoldState("firing", since, now, now)
        return HoldState("pending", since, None, now)
    if prev.state == "firing" and prev.last_held is not None and now - prev.last_held < keep_firing_for_seconds:
        return prev  # the resolve delay: still the same firing episode
    return INACTIVE


Bools = npt.NDArray[np.bool_]


def replay(times_s: Sequence[float] | npt.NDArray[np.float64], holds: Sequence[bool | None] | Bools,
           for_seconds: float, keep_firing_for_seconds: float, known: Bools | None = None) -> Bools:
    """Whether the tier fires at each of ``times_s`` (ascending) given where the condition held.

    ``step`` applied in order from inactive: the backtest's view of the live state machine.
    ``holds`` may be a bool array with ``known`` marking the steps the data could judge (the
    others are ``None`` to ``step``). Without ``for:`` the answer is computed on whole arrays
    (``replay_loop`` is the reference it equals); with one, step by step.
    """
    if known is None and not isinstance(holds, np.ndarray):
        known = np.array([h is not None for h in holds], dtype=np.bool_)
        holds = np.array([bool(h) for h in holds], dtype=np.bool_)
    held = np.asarray(holds, dtype=np.bool_)
    judged = np.ones(len(held), dtype=np.bool_) if known is None else np.asarray(known, dtype=np.bool_)
    if for_seconds > 0:
        tri = [bool(h) if k else None for h, k in zip(held.tolist(), judged.tolist(), strict=True)]
        return replay_loop(times_s, tri, for_seconds, keep_firing_for_seconds)
    times = np.asarray(times_s, dtype=np.float64)
    idx = np.arange(len(held))
    true_now = held & judged
    last_true = np.maximum.accumulate(np.where(true_now, idx, -1)) if len(idx) else idx
    since = times - times[np.maximum(last_true, 0)]
    fires_when_judged = true_now | (judged & (last_true >= 0) & (since < keep_firing_for_seconds))
    last_judged = np.maximum.accumulate(np.where(judged, idx, -1)) if len(idx) else idx
    # a step the data cannot judge keeps the state of the last one it could
    return np.where(last_judged >= 0, fires_when_judged[np.maximum(last_judged, 0)], False)


def replay_loop(times_s: Sequence[float] | npt.NDArray[np.float64], holds: Sequence[bool | None],
                for_seconds: float, keep_firing_for_seconds: float) -> Bools:
    """``step`` applied in order from inactive, one step at a time."""
    out = np.zeros(len(holds), dtype=np.bool_)
    state = INACTIVE
    for i, (t, h) in enumerate(zip(times_s, holds, strict=True)):
        state = step(state, h, float(t), for_seconds, keep_firing_for_seconds)
        out[i] = state.state == "firing"
    return out


def inhibited(was_open: bool, firing: bool, more_severe_open: bool) -> bool:
    """Whether a severity is open (notifies) now: it is firing and either was open already or no
    more severe severity of the objective is open. Returns the new open flag."""
    return firing and (was_open or not more_severe_open)


def open_mask(firing_by_severity: Sequence[Bools]) -> list[Bools]:
    """``inhibited`` over arrays: which severities are open at each step, most severe first.

    ``firing_by_severity`` is ordered most severe first (page, then ticket).
    """
    if not firing_by_severity:
        return []
    n = len(firing_by_severity[0])
    out = [firing_by_severity[0].astype(np.bool_, copy=True)]
    higher = out[0].copy()
    for firing in firing_by_severity[1:]:
        opened = np.zeros(n, dtype=np.bool_)
        was = False
        if not higher.any():
            opened = firing.astype(np.bool_, copy=True)
        else:
            for i in range(n):
                was = inhibited(was, bool(firing[i]), bool(higher[i]))
                opened[i] = was
        out.append(opened)
        higher = higher | opened
    return out
