"""`redline rules` on a config naming OpenSLO and Sloth files, checked by promtool (loading those
files: tests/config/test_spec_files.py)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from redline.agent.cli import main
from tests.config.test_spec_files import config_with_spec_files


def test_rules_written_by_redline_pass_promtool(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "rules.yml"
    assert main(["rules", "--config", str(config_with_spec_files(tmp_path)), "-o", str(out)]) == 0
    text = out.read_text()
    assert 'slo:sli_error:ratio_rate5m' in text and 'slo="api-availability"' in text
    checked = subprocess.run(["promtool", "check", "rules", str(out)], capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS" in checked.stdout
