"""Remote write out: Redline's computed series pushed to a Prometheus-compatible store (remote
write 1.0: a snappy-compressed protobuf ``WriteRequest``), with the standard queue behaviour.

- **A bounded buffer on disk that survives restarts.** Each evaluation's series are one record
  file under ``<data_dir>/remote_write/<name>/`` (written whole: temporary file, fsync, rename),
  named by sequence and sample count. Over ``buffer_max_bytes`` the oldest records are dropped and
  counted. A restarted agent sends what its predecessor left, in order.
- **Batching.** The sender joins the oldest records into one request of up to
  ``max_samples_per_send`` samples (serialized ``WriteRequest``s concatenate into one).
- **Retry with backoff** on a 5xx, a 429 (its ``Retry-After`` honoured) or a transport error:
  from ``min_backoff`` doubling to ``max_backoff``, the batch kept first in line.
- **No retry on another 4xx** (the store will never take it): the batch is dropped, counted and
  logged once per status.

One sender thread per target; ``start``/``shutdown`` as the agent's other workers.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import httpx
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from redline.agent.remote_series import Point, report_series
from redline.alerts.state import AlertRecord
from redline.collectors.prompb import WriteRequest, snappy_compress
from redline.config import LoadedConfig, RemoteWriteOutConfig
from redline.kernel.secrets import secret_from_env
from redline.slo.results import StatusReport
from redline.slo.spec import SLOSpec

__all__ = ["RemoteWriteQueue", "RemoteWriteQueueCollector", "SendOutcome", "build_queues", "push_report"]

log = logging.getLogger("redline.agent.remote_write")

_SUFFIX: Final = ".rw"
HEADERS: Final = {
    "Content-Encoding": "snappy",
    "Content-Type": "application/x-protobuf",
    "X-Prometheus-Remote-Write-Version": "0.1.0",
    "User-Agent": "redline-remote-write",
}


@dataclass(frozen=True)
class SendOutcome:
    """What one send attempt did: samples sent, samples dropped (4xx), and whether to retry."""

    sent: int = 0
    dropped: int = 0
    retry: bool = False
    wait_s: float | None = None
    """A server's ``Retry-After``, when it gave one."""


def _encode(points: list[Point], at_ms: int) -> bytes:
    request = WriteRequest()
    for name, labels, value in points:
        series = request.timeseries.add()
        for key, text in sorted({**labels, "__name__": name}.items()):
            series.labels.add(name=key, value=text)
        series.samples.add(value=value, timestamp=at_ms)
    return bytes(request.SerializeToString())


