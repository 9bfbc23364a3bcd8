"""Rate cards: spend where no bill exists, from a price applied to usage Redline can see.

``kind: rate_card`` has two forms (exactly one per source):

*Hourly price on a count* — ``gpu_hour_usd`` (or ``node_hour_usd``) times a count of GPUs (nodes):
either a fixed ``count``, or one read per collection from ``count_url`` (a Prometheus/OpenMetrics
page) with ``count_selector``: ``count_aggregate: count`` counts the matching series (DCGM exporter:
``DCGM_FI_DEV_GPU_UTIL`` has one series per GPU), ``sum`` adds their values
(``kube_node_status_allocatable{resource="nvidia_com_gpu"}``). The spend accumulates in the
collector: the first collection emits 0 and starts the clock; each later one adds
*previous count × price × hours since the previous collection* (the count seen at a collection is
taken to hold until the next). A failed collection leaves the clock where it was, so the next
success charges the whole gap at the last count seen. A restart starts again from 0 (a reset).

*Token prices* — ``token_prices: {<model>: {input_per_million_usd, output_per_million_usd}}`` applied
to token counters scraped from ``tokens_url``: vLLM ``vllm:prompt_tokens_total`` (input) and
``vllm:generation_tokens_total`` (output) by ``model_name``, or OpenTelemetry GenAI
``gen_ai.client.token.usage`` as the Prometheus exporter writes it, ``gen_ai_client_token_usage_sum``
by ``gen_ai_request_model`` and ``gen_ai_token_type`` (``input``/``output``). Spend = tokens × price
/ 10⁶, summed per model and token type; it follows the counter, so a restart of vLLM is a reset of
the spend series too (the engine's counter math handles it). A model without a price is a problem
naming the model, and no sample.

| metric                       | type       | labels                                                   | unit  |
|------------------------------|------------|----------------------------------------------------------|-------|
| ``redline_spend_usd_total``  | cumulative | ``source``, config labels, ``resource`` (gpu or node)    | USD   |
| ``redline_spend_usd_total``  | counter    | ``source``, config labels, ``model``, ``token_type``     | USD   |
| ``redline_rate_card_units``  | gauge      | ``source``, config labels, ``resource``                  | count |
"""

from __future__ import annotations

import math
from typing import Final, Literal, Self

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, model_validator

from redline.collectors.base import (
    CollectorContext,
    CollectResult,
    Row,
    SourceSettings,
    collect_safely,
    samples_from_rows,
)
from redline.collectors.exposition import ExpositionParser
from redline.collectors.http_fetch import HttpURL, shown_url
from redline.collectors.prometheus_scrape import scrape_exposition
from redline.kernel.config_types import SelectorField
from redline.kernel.errors import SourceError
from redline.kernel.labels import parse_labels

__all__ = ["RateCardCollector", "RateCardConfig", "TokenPrice"]

SPEND: Final = "redline_spend_usd_total"
UNITS: Final = "redline_rate_card_units"
# (metric, model label, token-type label or None, fixed token type)
_TOKEN_COUNTERS: Final = (
    ("vllm:prompt_tokens_total", "model_name", None, "input"),
    ("vllm:generation_tokens_total", "model_name", None, "output"),
    ("gen_ai_client_token_usage_sum", "gen_ai_request_model", "gen_ai_token_type", None),
)


