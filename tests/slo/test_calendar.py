from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from redline.slo.calendar import period_bounds


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
