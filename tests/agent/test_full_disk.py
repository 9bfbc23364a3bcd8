"""A full disk loses nothing already stored: new batches wait in a bounded buffer (oldest dropped,
counted), evaluation and pages go on from memory, and writing resumes by itself in order.

The buffer's logic is tested at the write seam (an injected ``OSError(ENOSPC)``); the agent on a
real 2 MB tmpfs filled to the last byte (needs root and mount(2); skipped otherwise).
"""

from __future__ import annotations

import contextlib
import errno
import os
import threading
from pathlib import Path

import httpx
import polars as pl
import pytest

from redline.agent.runtime import Agent
from redline.agent.write_buffer import WriteBuffer
from redline.config import LoadedConfig, parse_config
from redline.demo.receiver import WebhookReceiver
from redline.kernel.errors import StoreError
from redline.kernel.fields import SAMPLE_SCHEMA
from redline.store.embedded import SampleStore
from tests.agent.test_agent import FakeClock, Target, closed_port, metric_value, receiver, target  # noqa: F401
from tests.agent.test_process_life import mounted, require_mount


def batch(first_ts: int, n: int) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "metric": ["m"] * n,
            "labels": ['{a="1"}'] * n,
            "timestamp": list(range(first_ts, first_ts + n)),
            "value": [float(t) for t in range(first_ts, first_ts + n)],
        },
        schema=SAMPLE_SCHEMA,
    )


class Disk:
    """A write seam: records what it took; raises like a full disk while ``full``."""

    def __init__(self) -> None:
        self.full = False
        self.written: list[pl.DataFrame] = []

    def write(self, frame: pl.DataFrame) -> None:
        if self.full:
            raise StoreError("could not write batch") from OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.written.append(frame)

    def timestamps(self) -> list[int]:
        return [t for f in self.written for t in f.get_column("timestamp").to_list()]


def test_batches_wait_while_the_disk_is_full_and_are_written_in_order_when_space_returns() -> None:
    disk = Disk()
    buffer = WriteBuffer(disk.write, max_samples=100)
    assert buffer.submit(batch(0, 10)).written == 10
    disk.full = True
    for first in (10, 20, 30):
        outcome = buffer.submit(batch(first, 10))
        assert outcome.written == 0 and isinstance(outcome.error, StoreError)
    assert buffer.buffered_samples == 30 and buffer.buffered_bytes > 0
    assert buffer.flush().error is not None  # still full: nothing lost, nothing written
    disk.full = False
    assert buffer.flush().written == 30
    assert disk.timestamps() == list(range(40))
    assert buffer.buffered_samples == 0 and buffer.buffered_bytes == 0 and buffer.dropped_samples == 0


def test_a_full_buffer_drops_the_oldest_samples_first_and_counts_them() -> None:
    disk = Disk()
    disk.full = True
    buffer = WriteBuffer(disk.write, max_samples=25)
    for first in (0, 10, 20):
        buffer.submit(batch(first, 10))
    # 30 samples for 25 places: the 5 oldest go, from the middle of the oldest batch.
    assert buffer.buffered_samples == 25 and buffer.dropped_samples == 5
    outcome = buffer.submit(batch(30, 10))
    assert outcome.dropped == 10 and buffer.dropped_samples == 15
    disk.full = False
    # the next batch writes everything pending first (before any overflow check), then itself
    assert buffer.submit(batch(40, 10)).written == 35
    assert disk.timestamps() == list(range(15, 50))
    assert buffer.buffered_samples == 0


def test_a_malformed_batch_is_dropped_not_retried_forever() -> None:
    calls: list[int] = []

    def write(frame: pl.DataFrame) -> None:
        calls.append(frame.height)
        if frame.height == 3:
            raise StoreError("samples do not match SAMPLE_SCHEMA")  # no OS cause: not I/O

    buffer = WriteBuffer(write, max_samples=100)
    outcome = buffer.submit(batch(0, 3))
    assert outcome.dropped == 3 and buffer.buffered_samples == 0 and buffer.dropped_samples == 3
    assert buffer.submit(batch(3, 4)).written == 4


