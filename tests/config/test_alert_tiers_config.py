from __future__ import annotations

from pathlib import Path

import pytest

from redline.config import load_config
from redline.kernel.errors import ConfigError

CONFIG = """\
agent: {data_dir: ./data}
slos:
  - name: api
    objective: 99.9
    sli: {ratio: {errors: 'e', total: t}}
    alerting:
      tiers:
        - {severity: page, long_window: 1h, short_window: 5m, factor: 14.4, for: 2m}
        - {severity: page, long_window: 3d, short_window: 6h, factor: 20}
        - {severity: ticket, long_window: 5m, short_window: 1h, factor: 2}
"""


def test_a_tier_that_makes_no_condition_fails_at_load_naming_file_line_and_tier(tmp_path: Path) -> None:
    path = tmp_path / "redline.yaml"
    path.write_text(CONFIG)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).splitlines() == [
        f"{path}:9: slos[0].alerting.tiers[1]: objective 'api': factor 20 over 3d would spend 2× the whole budget "
        "of the objective's period: use a factor of at most 10",
        f"{path}:10: slos[0].alerting.tiers[2]: short_window '1h' must be shorter than long_window '5m'",
    ]


def test_valid_tiers_load(tmp_path: Path) -> None:
    path = tmp_path / "redline.yaml"
    path.write_text(CONFIG.split("        - {severity: page, long_window: 3d")[0])
    (spec,) = load_config(path).config.slos
    assert spec.alerting.tiers is not None and spec.alerting.tiers[0].for_ == 120.0
