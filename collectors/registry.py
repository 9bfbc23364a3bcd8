"""Source kinds: the config's ``kind:`` → (config model, collector factory).

``SourceConfig`` is the discriminated union of every source config, for ``list[SourceConfig]``
in the agent config: an unknown ``kind`` fails at config load. To add a kind, add its config
model to the union and one entry to ``SOURCE_KINDS``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Annotated, Final, Union

import httpx
from pydantic import BaseModel, Field

from redline.collectors.base import Collector
from redline.collectors.dcgm import DcgmCollector, DcgmConfig
from redline.collectors.focus import FocusCollector, FocusConfig
from redline.collectors.freshness import FreshnessCollector, FreshnessConfig
from redline.collectors.nvidia_smi import NvidiaSmiCollector, NvidiaSmiConfig
from redline.collectors.nvml import NvmlCollector, NvmlConfig
from redline.collectors.opencost import OpenCostCollector, OpenCostConfig
from redline.collectors.prometheus_scrape import PrometheusScrapeCollector, PrometheusScrapeConfig
from redline.collectors.promql import PromQLCollector, PromQLConfig
from redline.collectors.rate_card import RateCardCollector, RateCardConfig
from redline.collectors.request_log import RequestLogCollector, RequestLogConfig

__all__ = ["SOURCE_KINDS", "SourceConfig", "build_collector"]

# Union[...] rather than X | Y: today the union has one member, and pydantic needs a Union to
# attach the discriminator to; new kinds are added inside the brackets.
SourceConfig = Annotated[
    Union[  # noqa: UP007
        PrometheusScrapeConfig,
        PromQLConfig,
        FreshnessConfig,
        NvmlConfig,
        DcgmConfig,
        NvidiaSmiConfig,
        FocusConfig,
        OpenCostConfig,
        RateCardConfig,
        RequestLogConfig,
    ],
    Field(discriminator="kind"),
]
"""Any source config, told apart by its ``kind`` field."""

CollectorFactory = Callable[[BaseModel, httpx.Client, Callable[[], float]], Collector]


def _prometheus_scrape(config: BaseModel, client: httpx.Client, clock: Callable[[], float]) -> Collector:
    assert isinstance(config, PrometheusScrapeConfig)
    return PrometheusScrapeCollector(config, client, clock)


def _promql(config: BaseModel, client: httpx.Client, clock: Callable[[], float]) -> Collector:
    assert isinstance(config, PromQLConfig)
    return PromQLCollector(config, client, clock)


def _freshness(config: BaseModel, client: httpx.Client, clock: Callable[[], float]) -> Collector:
    assert isinstance(config, FreshnessConfig)
    return FreshnessCollector(config, client, clock)


def _nvml(config: BaseModel, client: httpx.Client, clock: Callable[[], float]) -> Collector:
    assert isinstance(config, NvmlConfig)
    return NvmlCollector(config, client, clock)


def _dcgm(config: BaseModel, client: httpx.Client, clock: Callable[[], float]) -> Collector:
    assert isinstance(config, DcgmConfig)
    return DcgmCollector(config, client, clock)


def _nvidia_smi(config: BaseModel, client: httpx.Client, clock: Callable[[], float]) -> Collector:
    assert isinstance(config, NvidiaSmiConfig)
    return NvidiaSmiCollector(config, client, clock)


def _focus(config: BaseModel, client: httpx.Client, clock: Callable[[], float]) -> Collector:
    assert isinstance(config, FocusConfig)
    return FocusCollector(config, client, clock)


def _opencost(config: BaseModel, client: httpx.Client, clock: Callable[[], float]) -> Collector:
    assert isinstance(config, OpenCostConfig)
    return OpenCostCollector(config, client, clock)


def _rate_card(config: BaseModel, client: httpx.Client, clock: Callable[[], float]) -> Collector:
    assert isinstance(config, RateCardConfig)
    return RateCardCollector(config, client, clock)


def _request_log(config: BaseModel, client: httpx.Client, clock: Callable[[], float]) -> Collector:
    assert isinstance(config, RequestLogConfig)
    return RequestLogCollector(config, client, clock)


SOURCE_KINDS: Final[dict[str, tuple[type[BaseModel], CollectorFactory]]] = {
    "prometheus_scrape": (PrometheusScrapeConfig, _prometheus_scrape),
    "promql": (PromQLConfig, _promql),
    "freshness": (FreshnessConfig, _freshness),
    "nvml": (NvmlConfig, _nvml),
    "dcgm": (DcgmConfig, _dcgm),
    "nvidia_smi": (NvidiaSmiConfig, _nvidia_smi),
    "focus": (FocusConfig, _focus),
    "opencost": (OpenCostConfig, _opencost),
    "rate_card": (RateCardConfig, _rate_card),
    "request_log": (RequestLogConfig, _request_log),
}


def build_collector(
    config: BaseModel, client: httpx.Client, clock: Callable[[], float] = time.time
) -> Collector:
    """The collector for a validated source config; ``ValueError`` for a model no kind owns."""
    kind = getattr(config, "kind", None)
    entry = SOURCE_KINDS.get(kind) if isinstance(kind, str) else None
    if entry is None or not isinstance(config, entry[0]):
        raise ValueError(f"no collector for source config {type(config).__name__} (kind {kind!r})")
    return entry[1](config, client, clock)