class TokenPrice(BaseModel):
    """USD per million input and output tokens of one model."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input_per_million_usd: float = Field(ge=0)
    output_per_million_usd: float = Field(ge=0)


class RateCardConfig(SourceSettings):
    """A price applied to a count over time, or to token counters: ``kind: rate_card``."""

    kind: Literal["rate_card"]
    gpu_hour_usd: float | None = Field(default=None, gt=0)
    node_hour_usd: float | None = Field(default=None, gt=0)
    count: float | None = Field(default=None, ge=0)
    count_url: HttpURL | None = None
    count_selector: SelectorField | None = None
    count_aggregate: Literal["count", "sum"] = "count"
    tokens_url: HttpURL | None = None
    token_prices: dict[str, TokenPrice] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_form(self) -> Self:
        hourly = [k for k in ("gpu_hour_usd", "node_hour_usd") if getattr(self, k) is not None]
        if len(hourly) > 1:
            raise ValueError("give gpu_hour_usd or node_hour_usd, not both")
        if bool(hourly) == bool(self.token_prices):
            raise ValueError("give exactly one of gpu_hour_usd / node_hour_usd (with a count) or token_prices")
        if hourly:
            scraped = self.count_url is not None or self.count_selector is not None
            if scraped and (self.count_url is None or self.count_selector is None):
                raise ValueError("count_url and count_selector go together")
            if scraped == (self.count is not None):
                raise ValueError("give either a fixed count or count_url with count_selector")
            if self.tokens_url is not None:
                raise ValueError("tokens_url belongs with token_prices")
        elif self.tokens_url is None:
            raise ValueError("token_prices need tokens_url (a vLLM or OpenTelemetry /metrics page)")
        return self

    @property
    def resource(self) -> str:
        """``gpu`` or ``node`` for the hourly form."""
        return "node" if self.node_hour_usd is not None else "gpu"


class RateCardCollector:
    """Applies the rate card once per ``collect()``; the hourly form keeps its running total here.

    Not thread-safe: the scheduler runs one collect per source at a time.
    """

    def __init__(self, config: RateCardConfig, context: CollectorContext) -> None:
        self.name = config.name
        self.config = config
        self._client = context.http
        self._clock = context.clock
        url = config.tokens_url or config.count_url
        shown = shown_url(url) if url is not None else f"count: {config.count:g}"
        self._where = f"source {config.name!r} ({shown})"
        self._parser = ExpositionParser()
        self._last: tuple[int, float] | None = None
        self._total_usd = 0.0

    def collect(self) -> CollectResult:
        """Apply the rate card once. Never raises: every failure is on ``result.health``."""
        fetch = self._tokens if self.config.token_prices else self._hourly
        return collect_safely(self.name, self._where, self._clock, fetch)

    def _scrape(self, url: str, now_ms: int, problems: list[str]) -> pl.DataFrame:
        cfg = self.config
        parsed, page_problems = scrape_exposition(
            self._client, url, self._parser, timeout_s=cfg.timeout_s, max_bytes=cfg.read_limit, now_ms=now_ms
        )
        problems.extend(page_problems)
        return parsed.samples

    def _count(self, now_ms: int, problems: list[str]) -> float:
        cfg = self.config
        if cfg.count is not None:
            return cfg.count
        assert cfg.count_url is not None and cfg.count_selector is not None
        matched = cfg.count_selector.filter(self._scrape(cfg.count_url, now_ms, problems))
        if matched.is_empty():
            raise SourceError(f"no series match {cfg.count_selector} (nothing to count, not zero)")
        if cfg.count_aggregate == "count":
            return float(matched.select(pl.col("labels").n_unique()).item())
        value = float(matched.get_column("value").sum())
        if not math.isfinite(value) or value < 0:
            raise SourceError(f"sum of {cfg.count_selector} is {value}, not a count")
        return value

    def _hourly(self, now_ms: int) -> tuple[pl.DataFrame, list[str]]:
        cfg = self.config
        price = cfg.gpu_hour_usd if cfg.gpu_hour_usd is not None else cfg.node_hour_usd
        assert price is not None
        problems: list[str] = []
        count = self._count(now_ms, problems)
        if self._last is not None:
            last_ms, last_count = self._last
            self._total_usd += last_count * price * max(0, now_ms - last_ms) / 3_600_000
        self._last = (now_ms, count)
        labels = {"resource": cfg.resource}
        rows: list[Row] = [(SPEND, labels, now_ms, self._total_usd), (UNITS, labels, now_ms, count)]
        return samples_from_rows(rows, cfg.series_labels()), problems

    def _tokens(self, now_ms: int) -> tuple[pl.DataFrame, list[str]]:
        cfg = self.config
        assert cfg.tokens_url is not None
        problems: list[str] = []
        scraped = self._scrape(cfg.tokens_url, now_ms, problems)
        tokens: dict[tuple[str, str], tuple[float, int]] = {}
        for metric, model_label, type_label, fixed_type in _TOKEN_COUNTERS:
            part = scraped.filter(pl.col("metric") == metric)
            for labels_text, ts_ms, value in part.select("labels", "timestamp", "value").iter_rows():
                labels = parse_labels(labels_text)
                token_type = fixed_type or labels.get(type_label or "", "")
                if token_type not in ("input", "output"):
                    continue
                key = (labels.get(model_label, ""), token_type)
                before, _ = tokens.get(key, (0.0, 0))
                tokens[key] = (before + value, ts_ms)
        if not tokens:
            names = ", ".join(m for m, *_ in _TOKEN_COUNTERS)
            raise SourceError(f"no token counters on the page (looked for {names})")
        rows: list[Row] = []
        for (model, token_type), (count, ts_ms) in sorted(tokens.items()):
            price = cfg.token_prices.get(model)
            if price is None:
                problem = f"model {model!r} has no price in token_prices; its tokens are not costed"
                if problem not in problems:
                    problems.append(problem)
                continue
            per_million = price.input_per_million_usd if token_type == "input" else price.output_per_million_usd
            rows.append((SPEND, {"model": model, "token_type": token_type}, ts_ms, count * per_million / 1e6))
        return samples_from_rows(rows, cfg.series_labels()), problems
