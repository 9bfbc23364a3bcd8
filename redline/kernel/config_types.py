"""Pydantic field types shared by every config model: durations and selectors as written in YAML."""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator, PlainSerializer

from redline.kernel.labels import Selector, parse_selector
from redline.kernel.units import format_duration, parse_duration

__all__ = ["DurationSeconds", "SelectorField"]


def _to_seconds(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError("expected a duration such as 30s, 5m, 1h, 30d")
    if isinstance(value, str):
        return parse_duration(value)
    if value <= 0:
        raise ValueError("expected a positive duration")
    return float(value)


def _to_selector(value: object) -> Selector:
    if isinstance(value, Selector):
        return value
    if not isinstance(value, str):
        raise ValueError('expected a selector string such as metric{label="v"}')
    return parse_selector(value)


DurationSeconds = Annotated[float, BeforeValidator(_to_seconds), PlainSerializer(format_duration)]
"""A duration written as ``30s``/``5m``/``30d`` in YAML (or a number of seconds), held as seconds."""

SelectorField = Annotated[Selector, BeforeValidator(_to_selector), PlainSerializer(str)]
"""A selector written in PromQL form in YAML, parsed at load."""
