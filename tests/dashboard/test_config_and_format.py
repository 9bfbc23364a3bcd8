from __future__ import annotations

import sys
from pathlib import Path

import pytest

from redline.dashboard.data import format_time_to_breach, load_config
from redline.dashboard.launch import dashboard_command
from redline.kernel.errors import ConfigError

GOOD = """\
agent: {data_dir: ./state}
sources: [{name: x, kind: whatever}]
alerting: {anything: [1, 2]}
slos:
  - name: a
    objective: 99.9
    window: 7d
    sli: {ratio: {errors: 'req_total{code=~"5.."}', total: req_total}}
"""


def test_data_dir_resolves_against_the_config_folder_and_other_sections_are_ignored(tmp_path: Path) -> None:
    path = tmp_path / "conf" / "redline.yaml"
    path.parent.mkdir()
    path.write_text(GOOD)
    config = load_config(path)
    assert config.data_dir == tmp_path / "conf" / "state"
    assert [s.name for s in config.slos] == ["a"]
    assert config.slos[0].window == 7 * 86400.0


def test_data_dir_defaults_to_redline_data_beside_the_config(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text("slos: []\n")
    assert load_config(path).data_dir == tmp_path / "redline-data"


def test_a_bad_objective_names_the_file_and_the_path_inside_it(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(GOOD + "  - name: b\n    objective: 100\n    sli: {ratio: {good: g, total: t}}\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(f"{path}: slos[1].objective: ")
    assert "less than 100" in message


def test_a_bad_selector_names_its_nested_path(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("slos:\n  - name: a\n    objective: 99\n    sli: {ratio: {errors: 'x{', total: t}}\n")
    with pytest.raises(ConfigError, match=r"slos\[0\]\.sli\.ratio\.errors: .*unterminated selector"):
        load_config(path)


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("slos:\n  - name: a\n   objective: [\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: not valid YAML at line 3"):
        load_config(path)


def test_a_missing_file_and_a_duplicate_name_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.yaml: cannot read the config file"):
        load_config(tmp_path / "nope.yaml")
    path = tmp_path / "dup.yaml"
    path.write_text(GOOD + "  - name: a\n    objective: 99\n    sli: {ratio: {good: g, total: t}}\n")
    with pytest.raises(ConfigError, match=r"slos\[1\]\.name: duplicate objective name 'a'"):
        load_config(path)


def test_a_non_mapping_agent_section_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("agent: [1]\nslos: []\n")
    with pytest.raises(ConfigError, match=r"agent: expected a mapping, got list"):
        load_config(path)


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
        sys.executable, "-m", "streamlit", "run", str(app),
        "--server.headless", "true", "--server.address", "127.0.0.1", "--server.port", "8599",
        "--browser.gatherUsageStats", "false", "--", "--config", str(tmp_path / "c.yaml"),
    ]
