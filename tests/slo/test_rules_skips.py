from __future__ import annotations

from redline.slo.rules import render_rules_yaml, skipped_objectives
from redline.slo.spec import SLOSpec

RATIO = {"ratio": {"errors": 'req_total{code="500"}', "total": "req_total"}}


def spec(**extra: object) -> SLOSpec:
    return SLOSpec.model_validate({"name": "api", "objective": 99, "sli": RATIO, **extra})


def test_objectives_rules_cannot_express_are_skipped_with_the_reason_named() -> None:
    maintained = spec(name="maintained", maintenance=[{"day": "sunday", "start": "02:00", "end": "04:00"}])
    grouped = spec(name="per-model", group_by=["model"])
    plain = spec()
    specs = [maintained, grouped, plain]
    assert skipped_objectives(specs) == ["maintained", "per-model"]
    text = render_rules_yaml(specs)
    assert "# skipped maintained: maintenance windows cannot be expressed in Prometheus rules" in text
    assert "# skipped per-model: grouped" in text
    assert 'slo="api"' in text and 'slo="maintained"' not in text
