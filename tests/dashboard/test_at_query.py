"""``?at=`` reads the CLI's one time grammar (``redline.kernel.times``)."""

from __future__ import annotations

from redline.dashboard.views.common import at_from_query

NOW_S = 1_767_312_000.0  # 2026-01-02T00:00:00Z


def test_iso_unix_and_relative_times_give_the_same_instant_as_on_the_command_line() -> None:
    assert at_from_query("1767225600", NOW_S) == (1_767_225_600, None)
    assert at_from_query("2026-01-01T00:00:00Z", NOW_S) == (1_767_225_600, None)
    assert at_from_query("2026-01-01T01:00:00+01:00", NOW_S) == (1_767_225_600, None)
    assert at_from_query("-1d", NOW_S) == (1_767_225_600, None)
    assert at_from_query("now", NOW_S) == (None, None)
    assert at_from_query(None, NOW_S) == (None, None)


def test_a_value_that_is_no_time_is_ignored_with_the_reason() -> None:
    at_s, why = at_from_query("yesterday", NOW_S)
    assert at_s is None
    assert why is not None and why.startswith("?at='yesterday' is not a time: expected now, Unix seconds")
    assert why.endswith("; showing now instead.")
    before_1970 = "?at='1969-12-31T00:00:00Z' is before 1970; showing now instead."
    assert at_from_query("1969-12-31T00:00:00Z", NOW_S) == (None, before_1970)
