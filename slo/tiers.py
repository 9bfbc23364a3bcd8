"""Burn-rate tiers of an objective: which multiwindow conditions apply to it.

The default tiers depend on the objective's period (the SRE workbook's for 30 days; other
periods follow Sloth's window catalogue); an objective's ``alerting.tiers`` replaces them.
Pure: no clock, no I/O.
"""

from __future__ import annotations

from redline.slo.ranking import MULTIWINDOW_CONDITIONS, BurnRateCondition

__all__ = ["default_tiers"]


def default_tiers(period_seconds: float) -> tuple[BurnRateCondition, ...]:
    """The default tiers for an objective whose budget covers ``period_seconds``."""
    del period_seconds  # TODO(issue 11): Sloth's window catalogue for periods other than 30 days
    return MULTIWINDOW_CONDITIONS
