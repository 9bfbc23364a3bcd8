"""Objective specs: what each objective measures, its target and its window.

Specs are pydantic models validated once at config load. Selectors and durations are parsed
here, so the engine only ever sees typed values.
"""

from __future__ import annotations

import contextlib
import re
import zoneinfo
from datetime import datetime
from typing import Annotated, Any, Final, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from redline.kernel.config_types import DurationSeconds, SelectorField
from redline.kernel.units import parse_duration

__all__ = [
    "BURN_WINDOWS",
    "DIMENSIONS",
    "NAMED_PERIODS",
    "PERIOD_MAX_SECONDS",
    "WINDOW_PLACEHOLDER_RE",
    "AlertRoleSpec",
    "AlertTierSpec",
    "AlertingSpec",
    "BudgetGuardrail",
    "CalendarWindow",
    "CostPer1kGuardrail",
    "Dimension",
    "FreshnessSLI",
    "GPUBandSLI",
    "GuardrailSpec",
    "LatencySLI",
    "MaintenanceWindow",
    "QuerySLI",
    "RatioSLI",
    "SLISpec",
    "SLOSpec",
    "ThroughputSLI",
]

Dimension = Literal["data", "users", "model", "cost"]
DIMENSIONS: tuple[Dimension, ...] = ("data", "users", "model", "cost")

BURN_WINDOWS: tuple[str, ...] = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
"""The windows every objective reports a burn rate over (status --json ``burn_rates`` keys)."""

WINDOW_PLACEHOLDER_RE: Final = re.compile(r"\{\{\s*\.window\s*\}\}")
"""Sloth's window placeholder, ``{{.window}}`` (spaces allowed inside the braces)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RatioSLI(_Strict):
    """Events SLI from counters: ``errors`` (or ``good``) over ``total``."""

    errors: SelectorField | None = None
    good: SelectorField | None = None
    total: SelectorField

    @model_validator(mode="after")
    def _one_of_errors_or_good(self) -> RatioSLI:
        if (self.errors is None) == (self.good is None):
            raise ValueError("give exactly one of 'errors' or 'good' beside 'total'")
        return self


class LatencySLI(_Strict):
    """Share of requests at or under ``threshold``, from a histogram's cumulative buckets.

    ``histogram`` names the family (``http_request_duration_seconds``); the engine reads its
    ``_bucket`` series. The threshold must be one of the histogram's bucket bounds unless
    ``interpolate`` is set.
    """

    histogram: SelectorField
    threshold: DurationSeconds
    interpolate: bool = False
    """Allow a threshold between bucket bounds: the share under it is interpolated linearly inside
    its bucket (as ``histogram_quantile`` does) and the result is marked ``approximate``. Off, such
    a threshold is an error naming the nearest bounds (``redline check``)."""


class FreshnessSLI(_Strict):
    """Share of time slices in which the data age (now − last success) stayed within ``max_age``.

    ``last_success`` selects a gauge holding a Unix timestamp in seconds (a pipeline's
    last-success time); with several series the oldest one counts.
    """

    last_success: SelectorField
    max_age: DurationSeconds
    slice: DurationSeconds = 60.0


class ThroughputSLI(_Strict):
    """Share of time slices in which the rate of ``counter`` stayed at or above ``min_rate`` per ``per``.

    ``counter`` selects counters (requests, rows processed; summed across series, resets
    corrected). ``capacity`` (same unit as ``min_rate``) is the known ceiling: served rate over
    capacity is reported as saturation headroom.
    """

    counter: SelectorField
    min_rate: Annotated[float, Field(gt=0)]
    per: DurationSeconds = 1.0
    slice: DurationSeconds = 60.0
    capacity: Annotated[float, Field(gt=0)] | None = None

    @property
    def min_per_second(self) -> float:
        """The floor as events per second."""
        return self.min_rate / self.per


class GPUBandSLI(_Strict):
    """Share of time slices in which GPU utilisation stayed between ``min`` and ``max`` (ratios).

    Below ``min`` is waste, above ``max`` is saturation. ``utilization`` selects 0–1 gauges
    (``redline_gpu_utilization_ratio``); they are aggregated per slice with ``aggregate`` over
    each group of ``by`` labels (empty: one pool). A slice is good when every group is in band.
    """

    utilization: SelectorField
    min: Annotated[float, Field(ge=0, lt=1)] = 0.0
    max: Annotated[float, Field(gt=0, le=1)] = 1.0
    aggregate: Literal["avg", "max", "min"] = "avg"
    by: tuple[str, ...] = ()
    slice: DurationSeconds = 60.0
    for_: DurationSeconds | None = Field(default=None, alias="for")
    """Alert (``<slo>/band``, a ticket) when a pool stays outside the band this long; off when unset."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _min_below_max(self) -> GPUBandSLI:
        if self.min >= self.max:
            raise ValueError(f"min ({self.min}) must be below max ({self.max})")
        return self


