"""Prometheus recording and alerting rules for Redline's objectives, in Sloth's naming.

For every objective, four rule groups, each reading only what the one before records (so each
can be backfilled in turn with ``promtool tsdb create-blocks-from rules``, which evaluates every
rule on its own against a Prometheus and so cannot chain rules of one group):

- ``redline-slo-sli-<name>``: ``slo:sli_error:ratio_rate<W>`` for every burn window (``BURN_WINDOWS``
  and any other window of the objective's tiers), from raw series only (``slo.rule_sli``).
- ``redline-slo-meta-<name>``: what reads the SLI records. ``slo:sli_error:ratio_rate<P>`` over
  the objective's period ``P`` (spelt as Prometheus spells durations, as Sloth names it: ``30d``,
  but ``4w`` for 28 days) is Sloth's: ``avg_over_time`` of the 5m record over ``P``, not a
  ``rate(...[30d])`` over raw series (heavy on a real Prometheus): the time average of the 5m
  ratios, which weighs every 5 minutes alike where Redline's own weighs every event. Then
  ``slo:objective:ratio``, ``slo:error_budget:ratio`` (1 − objective), ``slo:time_period:days``,
  and ``slo:current_burn_rate:ratio`` (the 5m ratio over the budget).
- ``redline-slo-budget-<name>``: ``slo:period_burn_rate:ratio`` and
  ``slo:period_error_budget_remaining:ratio`` (1 − the period burn rate), from the period ratio.
- ``redline-slo-alerts-<name>``: per severity of the objective's tiers (``slo.alert_tiers.objective_tiers``:
  its period's defaults or its ``alerting.tiers``; a disabled role has no rule), one alert firing
  when both windows of any of its tiers burn above the tier's factor
  (``ratio_long > factor·(1 − objective) and ratio_short > …``), with the tier's ``for`` and
  ``keep_firing_for``; tiers of one severity with different ``for`` get one rule each. The alert
  is named ``alerting.name`` (default ``SLOErrorBudgetBurnPage`` / ``…Ticket``) and carries
  ``alerting.labels``/``annotations`` and its role's.

**Calendar objectives.** Burn rates are rolling by nature, so their records and alerts are the
same as a rolling objective's; a month's factors follow its length (``days_in_month()``, UTC),
as the engine's do. The period records (ratio, period burn rate, budget remaining) are over a
rolling period of the calendar period's nominal length (month 30d, week 7d, quarter 90d):
PromQL has no window that starts at the 1st of the month.

**Freshness.** A time-slice SLI: the SLI group (evaluated every ``slice``) records
``slo:freshness_age:seconds`` (``time() - min(last_success)``) and ``slo:freshness_bad:bool``
(``age > bool max_age``); the error ratio over ``W`` is ``avg_over_time(slo:freshness_bad:bool[W])``,
in the meta group.

**Formats.** Every record carries ``slo="<name>"`` and the objective's labels. ``sloth`` adds
what Sloth's rules and its Grafana dashboards read: ``sloth_id``, ``sloth_service``,
``sloth_slo`` on every series, ``sloth_window`` on the ratio records, ``sloth_severity`` on the
alerts (compared as ``max(...) without (sloth_window)``), and ``sloth_slo_info``. Objectives of
other kinds (throughput, GPU band), with maintenance windows or ``group_by`` are left out, each
named in a comment at the top of the file.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Final, Literal

import yaml

from redline.kernel.errors import ConfigError
from redline.kernel.labels import Matcher, Selector
from redline.kernel.units import format_duration, prometheus_duration
from redline.slo.alert_tiers import objective_tiers
from redline.slo.calendar import EPOCH_START
from redline.slo.promql_translate import query_sli_not_promql
from redline.slo.ranking import BurnRateCondition
from redline.slo.rule_sli import error_ratio_expr, le_spellings, promql_number
from redline.slo.spec import BURN_WINDOWS, SLOSpec
from redline.slo.tiers import nominal_period_seconds

__all__ = [
    "FORMATS",
    "RulesFormat",
    "le_spellings",
    "period_window",
    "prometheus_rules",
    "render_rules_yaml",
    "skipped_objectives",
    "sli_windows",
    "sloth_identity",
]

RulesFormat = Literal["redline", "sloth"]
FORMATS: Final[tuple[str, ...]] = ("redline", "sloth")
_LABEL_NAME_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_DAY = 86400.0
_num = promql_number


def period_window(spec: SLOSpec) -> str:
    """The window of the period records: the rolling window, or a calendar period's nominal length,
    spelt as Prometheus (and so Sloth) spells it: ``30d``, but ``4w`` for 28 days and ``1w`` for 7,
    so ``slo:sli_error:ratio_rate<P>`` is the record Sloth's dashboards and alerts read."""
    return prometheus_duration(nominal_period_seconds(spec))


