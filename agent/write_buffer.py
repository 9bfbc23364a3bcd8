"""The agent's write buffer: batches the store could not take (a full disk, a read-only mount)
wait here, in order, until it can; the oldest samples are dropped once the buffer is full.

A full disk must not lose what is already stored nor stop the agent: the evaluator is fed from
memory whatever happens to the write, so alerts still go out; the batches the store refused
are kept here (bounded by ``max_samples``, so memory is bounded by configuration, not by how
long the disk stays full) and written in arrival order by the next ``submit`` or ``flush`` once
the store accepts writes again. Overflow drops the oldest samples first (the newest are the ones
the next evaluation and a restart need most) and counts them.

A batch the store refuses for a reason other than I/O (a frame that does not match the schema,
which no collector produces) is not retried: it is dropped and counted, since retrying it would
block every batch behind it forever.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import polars as pl
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from redline.kernel.errors import StoreError

__all__ = ["DEFAULT_WRITE_BUFFER_SAMPLES", "WriteBuffer", "WriteBufferCollector", "WriteOutcome"]

DEFAULT_WRITE_BUFFER_SAMPLES = 1_000_000
"""Samples held while the store cannot be written (about 100 MB at typical label sizes)."""


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
        self, write: Callable[[pl.DataFrame], object], max_samples: int = DEFAULT_WRITE_BUFFER_SAMPLES
    ) -> None:
        if max_samples < 1:
            raise ValueError(f"max_samples must be at least 1, got {max_samples}")
        self._write = write
        self.max_samples = max_samples
        self._pending: deque[pl.DataFrame] = deque()
        self._pending_samples = 0
        self._pending_bytes = 0
        self._lock = threading.Lock()  # guards the deque and its counts
        self._flushing = threading.Lock()  # one flusher at a time, so pending batches stay in order
        self._in_flight: pl.DataFrame | None = None  # the head batch being written: never trimmed
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

        What waits is written first, so a store that takes writes again takes the backlog
        before the overflow check could drop any of it.
        """
        ahead = self.flush() if self._pending else WriteOutcome()
        if batch.is_empty():
            return ahead
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
        """Write pending batches oldest first, until one fails (it stays first in line)."""
        written = dropped = 0
        with self._flushing:
            while True:
                with self._lock:
                    if not self._pending:
                        return WriteOutcome(written, dropped)
                    batch = self._in_flight = self._pending[0]
                try:
                    self._write(batch)
                except StoreError as exc:
                    if exc.__cause__ is not None:  # I/O: keep it first in line, try again later
                        with self._lock:
                            self._in_flight = None
                        return WriteOutcome(written, dropped, exc)
                    self._pop(batch)
                    dropped += self._refused(batch, exc).dropped
                    continue
                self._pop(batch)
                written += batch.height

    def _pop(self, batch: pl.DataFrame) -> None:
        """Remove ``batch`` (written, or refused for good) from the head."""
        with self._lock:
            self._in_flight = None
            head = self._pending.popleft()
            assert head is batch, "the head batch is never trimmed while it is written"
            self._pending_samples -= batch.height
            self._pending_bytes -= int(batch.estimated_size())

    def _refused(self, batch: pl.DataFrame, exc: StoreError) -> WriteOutcome:
        with self._lock:
            self.dropped_samples += batch.height
        return WriteOutcome(dropped=batch.height, error=exc)

    def _enqueue(self, batch: pl.DataFrame) -> int:
        """Queue ``batch`` last; drop the oldest samples beyond ``max_samples``. Returns how many.

        The batch being written at this moment (the head, in flight) is not trimmed: it is
        either stored in a moment or, if its write fails, trimmed by the next overflow.
        """
        dropped = 0
        with self._lock:
            self._pending.append(batch)
            self._pending_samples += batch.height
            self._pending_bytes += int(batch.estimated_size())
            first = 1 if self._pending and self._pending[0] is self._in_flight else 0
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
