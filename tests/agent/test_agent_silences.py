"""A silence and an acknowledgement made with the CLI while the agent runs: the agent honours them
at its next evaluation (in process, real targets, a real webhook receiver, a fake clock)."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import pytest

from redline.agent.cli import main
from redline.agent.runtime import Agent
from redline.demo.receiver import WebhookReceiver
from tests.agent.test_agent import (  # noqa: F401 - receiver and target are fixtures
    FakeClock,
    Target,
    closed_port,
    config,
    receiver,
    scrape_an_hour_with_a_final_incident,
    target,
)


def test_a_cli_silence_holds_the_page_back_until_it_is_expired(
    tmp_path: Path, target: Target, receiver: WebhookReceiver, capsys: pytest.CaptureFixture[str],  # noqa: F811
) -> None:
    clock = FakeClock()
    loaded = config(tmp_path, target.url, closed_port())
    cfg = str(loaded.path)
    agent = Agent(loaded, env={"TEST_HOOK": receiver.url}, clock=clock, serve_metrics=False)
    try:
        assert main(["silence", "add", "--config", cfg, "--slo", "api-availability", "--duration", "1d",
                     "--by", "alice"], clock=clock) == 0
        silence_id = capsys.readouterr().out.strip()
        scrape_an_hour_with_a_final_incident(agent, target, clock)
        agent.evaluate()
        # read with plain sqlite3: a second AlertStateStore in this process would drop the agent's locks
        with contextlib.closing(sqlite3.connect(tmp_path / "data" / "alerts.sqlite")) as conn:
            state = conn.execute("SELECT state FROM alerts WHERE key = 'api-availability/page'").fetchone()
        assert state == ("firing",)
        assert receiver.received == []  # firing, but silenced: nothing sent

        assert main(["silence", "expire", "--config", cfg, silence_id, "--by", "bob"], clock=clock) == 0
        clock.t += 15
        agent.evaluate()
        assert receiver.wait_for(1, timeout_s=10)
        (page,) = receiver.received
        assert page["status"] == "firing"
        assert page["alerts"][0]["labels"]["tier"] == "page-1h-5m"
        assert page["alerts"][0]["startsAt"] == "2025-11-24T17:00:15Z"  # when it started firing, under the silence
    finally:
        agent.shutdown()