class QuerySLI(_Strict):
    """An SLI whose PromQL queries run as written on a ``promql`` source (Prometheus, Thanos, Mimir).

    Each query holds ``{{.window}}``; the agent runs it for every burn window and the objective's
    window (for a calendar window: the time since the period start) at each collection of
    ``source``, and records the answers (``slo.query_sli``). Give ``errors`` or ``good`` with
    ``total`` (rates or counts: only their ratio is used), or ``error_ratio`` alone. ``measures``
    says what the ratio is about, which sets the objective's kind and default dimension.
    Answers older than ``staleness`` are not used (unset: twice the usual time between
    collections — the median of the last few — at least 5 minutes), so a backend that stops
    answering reads as ``no_data``, never as the last value.
    """

    source: Annotated[str, Field(min_length=1)]
    errors: str | None = None
    good: str | None = None
    total: str | None = None
    error_ratio: str | None = None
    measures: Literal["availability", "latency", "freshness", "throughput"] = "availability"
    staleness: DurationSeconds | None = None

    @model_validator(mode="after")
    def _sides(self) -> QuerySLI:
        sides = (self.errors is not None) + (self.good is not None)
        if self.error_ratio is not None:
            if sides or self.total is not None:
                raise ValueError("give 'error_ratio' alone, or 'errors' or 'good' with 'total'")
        elif sides != 1 or self.total is None:
            raise ValueError("give exactly one of 'errors' or 'good' beside 'total' (or 'error_ratio' alone)")
        for name, query in self.queries().items():
            if not query.strip():
                raise ValueError(f"{name}: the query is empty")
            if WINDOW_PLACEHOLDER_RE.search(query) is None:
                raise ValueError(
                    f"{name}: query {query!r} has no {{{{.window}}}} placeholder: Redline runs it once per "
                    "window (5m … the objective's window) with the window there, e.g. rate(x[{{.window}}])"
                )
        return self

    def queries(self) -> dict[str, str]:
        """The side name (``errors``, ``good``, ``total``, ``error_ratio``) → its query, as given."""
        return {k: v for k in ("errors", "good", "total", "error_ratio") if (v := getattr(self, k)) is not None}


class SLISpec(_Strict):
    """Exactly one of the SLI kinds."""

    ratio: RatioSLI | None = None
    latency: LatencySLI | None = None
    freshness: FreshnessSLI | None = None
    throughput: ThroughputSLI | None = None
    gpu: GPUBandSLI | None = None
    query: QuerySLI | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> SLISpec:
        given = [k for k in _KIND_OF_SLI if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of {', '.join(_KIND_OF_SLI)} (got {', '.join(given) or 'none'})")
        return self


PERIOD_MAX_SECONDS: dict[str, float] = {"week": 7 * 86400.0, "month": 31 * 86400.0, "quarter": 92 * 86400.0}
"""The longest each calendar period can be: how much history a calendar window or budget reads."""

Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


def _check_timezone(value: str) -> str:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {value!r} (expected an IANA name such as Europe/Paris)") from exc
    return value


TimeZoneName = Annotated[str, AfterValidator(_check_timezone)]


class BudgetGuardrail(_Strict):
    """Spend per calendar period must stay under ``limit`` (in the spend's currency).

    ``spend`` selects cumulative spend series (``redline_spend_usd_total``; summed; a decrease
    is a credit or refund, not a counter reset). The period starts at 00:00 in ``timezone`` on
    the 1st of the month, on ``week_start``, or on the first day of the quarter.
    """

    spend: SelectorField
    limit: Annotated[float, Field(gt=0)]
    decreases: Literal["credit", "reset"] = "reset"
    """A drop in a spend series: a counter reset (the default: rate-card and OpenCost spend
    restarts from 0 with its server or the agent), or — for ``focus`` billing sources — a credit
    or refund that really lowers spend."""
    period: Literal["month", "week", "quarter"] = "month"
    week_start: Weekday = "monday"
    timezone: TimeZoneName = "UTC"
    showback_by: tuple[str, ...] = ()
    """Labels to break spend down by (team, model, service) in the result's details."""


class CostPer1kGuardrail(_Strict):
    """Spend increase divided by thousands of inferences over the objective's window, at most ``max``.

    ``inferences`` selects counters (``vllm:request_success_total``, ``nv_inference_count``).
    """

    spend: SelectorField
    inferences: SelectorField
    max: Annotated[float, Field(gt=0)]
    decreases: Literal["credit", "reset"] = "reset"
    """As for a budget: how a drop in the spend series counts (inference counters always reset)."""
    showback_by: tuple[str, ...] = ()


class GuardrailSpec(_Strict):
    """One cost guardrail (config section ``guardrails:``): exactly one of ``budget`` or
    ``cost_per_1k``. ``window`` is the rolling window of ``cost_per_1k`` (a budget uses its
    calendar period). Guardrails share objectives' result fields and ranking."""

    name: Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9_.:-]+$")]
    description: str = ""
    dimension: Dimension = "cost"
    window: DurationSeconds = 30 * 86400.0
    budget: BudgetGuardrail | None = None
    cost_per_1k: CostPer1kGuardrail | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    runbook_url: str | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> GuardrailSpec:
        given = [k for k in ("budget", "cost_per_1k") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of budget, cost_per_1k (got {', '.join(given) or 'none'})")
        return self

    @property
    def history_seconds(self) -> float:
        """The longest span this guardrail reads: its window, or its budget's whole period."""
        period = PERIOD_MAX_SECONDS[self.budget.period] if self.budget is not None else 0.0
        return max(self.window, period)

    @property
    def kind(self) -> str:
        """``budget`` or ``cost_per_1k``."""
        return "budget" if self.budget is not None else "cost_per_1k"


_KIND_OF_SLI: dict[str, str] = {
    "ratio": "availability",
    "latency": "latency",
    "freshness": "freshness",
    "throughput": "throughput",
    "gpu": "gpu",
    "query": "query",
}
_DIMENSION_OF_KIND: dict[str, Dimension] = {
    "availability": "users",
    "latency": "users",
    "throughput": "users",
    "freshness": "data",
    "gpu": "model",
    "budget": "cost",
    "cost_per_1k": "cost",
}


NAMED_PERIODS: Final[tuple[str, ...]] = ("month", "week", "quarter")


def _check_period(value: str) -> str:
    if value not in NAMED_PERIODS:
        try:
            parse_duration(value)
        except ValueError as exc:
            raise ValueError(
                f"period {value!r}: expected month, week, quarter or a duration such as 1d, 2w, 12h"
            ) from exc
    return value


def _check_start(value: str) -> str:
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"start {value!r}: expected a date and time such as 2024-01-01T12:00:00") from exc
    return value


