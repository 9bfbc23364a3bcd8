"""`parse_instant`: every accepted spelling of "evaluate at time T" gives the exact second;
everything else is refused with a message naming the text and the accepted forms."""

from __future__ import annotations

import pytest

from redline.kernel.times import INSTANT_FORMS, parse_instant

NOW_S = 1_700_000_000.0  # 2023-11-14T22:13:20Z


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("now", NOW_S),
        (" NOW ", NOW_S),
        ("1700000000", 1_700_000_000.0),
        ("1699999999.25", 1_699_999_999.25),
        ("0", 0.0),
        ("2023-11-14T22:13:20Z", 1_700_000_000.0),
        ("2023-11-14t22:13:20z", 1_700_000_000.0),
        ("2023-11-14T22:13:20+00:00", 1_700_000_000.0),
        ("2023-11-14T23:13:20+01:00", 1_700_000_000.0),
        ("2023-11-14T17:13:20-05:00", 1_700_000_000.0),
        ("2023-11-14T22:13:20", 1_700_000_000.0),  # no zone: UTC, not the machine's zone
        ("2023-11-14 22:13:20", 1_700_000_000.0),
        ("2023-11-14T22:13:20.5Z", 1_700_000_000.5),
        ("2023-11-14T22:13Z", 1_700_000_000.0 - 20),
        ("2023-11-14", 1_699_920_000.0),  # midnight UTC
        ("-2h", NOW_S - 7200),
        ("- 2h", NOW_S - 7200),
        ("-1h30m", NOW_S - 5400),
        ("-500ms", NOW_S - 0.5),
        ("2h ago", NOW_S - 7200),
        ("7d ago", NOW_S - 7 * 86400),
        ("1h30m  ago", NOW_S - 5400),
        ("now-30m", NOW_S - 1800),
        ("now - 30m", NOW_S - 1800),
        ("Now-1W", NOW_S - 604800),
        ("now+15m", NOW_S + 900),
        ("+15m", NOW_S + 900),
    ],
)
def test_each_accepted_form_gives_the_exact_second(text: str, expected: float) -> None:
    assert parse_instant(text, NOW_S) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "yesterday",
        "2h",  # a duration alone: ago or ahead? refused rather than guessed
        "-5",  # Unix seconds before 1970, or 5 seconds ago? refused rather than guessed
        "-2x",
        "now-",
        "now-30",
        "2h from now",
        "ago",
        "-2h ago",
        "1e9",
        "nan",
        "inf",
        "-0s",
        "2023-13-01T00:00:00Z",
        "2023-11-14T25:00:00Z",
        "14/11/2023",
        "1700000000s",
    ],
)
def test_a_rejected_form_names_the_text_and_the_accepted_forms(text: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_instant(text, NOW_S)
    message = str(info.value)
    assert message.startswith(f"{text!r} is not a time")
    assert message.endswith(f"expected {INSTANT_FORMS}")


def test_a_bad_duration_in_a_relative_time_is_named() -> None:
    with pytest.raises(ValueError, match=r"'-2x' is not a time \('2x' is not a duration"):
        parse_instant("-2x", NOW_S)


def test_relative_times_follow_the_given_now_not_the_clock() -> None:
    assert parse_instant("-1h", 7200.0) == 3600.0
    assert parse_instant("now", 0.0) == 0.0
