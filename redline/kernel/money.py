"""Amounts of money as people write them, in one place: guardrail reasons, ``status``, the
dashboard's cost page and its charts all format through ``format_money``."""

from __future__ import annotations

import math
from functools import cache
from typing import Final

__all__ = ["MISSING", "format_money"]

MISSING: Final = "—"
"""What a missing (``None``) or non-finite amount reads as."""

_SYMBOLS: Final = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}


@cache
def _prefix(currency: str | None) -> str:
    """``$`` for a currency with a symbol, ``CHF `` (code and space) for one without, nothing
    when the currency is unknown."""
    return _SYMBOLS.get(currency or "", f"{currency} " if currency else "")


def format_money(value: float | None, currency: str | None) -> str:
    """``$31,200`` from 100 up (whole units), ``$12.50`` from 1, ``$0.4125`` below 1 (up to four
    decimals, at least two: cost per 1,000 inferences lives there), ``$0`` for zero; the minus
    before the symbol (``-$5.00``); ``CHF 12.50`` for a currency without a symbol; ``—`` for a
    missing or non-finite amount."""
    if value is None or not math.isfinite(value):
        return MISSING
    if value >= 100:  # the usual case, first
        return f"{_prefix(currency)}{value:,.0f}"
    magnitude = abs(value)
    if magnitude >= 100:
        body = f"{magnitude:,.0f}"
    elif magnitude >= 1 or magnitude == 0:
        body = f"{magnitude:,.2f}" if magnitude else "0"
    else:
        body = f"{magnitude:.4f}".rstrip("0")
        body += "0" * max(0, 4 - len(body))  # at least two decimals: 0.40
    return f"{'-' if value < 0 and body != '0' else ''}{_prefix(currency)}{body}"
