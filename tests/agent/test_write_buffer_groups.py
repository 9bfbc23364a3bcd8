"""The write buffer's group commit: batches that wait behind a write in progress are written
together as one store write, in order; a malformed batch among them is dropped alone."""

from __future__ import annotations

import threading

import polars as pl

from redline.agent.write_buffer import GROUP_SAMPLES, WriteBuffer
from redline.kernel.errors import StoreError
from tests.agent.test_full_disk import batch
from tests.polling import wait_until


class SlowDisk:
    """A write seam whose first write waits for ``release``; records every frame it took."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.entered = threading.Event()
        self.written: list[pl.DataFrame] = []

    def write(self, frame: pl.DataFrame) -> None:
        if not self.written and not self.entered.is_set():
            self.entered.set()
            assert self.release.wait(30), "the test never released the first write"
        if frame.get_column("value").is_nan().any():
            raise StoreError("samples hold NaN where the test says malformed")  # no OS cause
        self.written.append(frame)


def nan_batch(first_ts: int, n: int) -> pl.DataFrame:
    return batch(first_ts, n).with_columns(pl.lit(float("nan")).alias("value"))


def test_batches_waiting_behind_a_write_go_to_the_store_as_one_write_in_order() -> None:
    disk = SlowDisk()
    buffer = WriteBuffer(disk.write, max_samples=1_000)
    first = threading.Thread(target=buffer.submit, args=(batch(0, 10),))
    first.start()
    assert disk.entered.wait(30)
    # Three more arrive while the first is being written: they queue (and their submitters wait).
    waiting = [threading.Thread(target=buffer.submit, args=(batch(10 * k, 10),)) for k in (1, 2, 3)]
    for k, thread in enumerate(waiting, start=1):
        thread.start()
        wait_until(lambda k=k: buffer.buffered_samples >= 10 * k, f"batch {k} queued")
    disk.release.set()
    for thread in (first, *waiting):
        thread.join(30)
    assert [f.height for f in disk.written] == [10, 30]  # the three waiting ones: one write
    stamps = [t for f in disk.written for t in f.get_column("timestamp").to_list()]
    assert stamps == list(range(40))
    assert buffer.buffered_samples == 0 and buffer.buffered_bytes == 0 and buffer.dropped_samples == 0


def test_a_malformed_batch_in_a_group_is_dropped_alone_and_the_others_are_written() -> None:
    disk = SlowDisk()
    buffer = WriteBuffer(disk.write, max_samples=1_000)
    first = threading.Thread(target=buffer.submit, args=(batch(0, 10),))
    first.start()
    assert disk.entered.wait(30)
    queued = [batch(10, 10), nan_batch(20, 7), batch(30, 10)]
    threads = []
    for k, frame in enumerate(queued):
        thread = threading.Thread(target=buffer.submit, args=(frame,))
        thread.start()
        threads.append(thread)
        wait_until(lambda k=k: len(buffer.pending()) == k + 1, f"batch {k} queued")
    disk.release.set()
    for thread in (first, *threads):
        thread.join(30)
    stamps = [t for f in disk.written for t in f.get_column("timestamp").to_list()]
    assert stamps == [*range(0, 20), *range(30, 40)]
    assert buffer.dropped_samples == 7 and buffer.buffered_samples == 0


class Recorder:
    """A write seam that records every frame it took."""

    def __init__(self) -> None:
        self.written: list[pl.DataFrame] = []

    def write(self, frame: pl.DataFrame) -> None:
        self.written.append(frame)


def test_with_linger_batches_of_one_tick_share_one_write_and_each_submit_returns_once_written() -> None:
    disk = Recorder()
    buffer = WriteBuffer(disk.write, max_samples=1_000_000, linger_s=30.0)  # only the group's size ends it
    done = []

    def submit(frame: pl.DataFrame) -> None:
        outcome = buffer.submit(frame)
        assert outcome.error is None
        done.append(frame.height)

    senders = [threading.Thread(target=submit, args=(batch(10 * k, 10),)) for k in range(3)]
    for k, thread in enumerate(senders):
        thread.start()
        wait_until(lambda k=k: buffer.buffered_samples >= 10 * (k + 1), f"batch {k} queued")
    assert not disk.written and not done  # all three linger, none written yet
    # A batch that fills the group ends the wait: everything goes in one write, in order.
    buffer.submit(batch(30, GROUP_SAMPLES - 30))
    for thread in senders:
        thread.join(30)
    assert [f.height for f in disk.written] == [GROUP_SAMPLES]
    assert disk.written[0].get_column("timestamp").head(30).to_list() == list(range(30))
    assert sorted(done) == [10, 10, 10] and buffer.buffered_samples == 0


def test_a_negative_linger_is_refused() -> None:
    try:
        WriteBuffer(Recorder().write, linger_s=-1.0)
    except ValueError as exc:
        assert "linger_s" in str(exc)
    else:
        raise AssertionError("a negative linger was accepted")
