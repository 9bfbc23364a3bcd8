"""The agent's write buffer: batches the store could not take (a full disk, a read-only mount)
wait here, in order, until it can; the oldest samples are dropped once the buffer is full.

A full disk must not lose what is already stored nor stop the agent: the evaluator is fed from
memory whatever happens to the write, so alerts still go out; the batches the store refused
are kept here (bounded by ``max_samples``, so memory is bounded by configuration, not by how
long the disk stays full) and written in arrival order by the next ``submit`` or ``flush`` once
the store accepts writes again. Overflow drops the oldest samples first (the newest are the ones
the next evaluation and a restart need most) and counts them.

Batches that wait are written together: a flush concatenates what waits (up to
``GROUP_SAMPLES``) into one store write, so sources whose scrapes end at the same moment share
one batch file (a group commit: fewer files to write, fsync and compact, and no sample is held
back: every ``submit`` returns once its batch is written or queued behind a failure). With
``linger_s`` a batch that finds nothing waiting waits that long for others before it is written
(the agent's sources are scraped on the same ticks, so their batches arrive within milliseconds):
one file for a tick of every source instead of one per source, at the cost of that delay.

A batch the store refuses for a reason other than I/O (a frame that does not match the schema,
which no collector produces) is not retried: it is dropped and counted, since retrying it would
block every batch behind it forever. A group the store refuses that way is written again batch
by batch, so only the malformed batch is dropped.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import polars as pl
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from redline.kernel.errors import StoreError

__all__ = [
    "DEFAULT_WRITE_BUFFER_SAMPLES",
    "GROUP_SAMPLES",
    "WRITE_LINGER_S",
    "WriteBuffer",
    "WriteBufferCollector",
    "WriteOutcome",
]

DEFAULT_WRITE_BUFFER_SAMPLES = 1_000_000
"""Samples held while the store cannot be written (about 100 MB at typical label sizes)."""

GROUP_SAMPLES = 200_000
"""The most samples one flush writes as one batch file (a single larger batch is written whole)."""

WRITE_LINGER_S = 0.05
"""How long the agent's first batch of a group waits for others (``WriteBuffer.linger_s``)."""


@dataclass(frozen=True)
class WriteOutcome:
    """What one ``submit``/``flush`` did: samples written, samples dropped, the failure if any."""

    written: int = 0
    dropped: int = 0
    error: StoreError | None = None


