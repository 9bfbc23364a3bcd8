"""One money formatter for guardrail reasons, ``status`` targets and the dashboard's cost page."""

from __future__ import annotations

import pytest

from redline.kernel.money import MISSING, format_money


@pytest.mark.parametrize(
    ("value", "currency", "text"),
    [
        (40_000.0, "USD", "$40,000"),  # whole units from 100 up
        (2_160.4, "USD", "$2,160"),
        (100.0, "USD", "$100"),
        (12.5, "USD", "$12.50"),  # cents from 1
        (0.25, "USD", "$0.25"),  # below 1: up to four decimals, at least two
        (0.4, "USD", "$0.40"),
        (0.23333, "USD", "$0.2333"),  # cost per 1k inferences lives here
        (0.0, "USD", "$0"),
        (-5.0, "USD", "-$5.00"),  # the minus before the symbol
        (-1_234.0, "USD", "-$1,234"),
        (4_000.0, "EUR", "€4,000"),
        (0.4, "GBP", "£0.40"),
        (1_500.0, "JPY", "¥1,500"),
        (12.5, "CHF", "CHF 12.50"),  # a code and a space without a symbol
        (4_000.0, None, "4,000"),  # no currency known: the bare amount
        (4_000.0, "", "4,000"),
    ],
)
def test_amounts_read_as_people_write_them(value: float, currency: str | None, text: str) -> None:
    assert format_money(value, currency) == text


@pytest.mark.parametrize("value", [None, float("nan"), float("inf"), float("-inf")])
def test_a_missing_or_non_finite_amount_is_a_dash(value: float | None) -> None:
    assert format_money(value, "USD") == MISSING == "—"
