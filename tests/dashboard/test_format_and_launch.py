"""The dashboard's time-to-breach wording and the command that launches it (its config is loaded
by ``redline.config``: tests/config/test_load.py)."""

from __future__ import annotations

import sys
from pathlib import Path

from redline.dashboard.data import format_time_to_breach
from redline.dashboard.launch import dashboard_command


def test_time_to_breach_reads_in_its_two_largest_units() -> None:
    assert format_time_to_breach(None) == "not burning"
    assert format_time_to_breach(0.0) == "now"
    assert format_time_to_breach(45.2) == "45s"
    assert format_time_to_breach(35 * 60 + 10) == "35m"
    assert format_time_to_breach(86400 + 4 * 3600 + 59) == "1d 4h"
    assert format_time_to_breach(86400 + 30 * 60) == "1d"
    assert format_time_to_breach(float("inf")) == "not burning"


def test_dashboard_command_binds_to_loopback_and_passes_the_config(tmp_path: Path) -> None:
    app = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
    assert dashboard_command(tmp_path / "c.yaml", port=8599) == [
        sys.executable, "-m", "redline.dashboard.serve", "run", str(app),
        "--server.headless", "true", "--server.address", "127.0.0.1", "--server.port", "8599",
        "--browser.gatherUsageStats", "false", "--", "--config", str(tmp_path / "c.yaml"),
    ]
