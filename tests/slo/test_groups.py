from __future__ import annotations

import polars as pl
import pytest

from redline.kernel.fields import SAMPLE_SCHEMA
from redline.kernel.labels import format_labels
from redline.slo.evaluation import Evaluator
from redline.slo.groups import expand_groups
from redline.slo.spec import SLOSpec

T0 = 1_700_000_000_000


def requests(model: str, code: str, per_min: int, minutes: int = 61) -> list[tuple[str, str, int, float]]:
    labels = format_labels({"model": model, "code": code})
    return [("req_total", labels, T0 + m * 60_000, float(m * per_min)) for m in range(minutes)]


def spec() -> SLOSpec:
    return SLOSpec.model_validate(
        {
            "name": "inference",
            "objective": 99,
            "group_by": ["model"],
            "labels": {"team": "ml"},
            "sli": {"ratio": {"errors": 'req_total{code="500"}', "total": "req_total"}},
        }
    )


def frame() -> pl.DataFrame:
    rows = (
        requests("llama", "200", 99) + requests("llama", "500", 1)  # 1% errors: burning 1x
        + requests("mistral", "200", 90) + requests("mistral", "500", 10)  # 10% errors: 10x
    )
    return pl.DataFrame(rows, schema=SAMPLE_SCHEMA, orient="row")


def test_a_grouped_objective_becomes_one_objective_per_label_value_with_its_own_budget() -> None:
    samples = frame()
    members = expand_groups([spec()], samples)
    assert [m.name for m in members] == ['inference{model="llama"}', 'inference{model="mistral"}']
    assert members[1].labels == {"team": "ml", "model": "mistral"}
    assert str(members[1].sli.ratio.total) == 'req_total{model="mistral"}'  # type: ignore[union-attr]
    evaluator = Evaluator(members)
    evaluator.ingest(samples)
    report = evaluator.evaluate(T0 + 60 * 60_000)
    worst, other = report.objectives
    assert worst.name == 'inference{model="mistral"}'  # the worst member is ranked first
    assert worst.burn_rates["1h"] == pytest.approx(10.0)
    assert other.burn_rates["1h"] == pytest.approx(1.0)
    assert report.dimensions[0].nearest == 'inference{model="mistral"}'


def test_a_grouped_objective_with_no_member_yet_stays_and_reports_no_data() -> None:
    (only,) = expand_groups([spec()], pl.DataFrame(schema=SAMPLE_SCHEMA))
    assert only.name == "inference"
    evaluator = Evaluator([only])
    assert evaluator.evaluate(T0).objectives[0].status == "no_data"


def test_series_without_the_label_form_the_member_with_an_empty_value() -> None:
    rows = [("req_total", 'code="200"', T0, 1.0), ("req_total", 'code="200",model="a"', T0, 1.0)]
    members = expand_groups([spec()], pl.DataFrame(rows, schema=SAMPLE_SCHEMA, orient="row"))
    assert [m.name for m in members] == ['inference{model=""}', 'inference{model="a"}']
