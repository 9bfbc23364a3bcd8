"""Cumulative sides pooled in ``CounterSides`` blocks by ring length, for readers whose sides
come and go with their series (the cost guardrails' tracks, ``slo.guardrail_store``).

Each block holds sides of one ring length (in minutes) and is sized to the sides it was made
for, so one quarter-long budget does not make every side keep 93 days. Every window is
``cumulative(at) − cumulative(at − W)``, never extrapolated (spend is summed, not rated).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import numpy.typing as npt

from redline.slo.series.cumulative import NO_TS, CounterSides

__all__ = ["SidePool"]

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]
Split = list[tuple[CounterSides, Bools | None, I64]]

BLOCK_SIDES = 64
"""Most spare sides a new ``CounterSides`` block is given."""


class SidePool:
    """Side ids over ``CounterSides`` blocks. Each block holds sides of one ring length (in
    minutes) and is sized to the sides it was made for: a side is *pending* from ``new`` until
    the next operation, which allocates all pending sides of a ring length in one block (a cold
    start: one block per ring length, nothing kept for sides that never come)."""

    def __init__(self) -> None:
        self.blocks: list[CounterSides] = []
        self._block_keep: list[int] = []
        self._block_sides: list[list[int]] = []  # global side ids in local order
        self._block_ids: list[I64] = []
        self._side_block = np.zeros(0, dtype=np.int64)
        self._side_local = np.zeros(0, dtype=np.int64)
        self._pending: list[tuple[int, int]] = []
        self.n = 0

    def new(self, keep_minutes: int) -> int:
        """A new side whose ring holds at least ``keep_minutes``."""
        self._pending.append((self.n, keep_minutes))
        self.n += 1
        return self.n - 1

    def _materialise(self) -> None:
        if not self._pending:
            return
        grow = self.n - len(self._side_block)
        self._side_block = np.concatenate([self._side_block, np.full(grow, -1, dtype=np.int64)])
        self._side_local = np.concatenate([self._side_local, np.full(grow, -1, dtype=np.int64)])
        by_keep: dict[int, list[int]] = {}
        for side, keep in self._pending:
            by_keep.setdefault(keep, []).append(side)
        self._pending = []
        for keep, sides in by_keep.items():
            same_keep = [block for block, k in enumerate(self._block_keep) if k == keep]
            if same_keep:  # fill the last block of this ring length first
                last = same_keep[-1]
                room = self.blocks[last].n - len(self._block_sides[last])
                self._place(last, sides[:room])
                sides = sides[room:]
            if sides:
                # room for as many again as the ring length holds (at most BLOCK_SIDES): sides that
                # trickle in take few blocks; a cold start's block is exactly its size
                held = sum(len(self._block_sides[block]) for block in same_keep)
                size = max(len(sides), min(BLOCK_SIDES, held))
                # fine_span_ms=0: every window is cumulative(at) - cumulative(at - W), never extrapolated
                self.blocks.append(CounterSides(size, keep_minutes=keep, fine_span_ms=0))
                self._block_keep.append(keep)
                self._block_sides.append([])
                self._block_ids.append(np.zeros(0, dtype=np.int64))
                self._place(len(self.blocks) - 1, sides)

    def _place(self, block: int, sides: list[int]) -> None:
        if not sides:
            return
        first_local = len(self._block_sides[block])
        ids = np.asarray(sides, dtype=np.int64)
        self._side_block[ids] = block
        self._side_local[ids] = np.arange(first_local, first_local + len(sides))
        self._block_sides[block].extend(sides)
        self._block_ids[block] = np.asarray(self._block_sides[block], dtype=np.int64)

    def at(self, side: int) -> tuple[CounterSides, int]:
        """The block holding ``side`` and its id there."""
        self._materialise()
        return self.blocks[int(self._side_block[side])], int(self._side_local[side])

    def _split(self, sides: I64) -> Split:
        """Per block: (block, selection of ``sides`` in it or ``None`` for all, local ids)."""
        self._materialise()
        block_of = self._side_block[sides]
        if len(block_of) and (block_of == block_of[0]).all():
            return [(self.blocks[int(block_of[0])], None, self._side_local[sides])]
        out: Split = []
        for block in np.unique(block_of).tolist():
            selected = block_of == block
            out.append((self.blocks[block], selected, self._side_local[sides[selected]]))
        return out

    def gather(self, name: Literal["first_ts", "last_ts", "last_minute"], sides: I64) -> I64:
        """A per-side attribute of ``CounterSides`` for many sides."""
        out = np.empty(len(sides), dtype=np.int64)
        for block, selected, local in self._split(sides):
            out[slice(None) if selected is None else selected] = getattr(block, name)[local]
        return out

    def takes_one_point(self, sides: I64, time_ms: I64) -> Bools:
        """``CounterSides.takes_one_point`` for many sides."""
        out = np.empty(len(sides), dtype=np.bool_)
        for block, selected, local in self._split(sides):
            mine = slice(None) if selected is None else selected
            out[mine] = block.takes_one_point(local, time_ms[mine])
        return out

    def append_points(self, sides: I64, ts: I64, steps: F64) -> None:
        """``CounterSides.append_points`` for many sides."""
        if len(sides) == 0:
            return
        for block, selected, local in self._split(sides):
            mine = slice(None) if selected is None else selected
            block.append_points(local, ts[mine], steps[mine])

    def add(self, side: int, parts: Sequence[tuple[I64, F64]]) -> None:
        """Add points (per part strictly ascending); those not newer than the side's newest are
        folded in as late points."""
        block, local = self.at(side)
        newest_ms = int(block.last_ts[local])
        new: list[tuple[I64, F64]] = []
        late_times: list[I64] = []
        late_increments: list[F64] = []
        for times, increments in parts:
            if newest_ms != NO_TS and len(times) and int(times[0]) <= newest_ms:
                n_late = int(np.searchsorted(times, newest_ms, side="right"))
                late_times.append(times[:n_late])
                late_increments.append(increments[:n_late])
                times, increments = times[n_late:], increments[n_late:]
            if len(times):
                new.append((times, increments))
        if late_times:
            block.merge_late_parts(local, late_times, late_increments)
        if new:
            block.append(local, new)

    def increases(self, at_ms: int, windows_ms: I64, need: Bools | None = None) -> F64:
        """Every side's ``cumulative(at) − cumulative(at − W)`` (0 before its first sample). With
        ``need`` (sides × windows), a block looks up only the windows some of its sides need; the
        others are left 0."""
        self._materialise()
        n_windows = len(windows_ms)
        out = np.zeros((self.n, n_windows), dtype=np.float64)
        for block, ids in zip(self.blocks, self._block_ids, strict=True):
            columns = np.arange(n_windows) if need is None else np.flatnonzero(need[ids].any(axis=0))
            if len(columns) == n_windows:
                out[ids] = block.increases(at_ms, windows_ms)[0][: len(ids)]
            elif len(columns):
                out[np.ix_(ids, columns)] = block.increases(at_ms, windows_ms[columns])[0][: len(ids)]
        return out

    def values_at(self, at_ms: int, sides: I64) -> F64:
        """Each side's cumulative count at ``at`` (latest point at or before; 0 before its first
        point). Sides whose newest point is at or before ``at`` answer from ``last_value``; the
        rest (an evaluation in the past) read their block: the increase over ``[first, at]``."""
        self._materialise()
        out = np.zeros(len(sides), dtype=np.float64)
        if len(sides) == 0:
            return out
        for block, selected, local in self._split(sides):
            first, last = block.first_ts[local], block.last_ts[local]
            has = (first != NO_TS) & (first <= at_ms)
            cumulative = np.where(has, block.last_value[local], 0.0)
            past = np.flatnonzero(has & (last > at_ms))
            if len(past):
                since_first = np.asarray([at_ms - int(first[past].min()) + 1], dtype=np.int64)
                cumulative[past] = block.increases(at_ms, since_first)[0][local[past], 0]
            out[slice(None) if selected is None else selected] = cumulative
        return out

    def nbytes(self) -> int:
        """Bytes held by every block."""
        return sum(block.nbytes() for block in self.blocks)
