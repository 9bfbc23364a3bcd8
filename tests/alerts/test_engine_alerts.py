"""Alert conditions on the engine's real results: a GPU band left longer than its for:, a handful
of failures on a low-traffic objective (never a page)."""

from __future__ import annotations

import numpy as np
import polars as pl

from redline.alerts.alert_policy import AlertPolicy
from redline.alerts.conditions import ConditionPolicy
from redline.kernel.fields import SAMPLE_SCHEMA
from redline.slo.engine import SLOEvaluator
from redline.slo.spec import SLOSpec
from tests.slo.test_gpu_band import METRIC, MIN, T0, _gauge


def test_a_gpu_band_left_for_longer_than_its_for_tickets_and_resolves_back_in_band() -> None:
    spec = SLOSpec.model_validate({"name": "gpu-band", "objective": 90, "sli": {"gpu": {
        "utilization": METRIC, "min": 0.4, "max": 0.9, "by": ["pool"], "for": "10m"}}})
    assert spec.sli.gpu is not None and spec.sli.gpu.for_ == 600.0
    m = np.arange(0, 61, dtype=np.int64)
    ev = SLOEvaluator([spec])
    samples = pl.concat([  # serve idles at 10% in minutes 20…39, train stays at 60%
        _gauge('gpu="0",pool="train"', m, np.full(len(m), 0.6)),
        _gauge('gpu="1",pool="serve"', m, np.where((m >= 20) & (m <= 39), 0.1, 0.5)),
    ]).sort("metric", "labels", "timestamp")
    policy = ConditionPolicy(band_for_s={"gpu-band": 600.0}, dark_after_s=3600.0)
    firing_at = []
    for minute in range(0, 50):  # as the agent: each minute's samples, then an evaluation
        ev.ingest(samples.filter(pl.col("timestamp") == T0 + minute * MIN))
        report = ev.evaluate(T0 + minute * MIN)
        for active in policy.alerts(report, (T0 + minute * MIN) / 1000):
            if active.alert.key == "gpu-band/band" and active.firing:
                firing_at.append(minute)
                summary = active.alert.annotations["summary"]
    # the newest finished slice is out of band from minute 21 (slice 20) to 40: fires 10 minutes on
    assert firing_at == list(range(31, 41))
    assert summary == ('gpu-band: GPU utilisation outside 40–90% for at least 10m: {pool="serve"} below the '
                       "band at 10%")


def test_a_handful_of_failures_on_a_low_traffic_objective_never_pages() -> None:
    spec = SLOSpec.model_validate({"name": "api", "objective": 99, "min_events": 100,
                                   "sli": {"ratio": {"errors": "err_total", "total": "req_total"}}})
    rows = [("req_total", 0, 0.0), ("err_total", 0, 0.0), ("req_total", MIN, 37.0), ("err_total", MIN, 10.0)]
    ev = SLOEvaluator([spec])
    ev.ingest(pl.DataFrame([(n, "", T0 + t, v) for n, t, v in rows], schema=SAMPLE_SCHEMA, orient="row"))
    policy = AlertPolicy([spec])
    (low,) = ev.evaluate(T0 + 2 * MIN).objectives
    assert low.status == "low_traffic" and low.burn_rates["5m"] is not None and low.burn_rates["5m"] > 14.4
    assert policy.firings(low, (T0 + 2 * MIN) / 1000) == []
    # the same failures judged without a floor: a page
    judged = SLOEvaluator([spec.model_copy(update={"min_events": 0.0})])
    judged.ingest(pl.DataFrame([(n, "", T0 + t, v) for n, t, v in rows], schema=SAMPLE_SCHEMA, orient="row"))
    (burning,) = judged.evaluate(T0 + 2 * MIN).objectives
    assert [f.severity for f in AlertPolicy([spec]).firings(burning, (T0 + 2 * MIN) / 1000)] == ["page"]
