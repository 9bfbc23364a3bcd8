from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from redline.slo.calendar import fixed_period_bounds, period_bounds


def ms(text: str, tz: str = "UTC") -> int:
    return round(datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(tz)).timestamp() * 1000)


def test_a_utc_month_runs_from_the_first_to_the_first() -> None:
    assert period_bounds(ms("2026-11-25T12:00:00"), "month") == (ms("2026-11-01T00:00:00"), ms("2026-12-01T00:00:00"))
    assert period_bounds(ms("2026-12-31T23:59:59"), "month") == (ms("2026-12-01T00:00:00"), ms("2027-01-01T00:00:00"))


def test_a_quarter_starts_in_january_april_july_october() -> None:
    assert period_bounds(ms("2026-11-25T00:00:00"), "quarter") == (
        ms("2026-10-01T00:00:00"),
        ms("2027-01-01T00:00:00"),
    )
    assert period_bounds(ms("2026-04-01T00:00:00"), "quarter")[0] == ms("2026-04-01T00:00:00")


def test_a_week_starts_on_the_configured_weekday() -> None:
    # 2026-11-25 is a Wednesday
    assert period_bounds(ms("2026-11-25T08:00:00"), "week") == (ms("2026-11-23T00:00:00"), ms("2026-11-30T00:00:00"))
    assert period_bounds(ms("2026-11-25T08:00:00"), "week", week_start="sunday")[0] == ms("2026-11-22T00:00:00")
    assert period_bounds(ms("2026-11-22T00:00:00"), "week", week_start="sunday")[0] == ms("2026-11-22T00:00:00")


def test_a_month_in_a_zone_follows_local_midnight_and_dst() -> None:
    start, end = period_bounds(ms("2026-03-15T12:00:00", "Europe/Paris"), "month", "Europe/Paris")
    assert start == ms("2026-03-01T00:00:00", "Europe/Paris")
    assert end == ms("2026-04-01T00:00:00", "Europe/Paris")
    # March in Paris loses an hour to DST: 31 days minus one hour
    assert end - start == (31 * 24 - 1) * 3_600_000
    # 23:30 UTC on the 31st is already April in Paris
    at = round(datetime(2026, 3, 31, 23, 30, tzinfo=UTC).timestamp() * 1000)
    assert period_bounds(at, "month", "Europe/Paris")[0] == ms("2026-04-01T00:00:00", "Europe/Paris")


def test_an_unknown_weekday_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown weekday 'funday'"):
        period_bounds(0, "week", week_start="funday")


def test_fixed_periods_run_from_a_non_midnight_start_in_local_days_across_the_autumn_change() -> None:
    # 2-day periods from 18:15 on 1 Oct 2026 in Paris; clocks go back at 03:00 on Sunday 25 Oct,
    # so the period from Friday 23 Oct 18:15 to Sunday 25 Oct 18:15 lasts 49 hours.
    start = "2026-10-01T18:15:00"
    at = ms("2026-10-25T12:00:00", "Europe/Paris")
    lo, hi = fixed_period_bounds(at, start, 2 * 86400, "Europe/Paris")
    assert (lo, hi) == (ms("2026-10-23T18:15:00", "Europe/Paris"), ms("2026-10-25T18:15:00", "Europe/Paris"))
    assert hi - lo == 49 * 3_600_000
    # The start instant is inclusive, the end exclusive; a start with an offset is that instant.
    assert fixed_period_bounds(hi, start, 2 * 86400, "Europe/Paris")[0] == hi
    assert fixed_period_bounds(hi - 1, start, 2 * 86400, "Europe/Paris") == (lo, hi)
    assert fixed_period_bounds(at, "2026-10-01T16:15:00+00:00", 2 * 86400, "Europe/Paris") == (lo, hi)
    # 45-minute periods count elapsed time: the change moves nothing.
    assert fixed_period_bounds(ms("2026-10-25T02:10:00"), "2026-10-25T00:00:00", 2700, "UTC") == (
        ms("2026-10-25T01:30:00"), ms("2026-10-25T02:15:00"))
    with pytest.raises(ValueError, match="a period must last a positive time"):
        fixed_period_bounds(at, start, 0, "UTC")
