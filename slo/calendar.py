"""Calendar periods (month, week, quarter, or a fixed length from a start) in a time zone, as
Unix milliseconds.

Pure functions: a period starts at 00:00 local time on the 1st of the month, on the configured
weekday, or on the 1st of January/April/July/October, and ends where the next one starts, so
DST changes give 23- or 25-hour days exactly as a person in that zone counts them. A fixed
length (OpenSLO's ``1d``, ``2w``, ``1m`` calendar windows) repeats from its start: in local days
when it is whole days (DST as above), else in elapsed time.
``maintenance_intervals`` turns maintenance windows (one-off or recurring) into the intervals of
Unix milliseconds they cover within a range.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from redline.slo.spec import CalendarWindow, MaintenanceWindow

__all__ = [
    "EPOCH_START",
    "WEEKDAYS",
    "Period",
    "calendar_bounds",
    "fixed_period_bounds",
    "local_start",
    "maintenance_intervals",
    "period_bounds",
]

Period = Literal["month", "week", "quarter"]
WEEKDAYS: tuple[str, ...] = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _start_of(local: datetime, period: Period, week_start: str) -> datetime:
    day = local.replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None)
    if period == "month":
        return day.replace(day=1)
    if period == "quarter":
        return day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)
    back = (day.weekday() - WEEKDAYS.index(week_start)) % 7
    return day - timedelta(days=back)


def _next_start(start: datetime, period: Period) -> datetime:
    if period == "week":
        return start + timedelta(days=7)
    months = 1 if period == "month" else 3
    month0 = start.month - 1 + months
    return start.replace(year=start.year + month0 // 12, month=month0 % 12 + 1)


def _ms(naive_local: datetime, tz: ZoneInfo) -> int:
    # fold=0: at a DST gap or overlap midnight resolves as the first occurrence.
    return round(naive_local.replace(tzinfo=tz).timestamp() * 1000)


def period_bounds(at_ms: int, period: Period, timezone: str = "UTC", week_start: str = "monday") -> tuple[int, int]:
    """``(start_ms, end_ms)`` of the calendar period containing ``at_ms``; start inclusive, end
    exclusive. Raises ``ValueError`` for an unknown weekday; ``ZoneInfoNotFoundError`` for an
    unknown zone (specs validate zones at load)."""
    if week_start not in WEEKDAYS:
        raise ValueError(f"unknown weekday {week_start!r}: expected one of {', '.join(WEEKDAYS)}")
    tz = ZoneInfo(timezone)
    local = datetime.fromtimestamp(at_ms / 1000, tz)
    start = _start_of(local, period, week_start)
    return _ms(start, tz), _ms(_next_start(start, period), tz)


_DAY_MS = 86_400_000
EPOCH_START = "1970-01-01T00:00:00"
"""Where a fixed period without a ``start`` counts from (local midnight, 1 January 1970)."""


def local_start(start: str, timezone: str) -> datetime:
    """``start`` (ISO, local to ``timezone`` unless it carries an offset) as a naive local time
    in ``timezone``."""
    anchor = datetime.fromisoformat(start.replace("Z", "+00:00"))
    if anchor.tzinfo is not None:
        anchor = anchor.astimezone(ZoneInfo(timezone))
    return anchor.replace(tzinfo=None)


def fixed_period_bounds(at_ms: int, start: str, length_s: float, timezone: str = "UTC") -> tuple[int, int]:
    """``(start_ms, end_ms)`` of the period containing ``at_ms`` among back-to-back periods of
    ``length_s`` from ``start`` (an ISO time, local to ``timezone`` unless it carries an offset),
    before it as after. Whole days step in local days (a 1d period is 00:00 to 00:00 across DST,
    as the zone's people count it); other lengths in elapsed time."""
    tz = ZoneInfo(timezone)
    anchor = local_start(start, timezone)
    length_ms = round(length_s * 1000)
    if length_ms <= 0:
        raise ValueError(f"a period must last a positive time, got {length_s!r} s")
    if length_ms % _DAY_MS:
        first = _ms(anchor, tz)
        k = (at_ms - first) // length_ms
        return first + k * length_ms, first + (k + 1) * length_ms
    step = timedelta(days=length_ms // _DAY_MS)
    local = datetime.fromtimestamp(at_ms / 1000, tz).replace(tzinfo=None)
    k = (local - anchor) // step
    lo, hi = _ms(anchor + k * step, tz), _ms(anchor + (k + 1) * step, tz)
    while at_ms < lo:  # at a DST edge the local estimate can be one period off
        k -= 1
        lo, hi = _ms(anchor + k * step, tz), lo
    while at_ms >= hi:
        k += 1
        lo, hi = hi, _ms(anchor + (k + 1) * step, tz)
    return lo, hi


def calendar_bounds(at_ms: int, calendar: CalendarWindow) -> tuple[int, int]:
    """``(start_ms, end_ms)`` of ``calendar``'s period containing ``at_ms``: a month, week or
    quarter (``period_bounds``), or a fixed length from its start (``fixed_period_bounds``)."""
    length = calendar.length_seconds
    if length is None:
        period: Period = calendar.period  # type: ignore[assignment]  # one of NAMED_PERIODS
        return period_bounds(at_ms, period, calendar.timezone, calendar.week_start)
    return fixed_period_bounds(at_ms, calendar.start or EPOCH_START, length, calendar.timezone)


def _merge(intervals: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for lo, hi in sorted(intervals):
        if merged and lo <= merged[-1][1]:
            if hi > merged[-1][1]:
                merged[-1] = (merged[-1][0], hi)
        else:
            merged.append((lo, hi))
    return merged


def _iso_ms(text: str) -> int:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return round(moment.timestamp() * 1000)


def maintenance_intervals(
    windows: Sequence[MaintenanceWindow], start_ms: int, end_ms: int, *, extend_ms: int = 0
) -> list[tuple[int, int]]:
    """The maintenance time inside ``[start_ms, end_ms]`` as sorted, disjoint ``(lo_ms, hi_ms)``.

    One-off windows are ISO times (UTC unless they carry a zone); recurring ones repeat on their
    weekday (or daily) at local ``HH:MM`` in their zone (DST followed as a person there reads the
    clock), an ``end`` before ``start`` running past midnight. ``extend_ms`` lengthens every window
    before merging (a time slice overlapping a window's end is dropped too). Windows given as
    specs were validated at load, so nothing here raises for them.
    """
    found: list[tuple[int, int]] = []
    for w in windows:
        if w.day is None:
            found.append((_iso_ms(w.start), _iso_ms(w.end)))
            continue
        tz = ZoneInfo(w.timezone)
        sh, sm = (int(x) for x in w.start.split(":"))
        eh, em = (int(x) for x in w.end.split(":"))
        wraps = (eh, em) < (sh, sm)
        day = datetime.fromtimestamp(start_ms / 1000, tz).date() - timedelta(days=1)
        last = datetime.fromtimestamp(end_ms / 1000, tz).date()
        weekday = None if w.day == "daily" else WEEKDAYS.index(w.day)
        while day <= last:
            if weekday is None or day.weekday() == weekday:
                lo = _ms(datetime(day.year, day.month, day.day, sh, sm), tz)
                end_day = day + timedelta(days=1) if wraps else day
                hi = _ms(datetime(end_day.year, end_day.month, end_day.day, eh, em), tz)
                found.append((lo, hi))
            day += timedelta(days=1)
    clipped = [(max(lo, start_ms), min(hi + extend_ms, end_ms)) for lo, hi in found]
    return _merge([(lo, hi) for lo, hi in clipped if hi > lo])