class CalendarWindow(_Strict):
    """A calendar compliance window: the budget is the current period's, and it resets at the
    period start.

    ``period`` is ``month``, ``week`` or ``quarter`` (starting at 00:00 in ``timezone`` on the
    1st, on ``week_start``, or on the 1st of January/April/July/October), or a fixed length
    (``1d``, ``2w``, ``12h``: OpenSLO's calendar windows) whose periods follow one another from
    ``start``, a local time in ``timezone`` (00:00 on 1970-01-01 when not given). A length in
    whole days counts days as a person in the zone does (a DST day is 23 or 25 hours).
    """

    period: Annotated[str, AfterValidator(_check_period)]
    timezone: TimeZoneName = "UTC"
    week_start: Weekday = "monday"
    start: Annotated[str, AfterValidator(_check_start)] | None = None

    @model_validator(mode="after")
    def _start_anchors_a_fixed_period(self) -> CalendarWindow:
        if self.start is not None and self.period in NAMED_PERIODS:
            raise ValueError(
                f"start anchors a fixed-length period (1d, 2w); a {self.period} starts at its own "
                "00:00 (give week_start for a week)"
            )
        return self

    @property
    def length_seconds(self) -> float | None:
        """A fixed period's length; ``None`` for a month, week or quarter."""
        return None if self.period in NAMED_PERIODS else parse_duration(self.period)


_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class MaintenanceWindow(_Strict):
    """Time excluded from the budget: events in it count neither good nor bad.

    One-off: ``start`` and ``end`` are ISO 8601 times (UTC unless they carry a zone). Recurring:
    ``day`` (a weekday, or ``daily``) with ``start``/``end`` as ``HH:MM`` in ``timezone``; an
    ``end`` before ``start`` runs past midnight.
    """

    start: str
    end: str
    day: Weekday | Literal["daily"] | None = None
    timezone: TimeZoneName = "UTC"

    @model_validator(mode="after")
    def _times(self) -> MaintenanceWindow:
        if self.day is None:
            try:
                start, end = (datetime.fromisoformat(t.replace("Z", "+00:00")) for t in (self.start, self.end))
            except ValueError as exc:
                raise ValueError(f"a one-off window needs ISO 8601 start and end times: {exc}") from exc
            if end <= start:
                raise ValueError(f"end ({self.end}) must be after start ({self.start})")
        else:
            for field_name, value in (("start", self.start), ("end", self.end)):
                if _HHMM.match(value) is None:
                    raise ValueError(f"{field_name} of a recurring window must be HH:MM, got {value!r}")
            if self.start == self.end:
                raise ValueError("start and end of a recurring window must differ")
        return self


