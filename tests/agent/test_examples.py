"""Every Redline config under examples/ loads, and every source in it builds into its collector."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
import yaml

from redline.agent.wiring import collector_for
from redline.collectors.base import CollectorContext
from redline.collectors.registry import SOURCE_KINDS
from redline.config import load_config

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
# OpenSLO and Sloth specs live there too; they are not Redline configs.


def _is_redline_config(path: Path) -> bool:
    first = next(yaml.safe_load_all(path.read_text()), None)
    return isinstance(first, dict) and not {"version", "apiVersion"} & set(first)


CONFIGS = sorted(p for p in EXAMPLES.glob("*.yaml") if _is_redline_config(p))


def test_there_is_an_example_for_every_source_kind() -> None:
    kinds = {s.kind for path in CONFIGS for s in load_config(path).config.sources}
    assert kinds == set(SOURCE_KINDS)


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_an_example_config_loads_and_builds_its_collectors(path: Path) -> None:
    cfg = load_config(path).config
    with httpx.Client() as client:
        for source in cfg.sources:
            collector = collector_for(cfg, source, CollectorContext(clock=time.time, env={}, http=client))
            assert collector.name == source.name
