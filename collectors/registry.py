"""Source kinds: the config's ``kind:`` → (config model, collector factory).

``SourceConfig`` is the discriminated union of every source config, for ``list[SourceConfig]``
in the agent config: an unknown ``kind`` fails at config load. To add a kind, add its config
model to the union and one entry to ``SOURCE_KINDS``: its collector class, built as
``Collector(config, context)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Final, Union

from pydantic import BaseModel, Field

from redline.collectors.base import Collector, CollectorContext
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

CollectorFactory = Callable[[Any, CollectorContext], Collector]
"""A collector class: built from its kind's config and the context (``collectors.base.CollectorContext``)."""

SOURCE_KINDS: Final[dict[str, tuple[type[BaseModel], CollectorFactory]]] = {
    "prometheus_scrape": (PrometheusScrapeConfig, PrometheusScrapeCollector),
    "promql": (PromQLConfig, PromQLCollector),
    "freshness": (FreshnessConfig, FreshnessCollector),
    "nvml": (NvmlConfig, NvmlCollector),
    "dcgm": (DcgmConfig, DcgmCollector),
    "nvidia_smi": (NvidiaSmiConfig, NvidiaSmiCollector),
    "focus": (FocusConfig, FocusCollector),
    "opencost": (OpenCostConfig, OpenCostCollector),
    "rate_card": (RateCardConfig, RateCardCollector),
    "request_log": (RequestLogConfig, RequestLogCollector),
}


def build_collector(config: BaseModel, context: CollectorContext) -> Collector:
    """The collector for a validated source config; ``ValueError`` for a model no kind owns."""
    kind = getattr(config, "kind", None)
    entry = SOURCE_KINDS.get(kind) if isinstance(kind, str) else None
    if entry is None or not isinstance(config, entry[0]):
        raise ValueError(f"no collector for source config {type(config).__name__} (kind {kind!r})")
    return entry[1](config, context)