class AlertRoleSpec(_Strict):
    """One role of an objective's alerts (``page`` or ``ticket``), as Sloth's ``pageAlert``/``ticketAlert``:
    ``disable`` turns every tier of that severity off; ``labels``/``annotations`` are added to its alerts."""

    disable: bool = False
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)


class AlertTierSpec(_Strict):
    """A custom burn-rate tier: over ``long_window`` and ``short_window`` the burn rate exceeds
    ``factor`` (or the rate spending ``budget_share`` of the budget in ``long_window``)."""

    severity: Literal["page", "ticket"]
    long_window: str
    short_window: str
    budget_share: Annotated[float, Field(gt=0, le=1)] | None = None
    factor: Annotated[float, Field(gt=0)] | None = None
    for_: DurationSeconds = Field(default=0.0, alias="for")
    keep_firing_for: DurationSeconds = 0.0
    disable: bool = False

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _share_or_factor(self) -> AlertTierSpec:
        if (self.budget_share is None) == (self.factor is None):
            raise ValueError("give exactly one of budget_share, factor")
        return self


class AlertingSpec(_Strict):
    """An objective's alert identity and policy (config ``alerting:`` on an objective; imported from
    Sloth's ``alerting`` and OpenSLO's alert policies). ``name`` defaults to the objective's name;
    ``labels``/``annotations`` go on every alert of the objective; ``tiers`` replaces the default
    tiers derived from the objective's period."""

    name: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    page: AlertRoleSpec = Field(default_factory=AlertRoleSpec)
    ticket: AlertRoleSpec = Field(default_factory=AlertRoleSpec)
    tiers: tuple[AlertTierSpec, ...] | None = None


class SLOSpec(_Strict):
    """One objective: ``objective`` is a percentage strictly between 0 and 100.

    ``window`` is rolling; ``calendar`` makes it the current calendar period instead (then
    ``window`` holds the longest the period can be, for reading history). ``maintenance``
    windows are excluded from the budget; fewer than ``min_events`` events (or slices) in the
    window report ``low_traffic``, which never pages. ``group_by`` expands the objective into one
    per value of those labels (named ``name{label="value"}``), each with its own budget, up to
    ``max_groups`` of them.
    """

    name: Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9_.:-]+$")]
    description: str = ""
    dimension: Dimension | None = None
    objective: Annotated[float, Field(gt=0, lt=100)]
    window: DurationSeconds = 30 * 86400.0
    calendar: CalendarWindow | None = None
    maintenance: tuple[MaintenanceWindow, ...] = ()
    min_events: Annotated[float, Field(ge=0)] = 0.0
    group_by: tuple[str, ...] = ()
    max_groups: Annotated[int, Field(ge=1)] = 1000
    """The most objectives ``group_by`` may create (``slo.groups``): past it, the rest are not created."""
    sli: SLISpec
    labels: dict[str, str] = Field(default_factory=dict)
    runbook_url: str | None = None
    alerting: AlertingSpec = Field(default_factory=AlertingSpec)

    @model_validator(mode="before")
    @classmethod
    def _calendar_or_window(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("calendar") is not None:
            if "window" in data:
                raise ValueError("give 'window' (rolling) or 'calendar' (a calendar period), not both")
            calendar = data["calendar"]
            period = calendar.get("period") if isinstance(calendar, dict) else getattr(calendar, "period", None)
            if period in PERIOD_MAX_SECONDS:
                data = {**data, "window": PERIOD_MAX_SECONDS[period]}
            elif isinstance(period, str):
                with contextlib.suppress(ValueError):  # else CalendarWindow names the bad period
                    data = {**data, "window": parse_duration(period)}
        return data

    @model_validator(mode="after")
    def _query_fits(self) -> SLOSpec:
        if self.sli.query is None:
            return self
        why = "the backend answers with ratios per window, not events or series"
        if self.group_by:
            raise ValueError(f"group_by cannot expand a query SLI ({why}): write one objective per member")
        if self.maintenance:
            raise ValueError(f"maintenance windows cannot be cut out of a query SLI ({why})")
        if self.min_events:
            raise ValueError(f"min_events needs event counts; a query SLI has none ({why})")
        return self

    @property
    def kind(self) -> str:
        """What it measures: ``availability``, ``latency``, ``freshness``, ``throughput`` or ``gpu``."""
        if self.sli.query is not None:
            return self.sli.query.measures
        for key, kind in _KIND_OF_SLI.items():
            if getattr(self.sli, key) is not None:
                return kind
        raise AssertionError("validated SLISpec has one SLI")

    @property
    def target(self) -> float:
        """The objective as a fraction (99.9 → 0.999)."""
        return self.objective / 100.0

    @property
    def effective_dimension(self) -> Dimension:
        """The configured dimension, or the default for the kind (see the design)."""
        return self.dimension or _DIMENSION_OF_KIND[self.kind]
