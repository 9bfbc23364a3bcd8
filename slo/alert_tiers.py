"""The alert tiers of one objective: its burn-rate conditions with their ``for:`` and resolve delay.

An objective's ``alerting.tiers`` replace the default tiers of its period
(``redline.slo.tiers.default_tiers``; a calendar objective's period is its nominal length); a
tier with ``disable: true`` is dropped, and
``alerting.page.disable`` / ``alerting.ticket.disable`` drop every tier of that severity (Sloth's
``pageAlert.disable``): such an objective never pages. A tier given as a ``factor`` becomes the
budget share that factor spends over its long window.

The resolve delay (``keep_firing_for``) a tier does not set is one short window: the time the
short window needs to forget a burn, so a condition flapping within it is one episode, not a
page each time it comes back. A tier that sets ``keep_firing_for: 0`` explicitly resolves at once.

Pure: no clock, no I/O.
"""

from __future__ import annotations

from redline.slo.ranking import BurnRateCondition
from redline.slo.spec import AlertTierSpec, SLOSpec
from redline.slo.tiers import default_tiers, nominal_period_seconds

__all__ = ["SEVERITY_ORDER", "objective_tiers", "tier_name", "tier_problems", "with_resolve_delay"]

SEVERITY_ORDER: tuple[str, ...] = ("page", "ticket")
"""Most severe first: a page inhibits a ticket of the same objective."""


def tier_name(condition: BurnRateCondition) -> str:
    """The ``tier`` label of an alert raised by ``condition``: ``page-1h-5m``."""
    return f"{condition.severity}-{condition.long_window}-{condition.short_window}"


def with_resolve_delay(condition: BurnRateCondition) -> BurnRateCondition:
    """``condition`` with the default resolve delay (its short window) when it sets none."""
    if condition.keep_firing_for_seconds > 0:
        return condition
    return BurnRateCondition(
        condition.severity,
        condition.long_window,
        condition.short_window,
        condition.budget_share,
        for_seconds=condition.for_seconds,
        keep_firing_for_seconds=condition.short_window_seconds,
    )


def _custom(tier: AlertTierSpec, period_seconds: float, where: str) -> BurnRateCondition:
    probe = BurnRateCondition(tier.severity, tier.long_window, tier.short_window, 1.0)  # validates windows
    if tier.budget_share is not None:
        share = tier.budget_share
    else:
        assert tier.factor is not None  # the spec allows exactly one of the two
        share = tier.factor * probe.long_window_seconds / period_seconds
        if share > 1.0:
            raise ValueError(
                f"{where}: factor {tier.factor:g} over {tier.long_window} would spend {share:.3g}× the "
                f"whole budget of the objective's period: use a factor of at most "
                f"{period_seconds / probe.long_window_seconds:.4g}"
            )
    keep = tier.keep_firing_for if "keep_firing_for" in tier.model_fields_set else probe.short_window_seconds
    return BurnRateCondition(
        tier.severity,
        tier.long_window,
        tier.short_window,
        share,
        for_seconds=tier.for_,
        keep_firing_for_seconds=keep,
    )


def objective_tiers(spec: SLOSpec) -> tuple[BurnRateCondition, ...]:
    """The enabled tiers of ``spec``, with their ``for:`` and resolve delay, in policy order.

    Raises ``ValueError`` naming the tier (``slos[api].alerting.tiers[1]``) when a custom tier's
    windows or factor make no condition.
    """
    alerting = spec.alerting
    disabled = {role for role in SEVERITY_ORDER if getattr(alerting, role).disable}
    period = nominal_period_seconds(spec)
    if alerting.tiers is None:
        tiers = tuple(with_resolve_delay(c) for c in default_tiers(period))
    else:
        out = []
        for i, tier in enumerate(alerting.tiers):
            if tier.disable:
                continue
            where = f"slos[{spec.name}].alerting.tiers[{i}]"
            try:
                out.append(_custom(tier, period, where))
            except ValueError as exc:
                raise ValueError(str(exc) if str(exc).startswith(where) else f"{where}: {exc}") from exc
        tiers = tuple(out)
    return tuple(c for c in tiers if c.severity not in disabled)


def tier_problems(spec: SLOSpec) -> list[tuple[int, str]]:
    """Each custom tier of ``spec`` that makes no condition: its index and why (for config checks)."""
    out: list[tuple[int, str]] = []
    for i, tier in enumerate(spec.alerting.tiers or ()):
        try:
            _custom(tier, nominal_period_seconds(spec), f"objective {spec.name!r}")
        except ValueError as exc:
            out.append((i, str(exc)))
    return out
