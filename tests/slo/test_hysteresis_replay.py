from __future__ import annotations

import numpy as np
import pytest

from redline.slo import hysteresis
from redline.slo.hysteresis import INACTIVE, inhibited, step
from redline.slo.hysteresis_replay import open_mask, replay

T0 = 1_700_000_000.0


def stepped(times: np.ndarray, holds: np.ndarray, known: np.ndarray, for_s: float, keep_s: float) -> list[bool]:
    """``slo.hysteresis.step`` applied minute by minute: the reference."""
    state, out = INACTIVE, []
    for t, h, k in zip(times.tolist(), holds.tolist(), known.tolist(), strict=True):
        state = step(state, bool(h) if k else None, t, for_s, keep_s)
        out.append(state.firing)
    return out


def test_for_and_the_resolve_delay_on_a_pattern_worked_out_by_hand() -> None:
    # minute:  0  1  2  3  4  5  6  7  8  9 10 11 12 13
    # holds:   T  T  F  T  T  T  ?  F  T  F  F  F  F  T     (? unknown), for 2m, keep 3m
    pattern = [1, 1, 0, 1, 1, 1, None, 0, 1, 0, 0, 0, 0, 1]
    times = T0 + 60.0 * np.arange(len(pattern))
    holds = np.array([p == 1 for p in pattern])
    known = np.array([p is not None for p in pattern])
    fires = replay(times, holds, known, 120.0, 180.0).tolist()
    # the first run (0-1) is reset at 2 before for: elapses; the run from 3 fires at 5 (3 + 2m);
    # 6 is unknown and keeps the state; 7 does not hold but is 2m after 5, inside the delay; 8 holds
    # again (the same episode); 9 and 10 are within 3m of 8; 11 is 3m after it: resolved; 13 is
    # pending again.
    assert fires == [False, False, False, False, False, True, True, True, True, True, True, False, False, False]
    assert fires == stepped(times, holds, known, 120.0, 180.0)


@pytest.mark.parametrize("seed", range(40))
def test_the_run_replay_equals_step_applied_minute_by_minute(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 600))
    times = T0 + np.cumsum(rng.choice([30.0, 60.0, 60.0, 90.0, 0.5], n))
    holds = rng.random(n) < rng.uniform(0.05, 0.95)
    known = rng.random(n) < rng.uniform(0.5, 1.0)
    for_s = float(rng.choice([0.0, 60.0, 120.0, 300.0, 45.5]))
    keep_s = float(rng.choice([0.0, 60.0, 300.0, 1000.0, 90.0]))
    assert replay(times, holds, known, for_s, keep_s).tolist() == stepped(times, holds, known, for_s, keep_s)


def test_nothing_known_never_fires() -> None:
    times = T0 + 60.0 * np.arange(5)
    assert not replay(times, np.ones(5, dtype=bool), np.zeros(5, dtype=bool), 0.0, 60.0).any()
    assert replay(times[:0], np.zeros(0, dtype=bool), np.zeros(0, dtype=bool), 0.0, 60.0).tolist() == []


@pytest.mark.parametrize("seed", range(20))
def test_inhibition_on_arrays_equals_inhibited_stepped(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 300
    firing = [rng.random(n) < rng.uniform(0.1, 0.9) for _ in range(int(rng.integers(1, 4)))]
    expected, higher = [], np.zeros(n, dtype=bool)
    for f in firing:
        was, opened = False, []
        for i in range(n):
            was = inhibited(was, bool(f[i]), bool(higher[i]))
            opened.append(was)
        expected.append(opened)
        higher = higher | np.array(opened)
    got = open_mask(firing)
    assert [g.tolist() for g in got] == expected
    assert [g.tolist() for g in got] == [g.tolist() for g in hysteresis.open_mask(firing)]