def test_concurrent_submitters_lose_nothing_and_each_source_stays_in_order() -> None:
    disk = Disk()
    buffer = WriteBuffer(disk.write, max_samples=10_000)
    flip = threading.Event()

    def source(offset: int) -> None:
        for i in range(50):
            if offset == 0 and i == 10:
                disk.full = True
            if offset == 0 and i == 30:
                disk.full = False
                flip.set()
            buffer.submit(batch(offset + i * 2, 2))

    threads = [threading.Thread(target=source, args=(o,)) for o in (0, 100_000)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    buffer.flush()
    stamps = disk.timestamps()
    assert sorted(stamps) == sorted([o + k for o in (0, 100_000) for k in range(100)])
    for offset in (0, 100_000):
        mine = [t for t in stamps if offset <= t < offset + 100_000]
        assert mine == sorted(mine)


def config(tmp_path: Path, data_dir: Path, target_url: str, buffer_samples: int = 1_000_000) -> LoadedConfig:
    text = f"""
agent: {{data_dir: {data_dir}, listen: "127.0.0.1:0", write_buffer_samples: {buffer_samples}}}
sources:
  - {{name: api, kind: prometheus_scrape, url: "{target_url}", interval: 15s, timeout: 2s}}
slos:
  - name: api-availability
    objective: 99.9
    sli:
      ratio:
        errors: http_requests_total{{service="api",code=~"5.."}}
        total: http_requests_total{{service="api"}}
alerting:
  notifiers: [{{name: oncall, kind: webhook, url_env: TEST_HOOK}}]
"""
    path = tmp_path / "redline.yaml"
    path.write_text(text)
    return LoadedConfig(parse_config(text, path), path)


def scrape(agent: Agent, target: Target, clock: FakeClock, steps: int, *, errors: int = 0) -> None:  # noqa: F811
    for _ in range(steps):
        target.requests.labels("api", "200").inc(100)
        target.requests.labels("api", "500").inc(errors)
        clock.t += 15
        health = agent.collect("api")
        assert health.ok, health.error


def stored_rows(data_dir: Path) -> list[tuple[str, str, int, float]]:
    frame = SampleStore(data_dir).read([], 0, 2**62).sort("metric", "labels", "timestamp")
    return list(frame.select("metric", "labels", "timestamp", "value").iter_rows())


def run_through_a_full_disk(
    agent: Agent, target: Target, clock: FakeClock, receiver: WebhookReceiver,  # noqa: F811
    fill: object, free: object, *, alerts_on_full_disk: bool = False,
) -> tuple[int, float]:
    """An hour stored, then a full disk through an incident: returns (samples buffered at the
    fullest, the value of redline_store_buffer_samples then).

    The page goes out while the disk is full. With the alert database on the full disk too (a
    real one), the alert state goes on in memory (``alert_database`` not ready) and is written
    back once space returns, without paging again.
    """
    scrape(agent, target, clock, 240)
    agent.evaluate()
    assert agent.readiness.reasons() == {}
    fill()  # type: ignore[operator]
    scrape(agent, target, clock, 40, errors=20)
    report = agent.evaluate()  # evaluation goes on from memory
    assert report.objectives[0].status == "breached"
    assert "store_writes" in agent.readiness.reasons()
    assert receiver.wait_for(1, timeout_s=10)  # the page still goes out
    assert "page" in {p["alerts"][0]["labels"]["severity"] for p in receiver.received}
    if alerts_on_full_disk:
        assert "alert_database" in agent.readiness.reasons()
    buffered = agent.write_buffer.buffered_samples
    body = httpx.get(f"http://127.0.0.1:{agent.metrics_port}/metrics", timeout=5).text
    gauge = metric_value(body, "redline_store_buffer_samples", {})
    free()  # type: ignore[operator]
    agent.evaluate()  # no new batch needed: the tick flushes on its own
    assert agent.write_buffer.buffered_samples == 0
    assert agent.readiness.reasons() == {}
    burns = [p["status"] for p in receiver.received if p["alerts"][0]["labels"]["alertname"] == "RedlineErrorBudgetBurn"
             and p["alerts"][0]["labels"]["severity"] == "page"]
    assert burns == ["firing"]  # written back, not paged again
    return buffered, gauge


def test_the_agent_keeps_paging_through_an_injected_enospc_and_stores_everything_after(
    tmp_path: Path, target: Target, receiver: WebhookReceiver, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    clock = FakeClock()
    data = tmp_path / "data"
    agent = Agent(config(tmp_path, data, target.url), env={"TEST_HOOK": receiver.url}, clock=clock)
    agent.start_server()
    disk = Disk()
    real_append = agent.store.append

    def append(frame: pl.DataFrame) -> Path | None:
        disk.write(frame)  # raises while full
        return real_append(frame)

    monkeypatch.setattr(agent.store, "append", append)
    # the buffer was built with the store's bound method: point it at the seam
    monkeypatch.setattr(agent.write_buffer, "_write", append)
    try:
        buffered, gauge = run_through_a_full_disk(
            agent, target, clock, receiver, lambda: setattr(disk, "full", True), lambda: setattr(disk, "full", False)
        )
        assert buffered > 0 and gauge == buffered
        in_write_order = pl.concat(disk.written).with_row_index("order")
        per_series = in_write_order.group_by("metric", "labels").agg(pl.col("timestamp").sort_by("order"))
        for stamps in per_series.get_column("timestamp").to_list():
            assert stamps == sorted(set(stamps))  # each series reached the store in time order
        rows = stored_rows(data)
        per_scrape = len(rows) // 280
        assert len(rows) == 280 * per_scrape and buffered == 40 * per_scrape
        assert agent.write_buffer.dropped_samples == 0
    finally:
        agent.shutdown()


def test_overflow_while_the_disk_is_full_drops_the_oldest_and_counts_them(
    tmp_path: Path, target: Target, receiver: WebhookReceiver, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    clock = FakeClock()
    data = tmp_path / "data"
    agent = Agent(config(tmp_path, data, target.url, buffer_samples=10), env={"TEST_HOOK": receiver.url}, clock=clock)
    agent.start_server()
    disk = Disk()
    monkeypatch.setattr(agent.write_buffer, "_write", lambda f: (disk.write(f), agent.store.append(f)))
    try:
        scrape(agent, target, clock, 1)
        per_scrape = len(stored_rows(data))
        disk.full = True
        scrape(agent, target, clock, 20)
        assert agent.write_buffer.buffered_samples == 10
        assert agent.write_buffer.dropped_samples == 20 * per_scrape - 10
        body = httpx.get(f"http://127.0.0.1:{agent.metrics_port}/metrics", timeout=5).text
        assert metric_value(body, "redline_store_buffer_dropped_samples_total", {}) == 20 * per_scrape - 10
        disk.full = False
        agent.evaluate()
        rows = stored_rows(data)
        assert len(rows) == per_scrape + 10
        last_scrape_ms = int(clock.t * 1000)
        assert sum(1 for r in rows if r[2] == last_scrape_ms) == per_scrape  # the newest were kept
    finally:
        agent.shutdown()


def test_a_real_full_tmpfs_loses_nothing_stored_and_resumes_writing_by_itself(
    tmp_path: Path, target: Target, receiver: WebhookReceiver  # noqa: F811
) -> None:
    require_mount(tmp_path, "a small tmpfs")
    data = tmp_path / "data"
    data.mkdir()
    filler = data / "filler"

    def fill() -> None:
        with contextlib.suppress(OSError), filler.open("wb") as fh:
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()

    with mounted(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(data)], unmount=data):
        clock = FakeClock()
        agent = Agent(config(tmp_path, data, target.url), env={"TEST_HOOK": receiver.url}, clock=clock)
        agent.start_server()
        try:
            scrape(agent, target, clock, 1)
            per_scrape = len(stored_rows(data))
            before: list[tuple[str, str, int, float]] = []

            def fill_after_snapshot() -> None:
                before.extend(stored_rows(data))
                fill()

            buffered, gauge = run_through_a_full_disk(
                agent, target, clock, receiver, fill_after_snapshot, filler.unlink, alerts_on_full_disk=True
            )
            assert buffered == 40 * per_scrape and gauge == buffered
            after = stored_rows(data)
            assert set(before) <= set(after)  # nothing already stored was lost
            assert len(after) == 281 * per_scrape  # and every buffered sample landed
            assert agent.write_buffer.dropped_samples == 0
        finally:
            agent.shutdown()