class RemoteWriteQueue:
    """The on-disk queue and sender of one ``remote_write:`` target. Thread-safe."""

    def __init__(
        self, config: RemoteWriteOutConfig, directory: Path, client: httpx.Client, headers: Mapping[str, str]
    ) -> None:
        self.config = config
        self.directory = directory
        self._client = client
        self._headers = {**HEADERS, **headers}
        self._lock = threading.Lock()  # guards the directory listing and the sequence
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.counts: Counter[str] = Counter()
        """Samples by outcome: sent, dropped_rejected (a 4xx), dropped_overflow (the buffer full)."""
        self._failing: int | str | None = None  # the last failure logged

    # -- the buffer -------------------------------------------------------------------------------

    def records(self) -> list[Path]:
        """The record files waiting, oldest first."""
        if not self.directory.is_dir():
            return []
        return sorted(p for p in self.directory.iterdir() if p.suffix == _SUFFIX)

    @staticmethod
    def _samples(path: Path) -> int:
        return int(path.stem.split("-", 1)[1])

    @property
    def buffered_bytes(self) -> int:
        """Bytes of the records waiting."""
        return sum(p.stat().st_size for p in self.records())

    def append(self, points: list[Point], at_ms: int) -> None:
        """Keep one evaluation's series as records of at most ``max_samples_per_send`` (each written
        whole), then trim the oldest beyond ``buffer_max_bytes``; wakes the sender. ``OSError`` when
        a record cannot be written."""
        size = self.config.max_samples_per_send
        with self._lock:
            self.directory.mkdir(parents=True, exist_ok=True)
            existing = self.records()
            seq = int(existing[-1].stem.split("-", 1)[0]) + 1 if existing else 1
            for first in range(0, len(points), size):  # a record never exceeds one send
                chunk = points[first : first + size]
                final = self.directory / f"{seq:016d}-{len(chunk)}{_SUFFIX}"
                tmp = final.with_suffix(".tmp")
                with tmp.open("wb") as fh:
                    fh.write(_encode(chunk, at_ms))
                    fh.flush()
                    os.fsync(fh.fileno())
                tmp.rename(final)
                seq += 1
            self._trim()
        self._wake.set()

    def _trim(self) -> None:
        records = self.records()
        total = sum(p.stat().st_size for p in records)
        while records and total > self.config.buffer_max_bytes and len(records) > 1:
            oldest = records.pop(0)
            total -= oldest.stat().st_size
            self.counts["dropped_overflow"] += self._samples(oldest)
            oldest.unlink()

    # -- the sender -------------------------------------------------------------------------------

    def send_once(self) -> SendOutcome:
        """Send the oldest records as one batch; delete them when sent or dropped for good."""
        with self._lock:
            batch: list[Path] = []
            samples = 0
            for path in self.records():
                count = self._samples(path)
                if batch and samples + count > self.config.max_samples_per_send:
                    break
                batch.append(path)
                samples += count
            if not batch:
                return SendOutcome()
            body = snappy_compress(b"".join(p.read_bytes() for p in batch))
        try:
            response = self._client.post(
                self.config.url, content=body, headers=self._headers, timeout=self.config.timeout
            )
        except httpx.HTTPError as exc:
            self._note_failure(type(exc).__name__, f"{type(exc).__name__}: {exc}")
            return SendOutcome(retry=True)
        status = response.status_code
        if status == 429 or status >= 500:
            self._note_failure(status, f"HTTP {status}: {response.text[:200]}")
            retry_after = response.headers.get("Retry-After", "")
            return SendOutcome(retry=True, wait_s=float(retry_after) if retry_after.isdigit() else None)
        with self._lock:
            for path in batch:
                path.unlink(missing_ok=True)
        if 200 <= status < 300:
            self.counts["sent"] += samples
            self._failing = None
            return SendOutcome(sent=samples)
        self.counts["dropped_rejected"] += samples
        self._note_failure(status, f"HTTP {status}, {samples} samples dropped (not retried): {response.text[:200]}")
        return SendOutcome(dropped=samples)

    def _note_failure(self, key: int | str, message: str) -> None:
        if self._failing != key:
            self._failing = key
            log.warning("remote write %s to %s: %s", self.config.name, self.config.url, message)

    def _run(self) -> None:
        backoff = self.config.min_backoff
        while not self._stop.is_set():
            try:
                outcome = self.send_once()
            except Exception:  # containment: the sender outlives a bug in one batch
                log.exception("remote write %s: sending failed", self.config.name)
                outcome = SendOutcome(retry=True)
            if outcome.retry:
                self._stop.wait(outcome.wait_s if outcome.wait_s is not None else backoff)
                backoff = min(backoff * 2, self.config.max_backoff)
                continue
            backoff = self.config.min_backoff
            if not outcome.sent and not outcome.dropped:  # nothing waits: sleep until a new record
                self._wake.wait()
                self._wake.clear()

    def start(self) -> None:
        """Start the sender thread (it first sends what a previous run left)."""
        self._thread = threading.Thread(target=self._run, name=f"redline-remote-write-{self.config.name}", daemon=True)
        self._thread.start()

    def shutdown(self, timeout_s: float = 5.0) -> None:
        """Stop the sender; what is not sent stays on disk for the next run."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None


class RemoteWriteQueueCollector(Collector):
    """``redline_remote_write_*``: samples sent and dropped, bytes waiting, per target."""

    def __init__(self, queues: list[RemoteWriteQueue]) -> None:
        self._queues = queues

    def collect(self) -> Iterator[Metric]:
        samples = CounterMetricFamily(
            "redline_remote_write_samples",
            "Samples by outcome: sent, dropped_rejected (a 4xx, not retried), dropped_overflow (buffer full).",
            labels=["target", "outcome"],
        )
        waiting = GaugeMetricFamily(
            "redline_remote_write_buffer_bytes", "Bytes of records waiting on disk to be sent.", labels=["target"]
        )
        for queue in self._queues:
            for outcome in ("sent", "dropped_rejected", "dropped_overflow"):
                samples.add_metric([queue.config.name, outcome], float(queue.counts[outcome]))
            waiting.add_metric([queue.config.name], float(queue.buffered_bytes))
        yield from (samples, waiting)


def build_queues(loaded: LoadedConfig, env: Mapping[str, str], client: httpx.Client) -> list[RemoteWriteQueue]:
    """A queue per ``remote_write:`` target (its header secrets read from ``env``: ``ConfigError``
    naming the variable when unset); nothing is sent until ``start``."""
    queues = []
    for i, target in enumerate(loaded.config.remote_write):
        headers = {
            header: secret_from_env(var, env, where=f"{loaded.path}: remote_write[{i}].headers_env.{header}")
            for header, var in target.headers_env.items()
        }
        queues.append(RemoteWriteQueue(target, loaded.data_dir / "remote_write" / target.name, client, headers))
    return queues


def push_report(
    queues: list[RemoteWriteQueue], report: StatusReport, specs: Mapping[str, SLOSpec], alerts: list[AlertRecord]
) -> None:
    """Queue ``report``'s series for every target (a record that cannot be written is logged)."""
    at_ms = int(report.at * 1000)
    for queue in queues:
        points = list(report_series(report, specs, alerts, queue.config.external_labels))
        try:
            queue.append(points, at_ms)
        except OSError as exc:
            log.warning("remote write %s: cannot buffer this evaluation's series: %s", queue.config.name, exc)
