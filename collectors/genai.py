"""The OpenTelemetry GenAI semantic conventions, as the OTLP receiver stores them, and token spend.

The five GenAI metrics are histograms. Each is known here by its OTel name, its unit (filled in
when an instrumentation leaves it out, so the stored name is always the documented one) and the
Prometheus family it is stored as:

| OTel metric                          | unit      | stored family (``_bucket``/``_sum``/``_count``) |
|--------------------------------------|-----------|-------------------------------------------------|
| ``gen_ai.client.token.usage``        | {token}   | ``gen_ai_client_token_usage``                   |
| ``gen_ai.client.operation.duration`` | s         | ``gen_ai_client_operation_duration_seconds``    |
| ``gen_ai.server.request.duration``   | s         | ``gen_ai_server_request_duration_seconds``      |
| ``gen_ai.server.time_to_first_token``| s         | ``gen_ai_server_time_to_first_token_seconds``   |
| ``gen_ai.server.time_per_output_token``| s       | ``gen_ai_server_time_per_output_token_seconds`` |

Their attributes become labels: ``gen_ai_request_model``, ``gen_ai_response_model``,
``gen_ai_operation_name``, ``gen_ai_provider_name`` (``gen_ai_system`` in older releases),
``gen_ai_token_type`` (``input``/``output``) and, on a failed operation, ``error_type``.

**Token spend.** The conventions have no cost attribute: cost is tokens × a price per token. With
``token_prices`` on the receiver (the rate card's ``TokenPrice``: USD per million input and output
tokens per model) each ``gen_ai_client_token_usage_sum`` point also gives a
``redline_spend_usd_total`` point (its labels, with ``model`` and ``token_type``), exactly as the
``rate_card`` source prices the same counter when it scrapes it; a cost-per-1k guardrail then
divides it by ``gen_ai_client_operation_duration_seconds_count``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Final

from redline.collectors.rate_card import SPEND, TokenPrice
from redline.kernel.labels import format_labels, parse_labels

__all__ = ["GENAI_METRICS", "TOKEN_USAGE_SUM", "GenAIMetric", "semconv_unit", "token_spend_rows"]


@dataclass(frozen=True)
class GenAIMetric:
    """One metric of the GenAI semantic conventions."""

    name: str
    unit: str
    family: str
    buckets: tuple[float, ...]
    """The explicit bucket boundaries the conventions advise."""


_DURATION: Final = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
GENAI_METRICS: Final = {
    m.name: m
    for m in (
        GenAIMetric("gen_ai.client.token.usage", "{token}", "gen_ai_client_token_usage",
                    tuple(float(4**i) for i in range(14))),
        GenAIMetric("gen_ai.client.operation.duration", "s", "gen_ai_client_operation_duration_seconds", _DURATION),
        GenAIMetric("gen_ai.server.request.duration", "s", "gen_ai_server_request_duration_seconds", _DURATION),
        GenAIMetric("gen_ai.server.time_to_first_token", "s", "gen_ai_server_time_to_first_token_seconds",
                    (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)),
        GenAIMetric("gen_ai.server.time_per_output_token", "s", "gen_ai_server_time_per_output_token_seconds",
                    (0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5)),
    )
}  # fmt: skip
"""The GenAI metrics by OTel name."""

TOKEN_USAGE_SUM: Final = "gen_ai_client_token_usage_sum"
_MODEL: Final = "gen_ai_request_model"
_TOKEN_TYPE: Final = "gen_ai_token_type"


def semconv_unit(name: str, unit: str) -> str:
    """``unit``, or the conventions' unit for a GenAI metric sent without one."""
    known = GENAI_METRICS.get(name)
    return unit or (known.unit if known is not None else "")


def token_spend_rows(
    rows: Iterable[tuple[str, str, int, float]], prices: Mapping[str, TokenPrice], problems: set[str]
) -> Iterator[tuple[str, str, int, float]]:
    """A ``redline_spend_usd_total`` row for every token-usage sum row of a priced model; a model
    without a price is added to ``problems`` (its tokens are not costed, never costed at 0)."""
    for metric, canonical, ts_ms, tokens in rows:
        if metric != TOKEN_USAGE_SUM:
            continue
        labels = parse_labels(canonical)
        model, token_type = labels.get(_MODEL, ""), labels.get(_TOKEN_TYPE, "")
        if token_type not in ("input", "output"):
            continue
        price = prices.get(model)
        if price is None:
            problems.add(f"model {model!r} has no price in token_prices; its tokens are not costed")
            continue
        per_million = price.input_per_million_usd if token_type == "input" else price.output_per_million_usd
        labels.update(model=model, token_type=token_type)
        yield SPEND, format_labels(labels), ts_ms, tokens * per_million / 1e6
