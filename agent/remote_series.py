"""Redline's computed series, as remote write pushes them: named as ``redline rules`` names them,
so a dashboard reads the same series whether a ruler recorded them or Redline pushed them.

Per objective (labels ``slo`` and the objective's own labels):

- ``slo:sli_error:ratio_rate<W>`` for each burn window with data (the error ratio = burn rate ×
  the error budget), as the SLI recording rules;
- ``slo:objective:ratio`` and ``slo:error_budget:remaining``, as the meta rules;
- ``slo:current_burn_rate:ratio{window}`` (the burn rate per window), ``slo:sli:ratio`` (compliance
  over the objective's window) and ``redline_slo_time_to_breach_seconds`` (when burning).

Per guardrail (label ``guardrail`` and ``currency``): ``redline_guardrail_spend``,
``redline_guardrail_forecast``, ``redline_guardrail_cost_per_1k``, as ``/metrics`` has them.

Per alert: ``ALERTS{alertname, slo, severity, alertstate}`` = 1 while pending or firing, as
Prometheus records its own alerts.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from redline.alerts.state import AlertRecord
from redline.slo.results import StatusReport
from redline.slo.spec import SLOSpec

__all__ = ["Point", "report_series"]

Point = tuple[str, dict[str, str], float]
"""(metric, labels, value) at the report's time."""


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


def report_series(
    report: StatusReport, specs: Mapping[str, SLOSpec], alerts: Iterable[AlertRecord], extra: Mapping[str, str]
) -> Iterator[Point]:
    """Every series of ``report`` (and the ``alerts`` in force), with ``extra`` labels on each."""
    for o in report.objectives:
        if o.is_guardrail:
            details = o.details or {}
            labels = {**extra, "guardrail": o.name, "currency": str(details.get("currency", ""))}
            for name, key in (
                ("redline_guardrail_spend", "spend"),
                ("redline_guardrail_forecast", "forecast"),
                ("redline_guardrail_cost_per_1k", "cost_per_1k"),
            ):
                if _finite(details.get(key)):
                    yield name, labels, float(details[key])
            continue
        spec = specs.get(o.name)
        labels = {**extra, **(dict(spec.labels) if spec is not None else {}), "slo": o.name}
        budget = 1.0 - o.objective
        yield "slo:objective:ratio", labels, o.objective
        for window, rate in o.burn_rates.items():
            if _finite(rate):
                assert rate is not None
                yield f"slo:sli_error:ratio_rate{window}", labels, rate * budget
                yield "slo:current_burn_rate:ratio", {**labels, "window": window}, rate
        if _finite(o.sli):
            yield "slo:sli:ratio", labels, float(o.sli)  # type: ignore[arg-type]
        if _finite(o.budget_remaining):
            yield "slo:error_budget:remaining", labels, float(o.budget_remaining)  # type: ignore[arg-type]
        if _finite(o.time_to_breach_seconds):
            yield "redline_slo_time_to_breach_seconds", labels, float(o.time_to_breach_seconds)  # type: ignore[arg-type]
    for alert in alerts:
        if alert.state in ("pending", "firing"):
            name = alert.labels.get("alertname", alert.key)
            yield (
                "ALERTS",
                {**extra, "alertname": name, "slo": alert.slo, "severity": alert.severity, "alertstate": alert.state},
                1.0,
            )
