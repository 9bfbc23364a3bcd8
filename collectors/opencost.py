"""The OpenCost allocation API as cumulative spend per allocation key and cost type.

``kind: opencost`` GETs ``<url>/allocation`` (or ``/allocation/compute``) with ``window=<start>,<end>``
(Unix seconds, whole steps only), ``aggregate``, ``step``, ``accumulate=false`` and
``includeIdle=true``. The answer ``{"code": 200, "data": [{KEY: {name, window{start,end},
cpuCost, cpuCostAdjustment, gpuCost, ...totalCost}}, ...]}`` holds one map per step.

| metric                      | type       | labels                                                          | unit |
|-----------------------------|------------|-----------------------------------------------------------------|------|
| ``redline_spend_usd_total`` | cumulative | ``source``, config labels, ``key``, ``aggregate``, ``cost_type`` | USD  |

``key`` is the allocation's name (``ml-serving`` for ``aggregate: namespace``); OpenCost's special
keys stay as they are: ``__idle__`` (idle cluster capacity, visible as its own cost),
``__unallocated__`` and ``__shared__``. ``cost_type`` is one of ``cpu``, ``gpu``, ``ram``, ``pv``,
``network``, ``load_balancer`` (each with OpenCost's ``*CostAdjustment`` added), ``shared``,
``external``, and ``other`` for whatever of ``totalCost`` those do not explain, so that summing
over ``cost_type`` gives ``totalCost`` and nothing is counted twice. A series starts at its first
non-zero step (a namespace without GPUs has no ``gpu`` series rather than a row of zeros).

The collector keeps a running total per series (state in the collector). The first collection asks
for ``lookback`` (aligned to ``step``); each later one asks only for the complete steps after the
last one read, so no step is counted twice. A new series starts with 0 at the start of its first
step. A restart starts the totals from 0 again (a counter reset, which the spend math handles).
A step OpenCost later revises is not re-read. When no complete step has passed since the last
collection, nothing is fetched and nothing is emitted (healthy).

Errors (each on the source's health with the URL): refused, timeout, HTTP error, HTML or other
non-JSON, ``code`` other than 200 (OpenCost's ``message`` is shown), ``data`` empty or holding only
empty maps ("no allocations"), an allocation without a parsable ``window.end``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final, Literal

import polars as pl
from pydantic import Field

from redline.collectors.base import (
    CollectorContext,
    CollectResult,
    Row,
    SourceSettings,
    bearer_header,
    collect_safely,
    samples_from_rows,
)
from redline.collectors.http_fetch import HttpURL, fetch_body, shown_url
from redline.kernel.config_types import DurationSeconds
from redline.kernel.errors import ConfigError, SourceError
from redline.kernel.fields import empty_samples
from redline.kernel.secrets import Secrets
from redline.kernel.units import format_duration

__all__ = ["COST_TYPES", "OpenCostCollector", "OpenCostConfig"]

METRIC: Final = "redline_spend_usd_total"
COST_TYPES: Final = {
    "cpu": ("cpuCost", "cpuCostAdjustment"),
    "gpu": ("gpuCost", "gpuCostAdjustment"),
    "ram": ("ramCost", "ramCostAdjustment"),
    "pv": ("pvCost", "pvCostAdjustment"),
    "network": ("networkCost", "networkCostAdjustment"),
    "load_balancer": ("loadBalancerCost", "loadBalancerCostAdjustment"),
    "shared": ("sharedCost",),
    "external": ("externalCost",),
}
"""``cost_type`` label → the allocation fields summed into it."""
_OTHER_EPSILON: Final = 1e-9


class OpenCostConfig(SourceSettings):
    """An OpenCost allocation API: ``kind: opencost``."""

    kind: Literal["opencost"]
    url: HttpURL
    """The OpenCost API base (``http://opencost.opencost.svc:9003``)."""
    endpoint: Literal["/allocation", "/allocation/compute"] = "/allocation"
    aggregate: str = Field(default="namespace", min_length=1)
    step: DurationSeconds = 3600.0
    lookback: DurationSeconds = 86400.0
    include_idle: bool = True
    share_idle: bool = False
    bearer_token_env: str | None = None
    """The environment variable holding a bearer token, when a proxy in front of OpenCost wants one."""
    interval: DurationSeconds = 600.0


def _parse_time_ms(text: object) -> int:
    if not isinstance(text, str):
        raise ValueError(f"expected an RFC 3339 time, got {text!r}")
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def _cost(alloc: Mapping[str, Any], fields: tuple[str, ...]) -> float:
    total = 0.0
    for name in fields:
        value = alloc.get(name, 0.0)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise ValueError(f"{name} is {value!r}, not a finite number")
        total += float(value)
    return total


class OpenCostCollector:
    """Reads new complete steps of the allocation API per ``collect()``, keeping running totals.

    Not thread-safe: the scheduler runs one collect per source at a time.
    """

    def __init__(self, config: OpenCostConfig, context: CollectorContext) -> None:
        self.name = config.name
        self.config = config
        self._client = context.http
        self._clock = context.clock
        self._url = config.url.rstrip("/") + config.endpoint
        self._where = f"source {config.name!r} ({shown_url(self._url)})"
        self._headers = Secrets()
        self._setup_error: str | None = None
        if config.bearer_token_env is not None:
            try:
                self._headers = bearer_header(config.bearer_token_env, context.env)
            except ConfigError as exc:
                self._setup_error = str(exc)
        self._totals: dict[tuple[str, str], float] = {}
        self._read_until_s: int | None = None

    def __repr__(self) -> str:
        return f"OpenCostCollector({self.config.name!r}, url={shown_url(self._url)!r})"

    def collect(self) -> CollectResult:
        """Fetch new steps once. Never raises: every failure is on ``result.health``."""
        return collect_safely(self.name, self._where, self._clock, self._fetch, empty_is_error=False)

    def _window(self, now_ms: int) -> tuple[int, int]:
        step = int(self.config.step)
        end = (now_ms // 1000) // step * step
        start = (now_ms // 1000 - int(self.config.lookback)) // step * step
        if self._read_until_s is not None:
            start = max(start, self._read_until_s)
        return start, end

    def _fetch(self, now_ms: int) -> tuple[pl.DataFrame, list[str]]:
        cfg = self.config
        if self._setup_error is not None:
            raise SourceError(self._setup_error)
        start, end = self._window(now_ms)
        if start >= end:
            return empty_samples(), []  # no complete step since the last read
        window = f"{start},{end}"
        params = {
            "window": window,
            "aggregate": cfg.aggregate,
            "step": format_duration(cfg.step),
            "accumulate": "false",
            "includeIdle": "true" if cfg.include_idle else "false",
            "shareIdle": "true" if cfg.share_idle else "false",
        }
        answer = fetch_body(
            self._client, self._url, timeout_s=cfg.timeout_s, max_bytes=cfg.read_limit, params=params,
            headers=self._headers, accept_status=(400, 500),
        ).json()
        steps = self._steps(answer, window)
        rows = self._accumulate(steps)
        self._read_until_s = end
        return samples_from_rows(rows, cfg.series_labels()), []

    def _steps(self, answer: Any, window: str) -> list[tuple[int, int, dict[str, float]]]:
        """(start ms, end ms, {(key, cost_type): cost}) per step, sorted by time."""
        if not isinstance(answer, dict):
            raise SourceError(f"expected a JSON object with code and data, got {type(answer).__name__}")
        if answer.get("code") != 200:
            message = answer.get("message") or answer.get("error") or "no message"
            raise SourceError(f"OpenCost answered code {answer.get('code')!r}: {message}")
        data = answer.get("data")
        if not isinstance(data, list):
            raise SourceError(f"expected 'data' to be a list of allocation maps, got {type(data).__name__}")
        if not any(isinstance(m, dict) and m for m in data):
            aggregate = self.config.aggregate
            raise SourceError(f"no allocations for window {window} (aggregate {aggregate!r}): 'data' is empty")
        steps: list[tuple[int, int, dict[str, float]]] = []
        for index, step_map in enumerate(data):
            if not isinstance(step_map, dict) or not step_map:
                continue
            step_start: int | None = None
            step_end: int | None = None
            costs: dict[str, float] = {}
            for key, alloc in step_map.items():
                if not isinstance(alloc, dict):
                    raise SourceError(f"data[{index}][{key!r}] is not an allocation object")
                try:
                    win = alloc.get("window") or {}
                    a_start = _parse_time_ms(win.get("start", alloc.get("start")))
                    a_end = _parse_time_ms(win.get("end", alloc.get("end")))
                    for cost_type, fields in COST_TYPES.items():
                        costs[f"{key}\0{cost_type}"] = _cost(alloc, fields)
                    total = _cost(alloc, ("totalCost",))
                except ValueError as exc:
                    raise SourceError(f"data[{index}][{key!r}]: {exc}") from None
                explained = sum(costs[f"{key}\0{t}"] for t in COST_TYPES)
                if abs(total - explained) > _OTHER_EPSILON * max(1.0, abs(total)):
                    costs[f"{key}\0other"] = total - explained
                step_start = a_start if step_start is None else min(step_start, a_start)
                step_end = a_end if step_end is None else max(step_end, a_end)
            assert step_start is not None and step_end is not None
            steps.append((step_start, step_end, costs))
        steps.sort(key=lambda s: s[1])
        return steps

    def _accumulate(self, steps: list[tuple[int, int, dict[str, float]]]) -> list[Row]:
        rows: list[Row] = []
        aggregate = self.config.aggregate
        for step_start, step_end, costs in steps:
            for packed, cost in costs.items():
                key, cost_type = packed.split("\0")
                labels = {"key": key, "cost_type": cost_type, "aggregate": aggregate}
                series = (key, cost_type)
                if series not in self._totals:
                    if cost == 0.0:
                        continue  # a cost type starts once it costs something (no GPU namespace: no gpu series)
                    self._totals[series] = 0.0
                    rows.append((METRIC, labels, step_start, 0.0))
                self._totals[series] += cost
                rows.append((METRIC, labels, step_end, self._totals[series]))
        return rows
