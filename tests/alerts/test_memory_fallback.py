"""While alerts.sqlite cannot be written, alerts go on in memory and are written back after.

A real SQLite file throughout; the full disk is injected at the store's write seam (its probe
write fails as SQLite fails on ENOSPC: ``database or disk is full``), or is SQLite's own
``max_page_count`` limit; the agent on a real full tmpfs is in ``tests/agent/test_full_disk.py``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from redline.alerts.alert_policy import AlertPolicy
from redline.alerts.hysteresis_store import HysteresisStore
from redline.alerts.state import AlertStateStore
from redline.kernel.errors import StoreError
from tests.alerts.conftest import PAGE_BURN, T0, FakeClock, Harness, objective, report
from tests.alerts.test_alert_policy import Recorder, spec


class Disk:
    """The write seam: the store's probe write fails like a full disk while ``full``."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.full = False
        real = AlertStateStore._probe

        def probe(conn: sqlite3.Connection) -> None:
            if self.full:
                raise sqlite3.OperationalError("database or disk is full")
            real(conn)

        monkeypatch.setattr(AlertStateStore, "_probe", staticmethod(probe))


class Agent:
    """The agent's wiring: the policy's tables on the alert state's own connection."""

    def __init__(self, path: Path) -> None:
        self.path, self.clock, self.recorder = path, FakeClock(), Recorder()
        self.state = AlertStateStore(path)
        self.hysteresis = HysteresisStore(path, state=self.state)
        self.harness = Harness(self.state, [self.recorder], self.clock, specs=[spec()], repeat_interval_s=None,
                               alert_policy=AlertPolicy([spec()], self.hysteresis))

    def tick(self, burn: dict[str, float | None] | None, *, at: float) -> str | None:
        """One evaluation as the agent runs it: the check (its error, if any), then the alerts."""
        self.clock.now = at
        error = None
        try:
            self.state.check()
        except StoreError as exc:
            error = str(exc)
        self.harness.process(report(objective(burn=burn), at=at))
        return error

    def on_disk(self, sql: str) -> list[tuple[object, ...]]:
        with closing(sqlite3.connect(self.path)) as conn:
            return conn.execute(sql).fetchall()


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[Agent]:
    a = Agent(tmp_path / "alerts.sqlite")
    yield a
    a.state.close()
    a.hysteresis.close()


def test_a_page_goes_out_while_the_disk_is_full_and_is_written_back_without_a_second_page(
    agent: Agent, monkeypatch: pytest.MonkeyPatch
) -> None:
    disk = Disk(monkeypatch)
    assert agent.tick(None, at=T0) is None
    disk.full = True
    error = agent.tick(PAGE_BURN, at=T0 + 60)
    assert error is not None and "database or disk is full" in error
    assert agent.state.in_memory is not None
    assert agent.recorder.statuses() == [("firing", "page")]  # sent through the outbox, from memory
    assert agent.on_disk("SELECT count(*) FROM alerts") == [(0,)]  # nothing reached the file
    error = agent.tick(PAGE_BURN, at=T0 + 120)
    assert error is not None and "kept in memory" in error
    disk.full = False
    assert agent.tick(PAGE_BURN, at=T0 + 180) is None  # written back: durable again
    assert agent.state.in_memory is None
    assert agent.on_disk("SELECT key, state FROM alerts") == [("api-availability/page", "firing")]
    assert agent.on_disk("SELECT notifier, state FROM intents") == [("recorder", "sent")]
    assert agent.on_disk("SELECT tier, state FROM alert_tiers ORDER BY tier")[0] == ("page-1h-5m", "firing")
    assert agent.recorder.statuses() == [("firing", "page")]  # no second page


def test_a_resolve_while_the_disk_is_full_is_sent_and_not_lost(agent: Agent, monkeypatch: pytest.MonkeyPatch) -> None:
    disk = Disk(monkeypatch)
    agent.tick(PAGE_BURN, at=T0)
    disk.full = True
    agent.tick(None, at=T0 + 60)
    agent.tick(None, at=T0 + 400)  # past the page tier's 5 min resolve delay
    assert agent.recorder.statuses() == [("firing", "page"), ("resolved", "page")]
    disk.full = False
    agent.tick(None, at=T0 + 460)
    assert agent.on_disk("SELECT state FROM alerts WHERE key = 'api-availability/page'") == [("resolved",)]
    assert agent.on_disk("SELECT count(*) FROM alert_tiers") == [(0,)]
    agent.state.close()  # a restart after the write-back resolves nothing twice
    agent.hysteresis.close()
    again = Agent(agent.path)
    again.tick(None, at=T0 + 520)
    assert again.recorder.statuses() == []
    again.state.close()
    again.hysteresis.close()


def test_a_write_that_fails_after_the_check_passed_goes_on_in_memory(agent: Agent) -> None:
    agent.tick(None, at=T0)
    conn = agent.state._connect()
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages}")  # SQLite's own full disk: not one page more
    agent.state.check()  # page 1 is rewritten, nothing grows: the check passes
    burning = [objective(f"api-{i:02d}", burn=PAGE_BURN) for i in range(40)]  # more than the free pages hold
    agent.harness.process(report(*burning, at=T0 + 60))
    assert agent.state.in_memory is not None and "database or disk is full" in agent.state.in_memory
    assert len(agent.recorder.sent) == 40
    agent.state.check()  # a new connection has no such limit: written back
    assert agent.state.in_memory is None
    assert agent.on_disk("SELECT count(*) FROM alerts WHERE state = 'firing'") == [(40,)]


def test_garbage_over_the_file_keeps_alerts_in_memory_until_it_is_removed(agent: Agent) -> None:
    agent.tick(PAGE_BURN, at=T0)
    size = agent.path.stat().st_size
    with agent.path.open("r+b") as fh:
        fh.write(b"\xde\xad" * (size // 2))
    error = agent.tick(PAGE_BURN, at=T0 + 60)
    assert error is not None and "garbage" in error
    agent.tick(None, at=T0 + 120)
    error = agent.tick(None, at=T0 + 480)  # resolved from memory
    assert error is not None and "kept in memory until it is removed" in error
    assert agent.recorder.statuses() == [("firing", "page"), ("resolved", "page")]
    agent.path.unlink()
    assert agent.tick(None, at=T0 + 540) is None
    assert agent.on_disk("SELECT state FROM alerts WHERE key = 'api-availability/page'") == [("resolved",)]
    assert agent.recorder.statuses() == [("firing", "page"), ("resolved", "page")]
