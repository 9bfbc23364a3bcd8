"""`redline silence`, `redline ack` and `redline gate` as a user runs them: real processes on a
real alert database and a store built by `redline import`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from redline.agent.cli import main
from redline.alerts.silences import SilenceStore
from redline.alerts.state import AlertRecord, AlertStateStore
from tests.agent.test_cli import END_S, write_config, write_history

REPO = Path(__file__).resolve().parents[2]


def redline(*args: str) -> subprocess.CompletedProcess[str]:
    """The CLI in a process of its own, from this checkout, run by user alice."""
    env = {**os.environ, "USER": "alice", "LOGNAME": "alice", "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "redline.agent.cli", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=60, env=env)


@pytest.fixture
def imported(tmp_path: Path) -> Path:
    cfg = write_config(tmp_path)
    hist = tmp_path / "history.om"
    write_history(hist)
    assert main(["import", "--config", str(cfg), str(hist)]) == 0
    return cfg


def firing_page(data_dir: Path, slo: str, started_at: float) -> None:
    with AlertStateStore(data_dir / "alerts.sqlite") as state:
        state.save(AlertRecord(
            f"{slo}/page", slo, "page", "firing", "f00", {"slo": slo, "severity": "page"},
            {"summary": f"{slo} is burning its error budget at 20× over 1h and 25× over 5m (threshold 14.4×)"},
            started_at=started_at, updated_at=started_at,
        ))


def test_silence_add_list_and_expire_record_who_and_what(tmp_path: Path) -> None:
    cfg = write_config(tmp_path)
    added = redline("silence", "add", "--config", str(cfg), "--slo", "api-latency", 'severity="page"',
                    "team=~ml-.*", "--duration", "1h", "--comment", "deploy 42")
    assert added.returncode == 0, added.stderr
    silence_id = added.stdout.strip()
    listed = redline("silence", "list", "--config", str(cfg), "--json")
    (doc,) = json.loads(listed.stdout)
    assert (doc["id"], doc["matchers"], doc["state"], doc["created_by"], doc["comment"]) == (
        silence_id, ['slo="api-latency"', 'severity="page"', 'team=~"ml-.*"'], "active", "alice", "deploy 42"
    )
    assert doc["ends_at"] - doc["starts_at"] == 3600.0

    expired = redline("silence", "expire", "--config", str(cfg), silence_id, "--by", "bob")
    assert expired.returncode == 0 and expired.stdout == f"expired silence {silence_id} (by bob)\n"
    assert json.loads(redline("silence", "list", "--config", str(cfg), "--json").stdout) == []
    (gone,) = json.loads(redline("silence", "list", "--config", str(cfg), "--all", "--json").stdout)
    assert (gone["state"], gone["expired_by"]) == ("expired", "bob")
    again = redline("silence", "expire", "--config", str(cfg), silence_id)
    assert again.returncode == 2
    assert again.stderr == (f"redline: error: silence expire: silence '{silence_id}' has already ended: "
                            "see `redline silence list --all`\n")


def test_a_silence_with_an_invalid_matcher_is_an_error_naming_it_and_stores_nothing(tmp_path: Path) -> None:
    cfg = write_config(tmp_path)
    bad = redline("silence", "add", "--config", str(cfg), 'severity="page"', 'team=~"ml-(.*"')
    assert bad.returncode == 2
    assert bad.stderr.startswith("redline: error: silence: invalid matcher 'team=~\"ml-(.*\"': bad regular expression")
    assert bad.stdout == ""
    assert main(["silence", "add", "--config", str(cfg), "2team=x"]) == 2
    store = SilenceStore(tmp_path / "data" / "alerts.sqlite")
    assert store.silences() == []
    store.close()


def test_the_gate_is_closed_on_an_exhausted_budget_and_open_otherwise(imported: Path) -> None:
    closed = redline("gate", "--config", str(imported), "--slo", "api-latency", "--at", str(END_S))
    # 10% of requests slower than 250 ms against a 5% budget, over 2 h of a 1 d window: 2× the budget's pace
    assert closed.returncode == 1
    assert closed.stdout.startswith("closed: api-latency: error budget exhausted: ")
    assert len(closed.stdout.splitlines()) == 1
    fresh = redline("gate", "--config", str(imported), "--slo", "api-availability", "--at", str(END_S), "--json")
    assert fresh.returncode == 0, fresh.stderr
    doc = json.loads(fresh.stdout)
    assert doc["open"] is True
    (verdict,) = doc["objectives"]
    assert verdict["slo"] == "api-availability" and verdict["pages_firing"] == []
    assert verdict["reason"] == f"{verdict['budget_remaining'] * 100:.0f}% of the error budget left; no page firing"


def test_the_gate_is_closed_while_a_page_fires(imported: Path, capsys: pytest.CaptureFixture[str]) -> None:
    firing_page(imported.parent / "data", "api-availability", END_S - 600)
    assert main(["gate", "--config", str(imported), "--slo", "api-availability", "--at", str(END_S)]) == 1
    assert capsys.readouterr().out == (
        "closed: api-availability: page firing for 10m: api-availability is burning its error budget at 20× over "
        "1h and 25× over 5m (threshold 14.4×)\n"
    )
    assert main(["gate", "--config", str(imported), "--all", "--at", str(END_S), "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert [(o["slo"], o["open"]) for o in doc["objectives"]] == [
        ("api-availability", False), ("api-latency", False), ("features-freshness", True)
    ]


def test_the_gate_names_an_unknown_objective(imported: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gate", "--config", str(imported), "--slo", "nope"]) == 2
    assert capsys.readouterr().err == (
        f"redline: error: gate: no objective named 'nope' in {imported} "
        "(objectives: api-availability, api-latency, features-freshness)\n"
    )


def test_ack_records_who_acknowledged_which_incident(imported: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = imported.parent / "data"
    firing_page(data, "api-availability", END_S - 600)
    assert main(["ack", "--config", str(imported), "api-availability/page", "--by", "carol"]) == 0
    store = SilenceStore(data / "alerts.sqlite")
    (ack,) = store.acknowledgements()
    store.close()
    assert (ack.key, ack.started_at, ack.acked_by) == ("api-availability/page", END_S - 600, "carol")
    assert main(["ack", "--config", str(imported), "api-latency/page"]) == 2
    assert "ack: no firing incident for alert 'api-latency/page' (firing now: api-availability/page)" in (
        capsys.readouterr().err
    )