def _burn_windows(spec: SLOSpec) -> list[str]:
    """``BURN_WINDOWS`` then any other window the objective's tiers use."""
    extra = [w for c in objective_tiers(spec) for w in (c.long_window, c.short_window)]
    return list(dict.fromkeys([*BURN_WINDOWS, *extra]))


def sli_windows(spec: SLOSpec) -> list[str]:
    """Every window an objective's ``slo:sli_error:ratio_rate<W>`` is recorded for: the burn
    windows, then its period (once)."""
    return list(dict.fromkeys([*_burn_windows(spec), period_window(spec)]))


def sloth_identity(spec: SLOSpec) -> dict[str, str]:
    """``sloth_service``, ``sloth_slo`` and ``sloth_id`` (``<service>-<slo>``) of an objective: from its
    ``sloth_service``/``service`` label (else ``redline``) and ``sloth_slo`` label (else its name
    without the ``<service>-`` prefix a Sloth import gives it)."""
    service = spec.labels.get("sloth_service") or spec.labels.get("service") or "redline"
    slo = spec.labels.get("sloth_slo") or spec.name.removeprefix(f"{service}-") or spec.name
    return {"sloth_id": f"{service}-{slo}", "sloth_service": service, "sloth_slo": slo}


class _Writer:
    """The rules of one objective in one format."""

    def __init__(self, spec: SLOSpec, fmt: RulesFormat) -> None:
        self.spec = spec
        self.sloth = fmt == "sloth"
        self.labels = {**spec.labels, "slo": spec.name, **(sloth_identity(spec) if self.sloth else {})}
        self.budget = 1.0 - spec.target
        self.period = period_window(spec)

    def sel(self, metric: str) -> str:
        return str(Selector(metric, (Matcher("slo", "=", self.spec.name),)))

    def record(self, name: str, expr: str, window: str | None = None) -> dict[str, Any]:
        labels = dict(self.labels)
        if self.sloth and window is not None:
            labels["sloth_window"] = window
        return {"record": name, "expr": expr, "labels": labels}

    def groups(self) -> list[dict[str, Any]]:
        spec, name = self.spec, self.spec.name
        sli_group: dict[str, Any] = {"name": f"redline-slo-sli-{name}"}
        sli_rules: list[dict[str, Any]] = []
        meta_rules: list[dict[str, Any]] = []
        if spec.sli.freshness is not None:
            fr = spec.sli.freshness
            age = f"time() - min({fr.last_success})"
            sli_group["interval"] = format_duration(fr.slice)  # one evaluation per time slice
            sli_rules.append(self.record("slo:freshness_age:seconds", age))
            sli_rules.append(self.record("slo:freshness_bad:bool", f"({age}) > bool {_num(fr.max_age)}"))
            bad = self.sel("slo:freshness_bad:bool")
            for w in sli_windows(spec):
                meta_rules.append(self.record(f"slo:sli_error:ratio_rate{w}", f"avg_over_time({bad}[{w}])", w))
        else:
            burn_windows = _burn_windows(spec)
            for w in burn_windows:
                sli_rules.append(self.record(f"slo:sli_error:ratio_rate{w}", error_ratio_expr(spec, w), w))
            if self.period not in burn_windows:  # else recorded above, from raw series
                five = self.sel("slo:sli_error:ratio_rate5m")
                meta_rules.append(
                    self.record(
                        f"slo:sli_error:ratio_rate{self.period}", f"avg_over_time({five}[{self.period}])", self.period
                    )
                )
        sli_group["rules"] = sli_rules
        meta_rules += self._meta()
        period_ratio = self.sel(f"slo:sli_error:ratio_rate{self.period}")
        budget_rules = [
            self.record("slo:period_burn_rate:ratio", f"{period_ratio} / {_num(self.budget)}"),
            self.record("slo:period_error_budget_remaining:ratio", f"1 - {period_ratio} / {_num(self.budget)}"),
        ]
        return [
            sli_group,
            {"name": f"redline-slo-meta-{name}", "rules": meta_rules},
            {"name": f"redline-slo-budget-{name}", "rules": budget_rules},
            {"name": f"redline-slo-alerts-{name}", "rules": self._alerts()},
        ]

    def _meta(self) -> list[dict[str, Any]]:
        spec = self.spec
        month = spec.calendar is not None and spec.calendar.period == "month"
        days = "days_in_month()" if month else f"vector({_num(nominal_period_seconds(spec) / _DAY)})"
        out = [
            self.record("slo:objective:ratio", f"vector({_num(spec.target)})"),
            self.record("slo:error_budget:ratio", f"vector({_num(self.budget)})"),
            self.record("slo:time_period:days", days),
            self.record(
                "slo:current_burn_rate:ratio", f"{self.sel('slo:sli_error:ratio_rate5m')} / {_num(self.budget)}"
            ),
        ]
        if self.sloth:
            info = self.record("sloth_slo_info", "vector(1)")
            info["labels"] |= {
                "sloth_mode": "redline",
                "sloth_spec": "prometheus/v1",
                "sloth_version": "redline",
                "sloth_objective": _num(spec.objective),
            }
            out.append(info)
        return out

    def _threshold(self, c: BurnRateCondition) -> str:
        """``factor × budget`` as PromQL; a month's factor follows its number of days."""
        spec = self.spec
        if spec.calendar is not None and spec.calendar.period == "month":
            per_day = c.budget_share * _DAY / c.long_window_seconds * self.budget
            return f"({_num(per_day)} * scalar(days_in_month()))"
        return f"({_num(c.factor(nominal_period_seconds(spec)))} * {_num(self.budget)})"

    def _condition(self, c: BurnRateCondition) -> str:
        threshold = self._threshold(c)
        long_sel = self.sel(f"slo:sli_error:ratio_rate{c.long_window}")
        short_sel = self.sel(f"slo:sli_error:ratio_rate{c.short_window}")
        if self.sloth:
            return (
                f"(\n  max({long_sel} > {threshold}) without (sloth_window)\n  and\n"
                f"  max({short_sel} > {threshold}) without (sloth_window)\n)"
            )
        return f"({long_sel} > {threshold} and {short_sel} > {threshold})"

    def _alerts(self) -> list[dict[str, Any]]:
        spec, alerting = self.spec, self.spec.alerting
        # One rule per severity and for: (Sloth's shape: the tiers of a role or-ed together).
        # Prometheus's keep_firing_for is per rule: the rule keeps the longest resolve delay of
        # its tiers (the agent's own delay is per tier, so it resolves no later than the rule).
        by_rule: dict[tuple[str, float], list[BurnRateCondition]] = {}
        for c in objective_tiers(spec):
            by_rule.setdefault((c.severity, c.for_seconds), []).append(c)
        severities = [key[0] for key in by_rule]
        rules: list[dict[str, Any]] = []
        for (severity, for_s), tiers in by_rule.items():
            keep_s = max(c.keep_firing_for_seconds for c in tiers)
            role = alerting.page if severity == "page" else alerting.ticket
            labels = {**self.labels, **alerting.labels, "severity": severity, **role.labels}
            if self.sloth:
                labels["sloth_severity"] = severity
            if severities.count(severity) > 1:  # one rule per for: told apart by their long windows
                labels["burn_windows"] = ",".join(c.long_window for c in tiers)
            descr = "; or ".join(f"{self._factor_text(c)}x over {c.long_window} and {c.short_window}" for c in tiers)
            annotations = {
                "summary": f"{spec.name}: error budget burning too fast ({severity})",
                "description": f"Objective {_num(spec.objective)}% over {self._period_text()}; fires at {descr}.",
                **({"runbook_url": spec.runbook_url} if spec.runbook_url else {}),
                **alerting.annotations,
                **role.annotations,
            }
            rule: dict[str, Any] = {
                "alert": alerting.name or f"SLOErrorBudgetBurn{severity.capitalize()}",
                "expr": "\n  or\n".join(self._condition(c) for c in tiers),
            }
            if for_s > 0:
                rule["for"] = format_duration(for_s)
            if keep_s > 0:
                rule["keep_firing_for"] = format_duration(keep_s)
            rules.append(rule | {"labels": labels, "annotations": annotations})
        return rules

    def _factor_text(self, c: BurnRateCondition) -> str:
        return _num(c.factor(nominal_period_seconds(self.spec)))

    def _period_text(self) -> str:
        cal = self.spec.calendar
        if cal is None:
            return self.period
        if cal.length_seconds is None:
            return f"each calendar {cal.period}"
        return f"each {cal.period} from {cal.start or EPOCH_START}"


