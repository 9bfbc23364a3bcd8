"""The pipeline every push receiver runs a request through, once its body is parsed.

Translate into rows (staging stream updates), check the source limits (a request over
``sample_limit`` or a label limit is refused whole), keep the stream updates, hand the frame and
the health to the sink, count every point by outcome. One request at a time per receiver, so the
staged stream updates of two requests never interleave (parsing, the costly part for a big body,
happens before, outside the lock).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final

import polars as pl

from redline.collectors.base import CollectResult, SourceHealth
from redline.collectors.push_streams import StreamTable, StreamUpdates
from redline.collectors.receiver import ReceiverSettings, SampleSink
from redline.kernel.fields import SAMPLE_SCHEMA, empty_samples

__all__ = ["STALE_AFTER_MS", "PushPipeline", "PushReceiver", "Translation", "rejection_message"]

_SHOWN_REASONS: Final = 5
STALE_AFTER_MS: Final = 15 * 60 * 1000
"""A stream without a point for this long is forgotten once the table is full (``max_streams``)."""
_PRUNE_EVERY_MS: Final = 60_000


@dataclass
class Translation:
    """The rows of one request, and what it did not take."""

    rows: list[tuple[str, str, int, float]] = field(default_factory=list)
    """(metric, canonical labels, timestamp ms, value)."""
    points: int = 0
    over: str | None = None
    """The first series limit a new stream breaks (the request is then refused whole)."""
    rejected: Counter[str] = field(default_factory=Counter)
    """Rejected points by reason (``metric: why``)."""
    dropped: Counter[str] = field(default_factory=Counter)
    """Dropped points: ``out of order``, ``duplicate``."""
    notes: list[str] = field(default_factory=list)
    """Problems that reject nothing (a model without a price)."""

    @property
    def rejected_points(self) -> int:
        """How many points were rejected."""
        return sum(self.rejected.values())

    def frame(self) -> pl.DataFrame:
        """The rows as a sample frame, sorted by series then time."""
        if not self.rows:
            return empty_samples()
        metrics, labels, stamps, values = zip(*self.rows, strict=True)
        frame = pl.DataFrame(
            {"metric": metrics, "labels": labels, "timestamp": stamps, "value": values}, schema=SAMPLE_SCHEMA
        )
        return frame.sort("metric", "labels", "timestamp", maintain_order=True)


def rejection_message(rejected: Counter[str]) -> str:
    """The most frequent rejection reasons with their counts (an answer's error message)."""
    shown = [f"{reason} (x{count})" for reason, count in rejected.most_common(_SHOWN_REASONS)]
    more = len(rejected) - len(shown)
    return "; ".join(shown) + (f"; and {more} more reasons" if more > 0 else "")


class PushPipeline:
    """The state and the request pipeline of one receiver. Thread-safe."""

    def __init__(
        self, config: ReceiverSettings, max_streams: int, sink: SampleSink, clock: Callable[[], float], kind: str
    ) -> None:
        self.config = config
        self.sink = sink
        self.clock = clock
        self.streams = StreamTable(max_streams)
        self._where = f"receiver {config.name!r} ({kind})"
        self._lock = threading.Lock()
        self._pruned_ms = 0
        self.points: Counter[str] = Counter()
        """Points by outcome: accepted, rejected, out_of_order, duplicate."""

    def run(self, translate: Callable[[StreamUpdates, int], Translation]) -> Translation:
        """``translate(updates, now_ms)``, then limits, commit, sink and counts (see the module)."""
        started = time.monotonic()
        now_ms = int(self.clock() * 1000)
        with self._lock:
            table = self.streams
            if table.max_streams and len(table) >= table.max_streams and now_ms - self._pruned_ms > _PRUNE_EVERY_MS:
                self._pruned_ms = now_ms  # full: make room from streams gone quiet (at most once a minute)
                table.forget_stale((now_ms - STALE_AFTER_MS) * 1_000_000)
            updates = table.begin()
            out = translate(updates, now_ms)
            over = out.over or self.config.limits.samples_error(len(out.rows))
            if over is None:
                samples = out.frame()
                self.streams.commit(updates)
            else:
                samples = empty_samples()
                out.rejected.clear()
                out.rejected[f"request refused whole: {over}"] = out.points
            health = SourceHealth(
                source=self.config.name,
                ok=over is None,
                error=f"{self._where}: {over}" if over is not None else None,
                duration_seconds=time.monotonic() - started,
                samples=samples.height,
                timestamp_ms=now_ms,
                problems=self._problems(out.notes, out.rejected),
            )
            self.sink.accept(self.config.name, CollectResult(health, samples))
            rejected, dropped = out.rejected_points, sum(out.dropped.values())
            self.points["rejected"] += rejected
            self.points["out_of_order"] += out.dropped["out of order"]
            self.points["duplicate"] += out.dropped["duplicate"]
            self.points["accepted"] += max(0, out.points - rejected - dropped)
        return out

    @staticmethod
    def _problems(notes: Sequence[str], rejected: Counter[str]) -> tuple[str, ...]:
        return (*notes, *(f"{reason} (x{n})" for reason, n in rejected.most_common(_SHOWN_REASONS)))


class PushReceiver:
    """What a receiver kind builds on: its config, its pipeline, the counts it keeps."""

    def __init__(self, config: ReceiverSettings, sink: SampleSink, clock: Callable[[], float], kind: str) -> None:
        self.config = config
        self.pipeline = PushPipeline(config, config.max_streams, sink, clock, kind)

    @property
    def streams(self) -> StreamTable:
        """The streams (series) this receiver remembers."""
        return self.pipeline.streams

    @property
    def points(self) -> Counter[str]:
        """Points by outcome: accepted, rejected, out_of_order, duplicate."""
        return self.pipeline.points

    def retry_after(self) -> dict[str, str]:
        """The ``Retry-After`` header of a 429 or 503."""
        return {"Retry-After": str(max(1, round(self.config.retry_after)))}
