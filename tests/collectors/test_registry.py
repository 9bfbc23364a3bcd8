from __future__ import annotations

import httpx
import pytest
from pydantic import BaseModel, TypeAdapter, ValidationError

from redline.collectors.prometheus_scrape import PrometheusScrapeCollector, PrometheusScrapeConfig
from redline.collectors.registry import SOURCE_KINDS, SourceConfig, build_collector
from tests.collectors.context import context

SOURCES = TypeAdapter(list[SourceConfig])


def test_source_configs_are_told_apart_by_kind_and_built_into_collectors() -> None:
    (cfg,) = SOURCES.validate_python([{"name": "api", "kind": "prometheus_scrape", "url": "http://h/metrics"}])
    assert isinstance(cfg, PrometheusScrapeConfig)
    with httpx.Client() as client:
        collector = build_collector(cfg, context(http=client))
    assert isinstance(collector, PrometheusScrapeCollector)
    assert collector.name == "api"
    assert set(SOURCE_KINDS) == {
        "prometheus_scrape", "promql", "freshness", "nvml", "dcgm", "nvidia_smi", "focus", "opencost", "rate_card",
        "request_log",
    }


def test_an_unknown_kind_fails_at_config_load_naming_the_kind() -> None:
    with pytest.raises(ValidationError) as info:
        SOURCES.validate_python([{"name": "gpu", "kind": "nvml_typo"}])
    assert "nvml_typo" in str(info.value)
    assert "prometheus_scrape" in str(info.value)


def test_building_from_a_model_no_kind_owns_is_a_value_error() -> None:
    class Stranger(BaseModel):
        kind: str = "prometheus_scrape"

    with httpx.Client() as client, pytest.raises(ValueError, match="no collector for source config Stranger"):
        build_collector(Stranger(), context(http=client))
