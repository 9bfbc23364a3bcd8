"""Cumulative sides pooled in ``CounterSides`` blocks by ring length, for readers whose sides
come and go with their series (the cost guardrails' tracks, ``slo.guardrail_store``).

Each block holds sides of one ring length (in minutes) and is sized to the sides it was made
for, so one quarter-long budget does not make every side keep 93 days. Every window is
``value(at) − value(at − W)``, never extrapolated (spend is summed, not rated).
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
            blocks = [b for b, k in enumerate(self._block_keep) if k == keep]
            if blocks:  # fill the last block of this ring length first
                b = blocks[-1]
                room = self.blocks[b].n - len(self._block_sides[b])
                self._place(b, sides[:room])
                sides = sides[room:]
            if sides:
                # room for as many again as the ring length holds (at most BLOCK_SIDES): sides that
                # trickle in take few blocks; a cold start's block is exactly its size
                held = sum(len(self._block_sides[b]) for b in blocks)
                size = max(len(sides), min(BLOCK_SIDES, held))
                # fine_span_ms=0: every window is value(at) - value(at - W), never extrapolated
                self.blocks.append(CounterSides(size, keep_minutes=keep, fine_span_ms=0))
                self._block_keep.append(keep)
                self._block_sides.append([])
                self._block_ids.append(np.zeros(0, dtype=np.int64))
                self._place(len(self.blocks) - 1, sides)

    def _place(self, b: int, sides: list[int]) -> None:
        if not sides:
            return
        local = len(self._block_sides[b])
        ids = np.asarray(sides, dtype=np.int64)
        self._side_block[ids] = b
        self._side_local[ids] = np.arange(local, local + len(sides))
        self._block_sides[b].extend(sides)
        self._block_ids[b] = np.asarray(self._block_sides[b], dtype=np.int64)

    def at(self, side: int) -> tuple[CounterSides, int]:
        self._materialise()
        return self.blocks[int(self._side_block[side])], int(self._side_local[side])

    def _split(self, sides: I64) -> list[tuple[CounterSides, npt.NDArray[np.bool_] | None, I64]]:
        """Per block: (block, selection of ``sides`` in it or ``None`` for all, local ids)."""
        self._materialise()
        blk = self._side_block[sides]
        if len(blk) and (blk == blk[0]).all():
            return [(self.blocks[int(blk[0])], None, self._side_local[sides])]
        out: list[tuple[CounterSides, npt.NDArray[np.bool_] | None, I64]] = []
        for b in np.unique(blk).tolist():
            sel = blk == b
            out.append((self.blocks[b], sel, self._side_local[sides[sel]]))
        return out

    def gather(self, name: Literal["first_ts", "last_ts", "last_minute"], sides: I64) -> I64:
        """A per-side attribute of ``CounterSides`` for many sides."""
        out = np.empty(len(sides), dtype=np.int64)
        for block, sel, local in self._split(sides):
            if sel is None:
                out[:] = getattr(block, name)[local]
            else:
                out[sel] = getattr(block, name)[local]
        return out

    def append_points(self, sides: I64, ts: I64, steps: F64) -> None:
        if len(sides) == 0:
            return
        for block, sel, local in self._split(sides):
            if sel is None:
                block.append_points(local, ts, steps)
            else:
                block.append_points(local, ts[sel], steps[sel])

    def add(self, side: int, parts: Sequence[tuple[I64, F64]]) -> None:
        """Add points (per part strictly ascending); those not newer than the side's newest are
        folded in as late points."""
        cs, s = self.at(side)
        last = int(cs.last_ts[s])
        new: list[tuple[I64, F64]] = []
        late_t: list[I64] = []
        late_i: list[F64] = []
        for ts, inc in parts:
            if last != NO_TS and len(ts) and int(ts[0]) <= last:
                j = int(np.searchsorted(ts, last, side="right"))
                late_t.append(ts[:j])
                late_i.append(inc[:j])
                ts, inc = ts[j:], inc[j:]
            if len(ts):
                new.append((ts, inc))
        if late_t:
            cs.merge_late_parts(s, late_t, late_i)
        if new:
            cs.append(s, new)

    def increases(self, at_ms: int, windows_ms: I64, need: npt.NDArray[np.bool_] | None = None) -> F64:
        """Every side's ``value(at) - value(at - W)`` (0 before its first sample). With ``need``
        (sides × windows), a block looks up only the windows some of its sides need; the others
        are left 0."""
        self._materialise()
        nw = len(windows_ms)
        out = np.zeros((self.n, nw), dtype=np.float64)
        for block, ids in zip(self.blocks, self._block_ids, strict=True):
            cols = np.arange(nw) if need is None else np.flatnonzero(need[ids].any(axis=0))
            if len(cols) == nw:
                out[ids] = block.increases(at_ms, windows_ms)[0][: len(ids)]
            elif len(cols):
                out[np.ix_(ids, cols)] = block.increases(at_ms, windows_ms[cols])[0][: len(ids)]
        return out

    def values_at(self, at_ms: int, sides: I64) -> F64:
        """Each side's value at ``at`` (latest point at or before; 0 before its first point).
        Sides whose newest point is at or before ``at`` answer from ``last_value``; the rest (an
        evaluation in the past) read their block."""
        self._materialise()
        out = np.zeros(len(sides), dtype=np.float64)
        if len(sides) == 0:
            return out
        for block, sel, local in self._split(sides):
            first, last = block.first_ts[local], block.last_ts[local]
            has = (first != NO_TS) & (first <= at_ms)
            v = np.where(has, block.last_value[local], 0.0)
            past = np.flatnonzero(has & (last > at_ms))
            if len(past):
                window = np.asarray([at_ms - int(first[past].min()) + 1], dtype=np.int64)
                v[past] = block.increases(at_ms, window)[0][local[past], 0]
            if sel is None:
                out[:] = v
            else:
                out[sel] = v
        return out

    def nbytes(self) -> int:
        return sum(b.nbytes() for b in self.blocks)
