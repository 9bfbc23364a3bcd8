"""Calendar periods (month, week, quarter) in a time zone, as Unix milliseconds.

Pure functions: a period starts at 00:00 local time on the 1st of the month, on the configured
weekday, or on the 1st of January/April/July/October, and ends where the next one starts, so
DST changes give 23- or 25-hour days exactly as a person in that zone counts them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

__all__ = ["WEEKDAYS", "Period", "period_bounds"]

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
