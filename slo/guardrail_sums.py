"""One evaluation's spend and inference figures per guardrail template: what both kinds of
guardrail (``slo.guardrail_budgets``, ``slo.guardrail_costs``) read.

A template is one spend or inference selector with its counter semantics and showback labels
(``slo.guardrail_store.Template``); its tracks are its series grouped by those labels. At an
instant ``at``, for every window column ``w`` (``WindowColumns``: the burn windows first, then the
period and cost windows asked at this evaluation)::

    increase[template, w] = Σ over the template's tracks of the track's increase over (at − w, at]
    newest_ms[template]   = max over its tracks of the newest sample at or before at   (−inf: none)
    first_ms[template]    = min over its tracks of the first sample, if at or before at (+inf: none)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from redline.slo.guardrail_store import SpendTracks
from redline.slo.ratio_table import BURN_MS
from redline.slo.series.cumulative import NO_TS
from redline.slo.spec import BURN_WINDOWS

__all__ = [
    "BURN_MS_ARRAY",
    "BURN_SECONDS",
    "DAY_COLUMN",
    "DAY_MS",
    "RECENT_WINDOWS",
    "Guard",
    "TemplateSums",
    "WindowColumns",
    "template_sums",
]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

DAY_MS = 86_400_000
BURN_MS_ARRAY: I64 = np.asarray(BURN_MS, dtype=np.int64)
"""The burn windows in milliseconds, in ``BURN_WINDOWS`` order (the first window columns)."""
BURN_SECONDS: F64 = BURN_MS_ARRAY / 1000.0
DAY_COLUMN = BURN_MS.index(DAY_MS)
"""The window column of the last day (a budget's run rate)."""
RECENT_WINDOWS: tuple[tuple[str, int], ...] = (("1d", BURN_WINDOWS.index("1d")), ("6h", BURN_WINDOWS.index("6h")))
"""The windows a cost guardrail's warning looks at, first found first: the last day, else 6 hours."""


@dataclass(frozen=True)
class Guard:
    """What every guardrail's result names, whatever its kind."""

    position: int
    """In the configuration (the evaluator returns results in that order)."""
    name: str
    dimension: str
    currency: str | None


class WindowColumns:
    """The window lengths (ms) asked at one evaluation, a column each: the burn windows first, then
    each other length once, in the order first asked."""

    def __init__(self) -> None:
        self._columns: dict[int, int] = {w: i for i, w in enumerate(BURN_MS)}

    def column(self, window_ms: int) -> int:
        """The column of ``window_ms`` (added when new)."""
        return self._columns.setdefault(window_ms, len(self._columns))

    def __len__(self) -> int:
        return len(self._columns)

    def lengths_ms(self) -> I64:
        """Every window length, in column order."""
        return np.asarray(list(self._columns), dtype=np.int64)


@dataclass(frozen=True)
class TemplateSums:
    """The figures of the module docstring, for every template (rows) and window column."""

    increase: F64
    newest_ms: F64
    first_ms: F64
    track_increase: F64
    """Per track and window column: the increase (showback reads it)."""


def template_sums(store: SpendTracks, at_ms: int, windows: WindowColumns, need: npt.NDArray[np.bool_]) -> TemplateSums:
    """Every template's figures at ``at_ms``; ``need[template, column]`` says which increases are
    read (the others are not looked up)."""
    track_increase = store.track_increases(at_ms, windows.lengths_ms(), need)
    _, value_sides, time_sides = store.track_arrays()
    newest = store.newest_at(at_ms, time_sides)
    first = store.first_ts(value_sides)
    template_tracks = store.template_tracks
    n_templates = len(template_tracks)
    increase = np.zeros((n_templates, track_increase.shape[1]), dtype=np.float64)
    newest_ms = np.full(n_templates, -np.inf)
    first_ms = np.full(n_templates, np.inf)
    track_counts = np.asarray([len(tracks) for tracks in template_tracks], dtype=np.int64)
    has_tracks = np.flatnonzero(track_counts > 0)
    if len(has_tracks):
        # Tracks ordered template by template: each template's tracks are one contiguous slice.
        order = np.asarray([t for tracks in template_tracks for t in tracks], dtype=np.int64)
        slice_starts = (np.cumsum(track_counts) - track_counts)[has_tracks]
        increase[has_tracks] = np.add.reduceat(track_increase[order], slice_starts, axis=0)
        newest_ms[has_tracks] = np.maximum.reduceat(newest[order], slice_starts)
        first_seen = np.where((first != NO_TS) & (first <= at_ms), first, np.inf)[order].astype(np.float64)
        first_ms[has_tracks] = np.minimum.reduceat(first_seen, slice_starts)
    return TemplateSums(increase, newest_ms, first_ms, track_increase)
