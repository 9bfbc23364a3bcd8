"""OpenSLO and Sloth files named from a Redline config (``slo_files``): their objectives join the
config, and what Redline cannot honour fails the config naming the file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from redline.config import load_config
from redline.kernel.errors import ConfigError

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def config_with_spec_files(tmp_path: Path) -> Path:
    for name in ("openslo.yaml", "sloth.yaml"):
        shutil.copy(EXAMPLES / name, tmp_path / name)
    cfg = tmp_path / "redline.yaml"
    cfg.write_text(
        """
slos:
  - name: api-availability
    objective: 99.9
    sli: {ratio: {errors: 'http_requests_total{code=~"5.."}', total: http_requests_total}}
slo_files:
  - {path: openslo.yaml, format: openslo}
  - {path: sloth.yaml, format: sloth}
"""
    )
    return cfg


def test_objectives_from_openslo_and_sloth_files_join_the_config(tmp_path: Path) -> None:
    loaded = load_config(config_with_spec_files(tmp_path))
    names = [s.name for s in loaded.config.slos]
    assert names[0] == "api-availability"
    assert "myservice-requests-availability" in names  # Sloth: <service>-<name>
    assert any(n.startswith("checkout") for n in names)  # OpenSLO objectives of the checkout service
    sloth = next(s for s in loaded.config.slos if s.name == "myservice-requests-availability")
    assert sloth.objective == 99.9 and sloth.sli.ratio is not None
    assert str(sloth.sli.ratio.errors) == 'http_request_duration_seconds_count{job="myservice",code=~"(5..|429)"}'
    assert loaded.notes  # alert names and annotations Redline read but does not apply


def test_a_spec_file_that_redline_cannot_honour_fails_the_config_naming_it(tmp_path: Path) -> None:
    cfg = config_with_spec_files(tmp_path)
    sloth = tmp_path / "sloth.yaml"
    sloth.write_text(sloth.read_text().replace("[{{.window}}]", "[5m]", 1))
    with pytest.raises(ConfigError, match=r"sloth.yaml.*\{\{\.window\}\}"):
        load_config(cfg)
    cfg.write_text(cfg.read_text().replace("format: sloth", "format: nagios"))
    with pytest.raises(ConfigError, match=r"redline.yaml:\d+: slo_files\[1\].format"):
        load_config(cfg)


def test_a_spec_file_that_cannot_be_read_names_the_config_entry_on_one_line(tmp_path: Path) -> None:
    cfg = config_with_spec_files(tmp_path)
    (tmp_path / "sloth.yaml").write_text("version: prometheus/v1\nslos:\n  - name: [unclosed\n")
    with pytest.raises(ConfigError) as broken:
        load_config(cfg)
    assert str(broken.value) == (
        f"{cfg}:8: slo_files[1].path: {tmp_path / 'sloth.yaml'}: not valid YAML at line 4, column 1: "
        "expected ',' or ']', but got '<stream end>'"
    )
    (tmp_path / "sloth.yaml").unlink()
    with pytest.raises(ConfigError) as missing:
        load_config(cfg)
    assert str(missing.value) == (
        f"{cfg}:8: slo_files[1].path: {tmp_path / 'sloth.yaml'}: cannot read spec file: No such file or directory"
    )


def test_a_config_or_spec_file_that_is_not_utf8_is_one_line_naming_the_byte(tmp_path: Path) -> None:
    cfg = config_with_spec_files(tmp_path)
    (tmp_path / "openslo.yaml").write_bytes(b"apiVersion: openslo/v1\nkind: SLO\nmetadata: {name: caf\xe9}\n")
    with pytest.raises(ConfigError) as spec:
        load_config(cfg)
    assert str(spec.value) == (
        f"{cfg}:7: slo_files[0].path: {tmp_path / 'openslo.yaml'}: not UTF-8 text (byte 53 is 0xe9): save it as UTF-8"
    )
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes(b"# caf\xe9\nslos: []\n")
    with pytest.raises(ConfigError) as config:
        load_config(latin1)
    assert str(config.value) == f"{latin1}: not UTF-8 text (byte 5 is 0xe9): save it as UTF-8"