_EXPORTED_KINDS = frozenset({"availability", "latency", "freshness"})
_ONLY = "(ratio, latency, freshness and query SLIs only)"


def _why_skipped(spec: SLOSpec) -> str | None:
    if spec.sli.query is not None and (problem := query_sli_not_promql(spec.sli.query)) is not None:
        return problem
    if spec.kind not in _EXPORTED_KINDS and spec.sli.query is None:
        return f"its kind ({spec.kind}) has no Prometheus rule translation yet"
    if spec.maintenance:
        return "maintenance windows cannot be expressed in Prometheus rules"
    if spec.group_by:
        return "grouped: record it per member with `by (...)` in a rule of your own"
    return None


def skipped_objectives(specs: Sequence[SLOSpec]) -> list[str]:
    """Names of the objectives the rules cannot express (throughput, GPU band, maintenance,
    grouped objectives); ``render_rules_yaml`` names each with the reason."""
    return [s.name for s in specs if _why_skipped(s) is not None]


def _check_labels(spec: SLOSpec) -> None:
    a = spec.alerting
    named = {
        "labels": spec.labels,
        "alerting.labels": a.labels,
        "alerting.page.labels": a.page.labels,
        "alerting.ticket.labels": a.ticket.labels,
    }
    for where, labels in named.items():
        bad = sorted(k for k in labels if not _LABEL_NAME_RE.fullmatch(k) or k.startswith("__"))
        if bad:
            raise ConfigError(f"objective {spec.name!r}: {where} {bad} are not valid Prometheus label names")


