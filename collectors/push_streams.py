"""Per-stream state of an OTLP receiver: what makes pushed points into Prometheus-style series.

A stream is one metric's points with one label set. For each the receiver keeps the time of its
last point and its start time, and for a delta stream the running totals:

- **delta** points (a Sum's, a histogram's) are added into cumulative counters, so the stored
  series are counters as a scrape would have them. A delta whose start time is before the previous
  point's time overlaps what was already counted and is rejected (its start time went backwards).
- a **cumulative** stream whose start time moves forward was reset (the process restarted): a 0 is
  written at the new start time, so the reset is seen even when the new count already exceeds the
  old one. A start time that moves backwards is rejected.
- a brand-new delta stream gets a 0 at its start time as well (1 ms before its point when both
  fall in the same millisecond), so its first delta is counted.
- a point older than the stream's last is dropped as **out of order**, one at the same time as a
  **duplicate**; both are counted, not rejected (the OTLP spec lets a receiver drop them).

Updates are staged per request (``StreamUpdates``) and kept only once the request is accepted
whole, so a request refused over a limit leaves every stream as it was.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Final, NamedTuple

__all__ = ["MAX_FUTURE_MS", "StreamKey", "StreamState", "StreamTable", "StreamUpdates", "new_millisecond"]

MAX_FUTURE_MS: Final = 10 * 60 * 1000
"""A point more than this ahead of the receiver's clock is rejected (a sender's clock is wrong)."""

_NS_PER_MS: Final = 1_000_000

StreamKey = tuple[str, str]
"""(family name as stored, canonical label string)."""


class StreamState(NamedTuple):
    """What the receiver remembers of one stream (a named tuple: one is made per point, and a
    tuple is made several times faster than a frozen dataclass)."""

    start_ns: int
    last_ns: int
    totals: tuple[float, ...] = ()
    """Delta streams: the running totals (a Sum: its value; a histogram: count, sum, then buckets)."""
    bounds: tuple[float, ...] = ()
    """Delta histograms: the bucket bounds the totals were accumulated on."""


@dataclass
class StreamUpdates:
    """The state changes of one request, read through before the table and kept by ``commit``."""

    table: StreamTable
    changed: dict[StreamKey, StreamState] = field(default_factory=dict)
    new_streams: int = 0

    def get(self, key: StreamKey) -> StreamState | None:
        """The stream's state as this request has left it so far."""
        state = self.changed.get(key)
        return state if state is not None else self.table.get(key)

    def put(self, key: StreamKey, state: StreamState, *, known: bool | None = None) -> None:
        """Stage a stream's new state; ``known``: whether ``get`` found the stream (spares looking again)."""
        if known is None:
            known = key in self.changed or self.table.get(key) is not None
        if not known:
            self.new_streams += 1
        self.changed[key] = state


class StreamTable:
    """Every stream a receiver has seen, bounded by ``max_streams`` (0: no bound). Thread-safe."""

    def __init__(self, max_streams: int) -> None:
        self.max_streams = max_streams
        self._streams: dict[StreamKey, StreamState] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._streams)

    def get(self, key: StreamKey) -> StreamState | None:
        """The committed state of a stream."""
        return self._streams.get(key)

    def has_room(self, updates: StreamUpdates) -> bool:
        """Whether one more new stream fits beside those already staged."""
        return not self.max_streams or len(self._streams) + updates.new_streams < self.max_streams

    def begin(self) -> StreamUpdates:
        """Staged updates for one request."""
        return StreamUpdates(self)

    def commit(self, updates: StreamUpdates) -> None:
        """Keep a request's updates."""
        with self._lock:
            self._streams.update(updates.changed)

    def forget_stale(self, before_ns: int) -> int:
        """Forget the streams whose last point is older than ``before_ns``; returns how many. A
        forgotten delta stream that comes back starts again from 0, which the engine reads as a
        counter reset (nothing counted twice, nothing lost)."""
        with self._lock:
            stale = [key for key, state in self._streams.items() if state.last_ns < before_ns]
            for key in stale:
                del self._streams[key]
        return len(stale)


def advance(state: StreamState | None, start_ns: int, time_ns: int, *, delta: bool) -> tuple[str | None, int | None]:
    """Check a point against its stream: ``(reason, zero_at_ns)``.

    ``reason`` is why the point is not taken (``"out of order"``, ``"duplicate"`` — dropped and
    counted — or a rejection such as a start time going backwards), ``None`` when taken;
    ``zero_at_ns`` is the time to write a 0 at first (a reset, or a new delta stream's start).
    """
    if state is not None:
        # a delta's increments count even when two of its points share a millisecond (the row of
        # the second waits for the next point, which carries the total); other points are stored
        # in ms, so a second one in the same ms is a duplicate
        last, now = (state.last_ns, time_ns) if delta else (state.last_ns // _NS_PER_MS, time_ns // _NS_PER_MS)
        if now < last:
            return "out of order", None
        if now == last:
            return "duplicate", None
    if delta:
        if state is None:  # the 0 needs a millisecond of its own: its start's, or the one before the point's
            if not start_ns:
                return None, None
            time_ms = time_ns // _NS_PER_MS
            return None, start_ns if start_ns // _NS_PER_MS < time_ms else (time_ms - 1) * _NS_PER_MS
        if start_ns and start_ns < state.last_ns:
            return (
                f"delta start time {start_ns} ns goes backwards, before the previous point's time "
                f"{state.last_ns} ns (it would count an interval twice)"
            ), None
        return None, None
    if state is None or not start_ns or start_ns == state.start_ns:
        return None, None
    if start_ns < state.start_ns:
        return f"start time {start_ns} ns goes backwards from {state.start_ns} ns", None
    # a reset: a 0 at the new start, when it has a millisecond of its own after the last point
    return None, start_ns if start_ns // _NS_PER_MS > state.last_ns // _NS_PER_MS else None


def accumulate(
    state: StreamState | None, start_ns: int, time_ns: int, values: tuple[float, ...], bounds: tuple[float, ...] = ()
) -> StreamState:
    """The state after a delta point of ``values`` (on ``bounds`` for a histogram) is added."""
    if state is None or not state.totals:
        return StreamState(start_ns, time_ns, values, bounds)
    totals = tuple(a + b for a, b in zip(state.totals, values, strict=True))
    return state._replace(last_ns=time_ns, totals=totals)


def new_millisecond(state: StreamState | None, time_ns: int) -> bool:
    """Whether a point at ``time_ns`` falls in a later millisecond than the stream's last (a row
    is written for it; a delta point in the same millisecond only adds to the totals)."""
    return state is None or time_ns // _NS_PER_MS > state.last_ns // _NS_PER_MS
