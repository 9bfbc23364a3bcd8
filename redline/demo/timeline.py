"""How fast the demo's story runs: ``real`` (what ``make demo`` shows) or ``fast`` (for tests).

A ``DemoTimeline`` bundles what sets the demo's pace: the scripted scenario, how much history is
backfilled, and how often the agent scrapes and evaluates. The ``fast`` timeline is the ``real``
one compressed by ``FAST_FACTOR``: every phase starts and lasts ``FAST_FACTOR`` times sooner and
shorter, and the incident's request rate is ``FAST_FACTOR`` times higher, so it serves as many
requests (and errors) as in real time. The burn-rate arithmetic is therefore the same: the
incident's errors against the last hour of healthy history cross 14.4x over 1 h and 5 m in an
eighth of the time, and the page still fires only if scraping, the engine, the alert policy and
the webhook notifier all work. The history is shorter (three days, not 30: a tenth of the time
to write and import) but covers every burn-rate window, the longest being 3 d, so the page and
ticket conditions see what they see in the real timeline; only the 30-day budgets are younger.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Final

from redline.demo.traffic import DEMO_SCENARIO, Scenario

__all__ = ["FAST_FACTOR", "TIMELINES", "DemoTimeline", "compress"]

FAST_FACTOR: Final = 8.0
"""How many times faster the ``fast`` timeline runs than the ``real`` one."""


@dataclass(frozen=True)
class DemoTimeline:
    """The demo's pace: scenario, backfilled history, and the agent's scrape/evaluate interval."""

    name: str
    scenario: Scenario
    history_s: float
    """Seconds of history written and imported before the fleet starts."""
    interval: str | None
    """Scrape interval of the fleet's sources and the agent's evaluate interval (config syntax);
    ``None`` keeps those of ``examples/demo.yaml`` (5 s)."""
    summary: str
    """The scenario line the demo prints once it is running."""


def compress(scenario: Scenario, factor: float) -> Scenario:
    """``scenario`` run ``factor`` times faster: phase offsets and durations divided by ``factor``,
    and the request rate of a phase that sets one multiplied by it, so that such a phase serves
    the same number of requests (and errors) as in the original. The baseline is unchanged: it
    must match the backfilled history."""
    if not (factor > 0 and math.isfinite(factor)):
        raise ValueError(f"factor must be finite and > 0, got {factor}")
    phases = tuple(
        replace(
            ph,
            at_s=ph.at_s / factor,
            duration_s=None if ph.duration_s is None else ph.duration_s / factor,
            request_rate_per_s=None if ph.request_rate_per_s is None else ph.request_rate_per_s * factor,
        )
        for ph in scenario.phases
    )
    run_at = scenario.pipeline_run_at_s
    return replace(scenario, phases=phases, pipeline_run_at_s=None if run_at is None else run_at / factor)


def _summary(scenario: Scenario, *, note: str) -> str:
    at = {ph.name: f"+{ph.at_s:g} s" for ph in scenario.phases}
    last_run = "" if scenario.pipeline_run_at_s is None else f" (last run at +{scenario.pipeline_run_at_s:g} s)"
    return (
        f"incident at {at['incident']} (page fires), API restart at {at['restart']}, "
        f"pipeline stall at {at['pipeline stall']}{last_run}{note}"
    )


TIMELINES: Final[dict[str, DemoTimeline]] = {
    "real": DemoTimeline(
        name="real",
        scenario=DEMO_SCENARIO,
        history_s=30 * 86400.0,
        interval=None,
        summary=_summary(DEMO_SCENARIO, note=""),
    ),
    "fast": DemoTimeline(
        name="fast",
        scenario=compress(DEMO_SCENARIO, FAST_FACTOR),
        history_s=3 * 86400.0,
        interval="1s",
        summary=_summary(
            compress(DEMO_SCENARIO, FAST_FACTOR),
            note=f" ({FAST_FACTOR:g}x compressed timeline, 3 days of history)",
        ),
    ),
}
"""The demo's timelines by name; ``real`` is the default of ``redline demo``."""
