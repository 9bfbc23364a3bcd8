from __future__ import annotations

import pytest
from pydantic import ValidationError

from redline.slo.spec import GuardrailSpec, SLOSpec


def test_throughput_and_gpu_objectives_take_their_kind_and_dimension() -> None:
    rows = SLOSpec.model_validate(
        {
            "name": "rows",
            "objective": 99,
            "dimension": "data",
            "sli": {"throughput": {"counter": "rows_total", "min_rate": 1_000_000, "per": "1h", "slice": "5m"}},
        }
    )
    assert (rows.kind, rows.effective_dimension) == ("throughput", "data")
    assert rows.sli.throughput is not None
    assert rows.sli.throughput.min_per_second == pytest.approx(1_000_000 / 3600)
    gpu = SLOSpec.model_validate(
        {"name": "band", "objective": 95, "sli": {"gpu": {"utilization": "redline_gpu_utilization_ratio",
                                                        "min": 0.4, "max": 0.9, "by": ["host"]}}}
    )
    assert (gpu.kind, gpu.effective_dimension) == ("gpu", "model")


def test_a_gpu_band_upside_down_is_rejected() -> None:
    with pytest.raises(ValidationError, match=r"min \(0.9\) must be below max \(0.4\)"):
        SLOSpec.model_validate(
            {"name": "b", "objective": 95, "sli": {"gpu": {"utilization": "u", "min": 0.9, "max": 0.4}}}
        )


def test_guardrails_are_budget_or_cost_per_1k_in_the_cost_dimension() -> None:
    budget = GuardrailSpec.model_validate(
        {"name": "ml-monthly", "budget": {"spend": 'redline_spend_usd_total{team="ml"}', "limit": 50_000,
                                          "timezone": "Europe/Paris", "showback_by": ["service"]}}
    )
    assert (budget.kind, budget.dimension) == ("budget", "cost")
    assert budget.budget is not None and budget.budget.period == "month"
    per_1k = GuardrailSpec.model_validate(
        {"name": "c", "window": "7d", "cost_per_1k": {"spend": "s", "inferences": "vllm:request_success_total",
                                                      "max": 0.40}}
    )
    assert (per_1k.kind, per_1k.window) == ("cost_per_1k", 7 * 86400)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"budget": {"spend": "s", "limit": 1, "timezone": "Mars/Olympus"}}, "unknown time zone 'Mars/Olympus'"),
        ({}, "give exactly one of budget, cost_per_1k"),
        ({"budget": {"spend": "s", "limit": 0}}, "greater than 0"),
    ],
)
def test_bad_guardrails_say_what_is_wrong(body: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        GuardrailSpec.model_validate({"name": "g", **body})