class WriteBuffer:
    """Writes batches through ``write`` (``SampleStore.append``); keeps the ones it refused.

    Thread-safe: collect jobs of different sources submit concurrently. While nothing is
    pending a batch is written directly (concurrent writers do not wait on each other); once
    something is pending, new batches queue behind it so the store receives them in order.
    """

    def __init__(
        self, write: Callable[[pl.DataFrame], object], max_samples: int = DEFAULT_WRITE_BUFFER_SAMPLES,
        *, linger_s: float = 0.0,
    ) -> None:
        if max_samples < 1:
            raise ValueError(f"max_samples must be at least 1, got {max_samples}")
        if linger_s < 0:
            raise ValueError(f"linger_s must not be negative, got {linger_s}")
        self._write = write
        self.max_samples = max_samples
        self.linger_s = linger_s
        """How long a group's first batch waits for others before it is written (0: not at all)."""
        self._group_due = 0.0  # time.monotonic() at which the waiting group is written
        self._pending: deque[pl.DataFrame] = deque()
        self._pending_samples = 0
        self._pending_bytes = 0
        self._lock = threading.Lock()  # guards the deque and its counts
        self._flushing = threading.Lock()  # one flusher at a time, so pending batches stay in order
        self._in_flight = 0  # how many head batches are being written: never trimmed
        self._changed = threading.Condition(self._lock)  # the group grew large, or was written
        self.dropped_samples = 0
        """Samples dropped since start (oldest first, on overflow; or refused as malformed)."""

    @property
    def buffered_samples(self) -> int:
        """Samples waiting to be written."""
        return self._pending_samples

    @property
    def buffered_bytes(self) -> int:
        """Estimated in-memory size of the samples waiting (polars' estimate)."""
        return self._pending_bytes

    def pending(self) -> list[pl.DataFrame]:
        """A snapshot of the batches waiting, oldest first (for a rebuild from the store + them)."""
        with self._lock:
            return list(self._pending)

    def submit(self, batch: pl.DataFrame) -> WriteOutcome:
        """Write ``batch`` after whatever is pending; keep it when the store refuses it.

        A batch that arrives while others wait (or while one is being written) joins the queue
        and is written with them, as one group. When it would not fit beside what waits, what
        waits is written first, so a store that takes writes again takes the backlog before the
        overflow check could drop any of it.
        """
        ahead = WriteOutcome()
        if self._pending and (batch.is_empty() or self._pending_samples + batch.height > self.max_samples):
            ahead = self.flush()
        if batch.is_empty():
            return ahead
        if ahead.error is None and self.linger_s > 0:
            dropped = self._enqueue(batch)
            self._linger(batch)
            outcome = self.flush()
            return WriteOutcome(ahead.written + outcome.written, ahead.dropped + dropped + outcome.dropped,
                                outcome.error)
        if ahead.error is None and self._flushing.acquire(blocking=False):
            try:
                if not self._pending:  # nothing ahead of it: write directly
                    outcome = self._write_one(batch)
                    return WriteOutcome(ahead.written + outcome.written, ahead.dropped + outcome.dropped,
                                        outcome.error)
            finally:
                self._flushing.release()
        dropped = self._enqueue(batch)
        outcome = self.flush() if ahead.error is None else WriteOutcome(error=ahead.error)
        return WriteOutcome(ahead.written + outcome.written, ahead.dropped + dropped + outcome.dropped,
                            outcome.error)

    def _linger(self, batch: pl.DataFrame) -> None:
        """Wait until the group ``batch`` joined is due (``linger_s`` after its first batch), holds
        ``GROUP_SAMPLES``, or ``batch`` left the queue (written by another submitter)."""
        with self._lock:
            while self._pending_samples < GROUP_SAMPLES and any(b is batch for b in self._pending):
                remaining = self._group_due - time.monotonic()
                if remaining <= 0:
                    return
                self._changed.wait(remaining)

    def _write_one(self, batch: pl.DataFrame) -> WriteOutcome:
        """Write a batch nothing waits ahead of (the caller holds ``_flushing``)."""
        try:
            self._write(batch)
        except StoreError as exc:
            if exc.__cause__ is None:
                return self._refused(batch, exc)
            return WriteOutcome(dropped=self._enqueue(batch), error=exc)
        return WriteOutcome(written=batch.height)

    def flush(self) -> WriteOutcome:
        """Write pending batches oldest first, those waiting together as one group (see the module
        docstring), until a write fails (what it held stays first in line)."""
        written = dropped = 0
        singles = 0  # after a group was refused as malformed: its batches one at a time
        with self._flushing:
            while True:
                with self._lock:
                    if not self._pending:
                        return WriteOutcome(written, dropped)
                    group = self._head_group(1 if singles else GROUP_SAMPLES)
                    self._in_flight = len(group)
                singles = max(0, singles - 1)
                frame = group[0] if len(group) == 1 else pl.concat(group, how="vertical", rechunk=False)
                try:
                    self._write(frame)
                except StoreError as exc:
                    if exc.__cause__ is not None:  # I/O: keep it first in line, try again later
                        with self._lock:
                            self._in_flight = 0
                        return WriteOutcome(written, dropped, exc)
                    if len(group) > 1:  # one of them is malformed: find it, write the others
                        with self._lock:
                            self._in_flight = 0
                        singles = len(group)
                        continue
                    self._pop(group)
                    dropped += self._refused(frame, exc).dropped
                    continue
                self._pop(group)
                written += frame.height

    def _head_group(self, max_samples: int) -> list[pl.DataFrame]:
        """The oldest pending batches holding at most ``max_samples`` (at least one batch); the
        caller holds ``_lock``."""
        group = [self._pending[0]]
        total = group[0].height
        for batch in itertools.islice(self._pending, 1, None):
            if total + batch.height > max_samples:
                break
            group.append(batch)
            total += batch.height
        return group

    def _pop(self, group: list[pl.DataFrame]) -> None:
        """Remove ``group`` (written, or refused for good) from the head."""
        with self._lock:
            self._in_flight = 0
            for batch in group:
                head = self._pending.popleft()
                assert head is batch, "the head batches are never trimmed while they are written"
                self._pending_samples -= batch.height
                self._pending_bytes -= int(batch.estimated_size())
            self._changed.notify_all()

    def _refused(self, batch: pl.DataFrame, exc: StoreError) -> WriteOutcome:
        with self._lock:
            self.dropped_samples += batch.height
        return WriteOutcome(dropped=batch.height, error=exc)

    def _enqueue(self, batch: pl.DataFrame) -> int:
        """Queue ``batch`` last; drop the oldest samples beyond ``max_samples``. Returns how many.

        The batches being written at this moment (the head group, in flight) are not trimmed:
        they are either stored in a moment or, if their write fails, trimmed by the next overflow.
        """
        dropped = 0
        with self._lock:
            if not self._pending:
                self._group_due = time.monotonic() + self.linger_s
            self._pending.append(batch)
            if self._pending_samples + batch.height >= GROUP_SAMPLES:
                self._changed.notify_all()
            self._pending_samples += batch.height
            self._pending_bytes += int(batch.estimated_size())
            first = min(self._in_flight, len(self._pending))
            while self._pending_samples > self.max_samples and len(self._pending) > first:
                excess = self._pending_samples - self.max_samples
                oldest = self._pending[first]
                self._pending_bytes -= int(oldest.estimated_size())
                if oldest.height > excess:  # keep the newest part of the oldest batch
                    kept = oldest.slice(excess)
                    self._pending[first] = kept
                    self._pending_bytes += int(kept.estimated_size())
                    cut = excess
                else:
                    del self._pending[first]
                    cut = oldest.height
                self._pending_samples -= cut
                dropped += cut
            self.dropped_samples += dropped
        return dropped


class WriteBufferCollector(Collector):
    """``redline_store_buffer_*``: what waits for the store, its limit, and what was dropped."""

    def __init__(self, buffer: WriteBuffer) -> None:
        self._buffer = buffer

    def collect(self) -> Iterator[Metric]:
        buffer = self._buffer
        samples = GaugeMetricFamily(
            "redline_store_buffer_samples", "Samples held in memory because the store could not be written."
        )
        samples.add_metric([], float(buffer.buffered_samples))
        size = GaugeMetricFamily(
            "redline_store_buffer_bytes", "Estimated memory of the samples held for the store."
        )
        size.add_metric([], float(buffer.buffered_bytes))
        limit = GaugeMetricFamily(
            "redline_store_buffer_max_samples",
            "Samples held at most (agent.write_buffer_samples); beyond, the oldest are dropped.",
        )
        limit.add_metric([], float(buffer.max_samples))
        dropped = CounterMetricFamily(
            "redline_store_buffer_dropped_samples",
            "Samples never stored: dropped oldest-first from a full write buffer (or refused as malformed).",
        )
        dropped.add_metric([], float(buffer.dropped_samples))
        yield from (samples, size, limit, dropped)