def prometheus_rules(specs: Sequence[SLOSpec], fmt: RulesFormat = "redline") -> dict[str, Any]:
    """The rule-file document (``{"groups": [...]}``) for ``specs``; see the module docstring.

    Raises ``ConfigError`` naming the objective when one of its labels cannot be a Prometheus
    label, and ``ValueError`` for an unknown ``fmt``.
    """
    if fmt not in FORMATS:
        raise ValueError(f"rules format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    for spec in specs:
        _check_labels(spec)
    return {"groups": [g for spec in specs if _why_skipped(spec) is None for g in _Writer(spec, fmt).groups()]}


class _Dumper(yaml.SafeDumper):
    pass


def _str_presenter(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _str_presenter)


def render_rules_yaml(specs: Sequence[SLOSpec], fmt: RulesFormat = "redline") -> str:
    """``prometheus_rules(specs, fmt)`` as a YAML rule file, with a header naming what produced it,
    what was skipped and why, and which objectives' period records are rolling."""
    header = "# Prometheus rules generated by `redline rules` — SLI error ratios, budgets, burn-rate alerts.\n"
    for spec in specs:
        why = _why_skipped(spec)
        if why is not None:
            header += f"# skipped {spec.name}: {why} {_ONLY}\n"
        elif spec.calendar is not None:
            header += (
                f"# {spec.name}: calendar {spec.calendar.period}: the burn-rate records and alerts are rolling as for "
                f"any objective; slo:sli_error:ratio_rate{period_window(spec)} and the period budget records are "
                f"over a rolling {period_window(spec)} (PromQL has no window starting at the period start)\n"
            )
    body = yaml.dump(prometheus_rules(specs, fmt), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=1000)
    return header + body
