from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from redline.kernel.fields import SAMPLE_SCHEMA
from redline.slo.engine import SLOEvaluator
from redline.slo.results import ObjectiveResult
from redline.slo.spec import SLOSpec

MIN = 60_000
T0 = 28_000_000 * MIN
DAY_S = 86400.0
METRIC = "redline_gpu_utilization_ratio"


def _gauge(labels: str, minutes: np.ndarray, values: np.ndarray) -> pl.DataFrame:
    n = len(minutes)
    return pl.DataFrame(
        {"metric": [METRIC] * n, "labels": [labels] * n, "timestamp": T0 + minutes * MIN, "value": values},
        schema=SAMPLE_SCHEMA,
    )


def _three_gpus() -> pl.DataFrame:
    """Minutes 0…120: pool train (gpu0, gpu1) at 60%/70% until it saturates (95%/97%) from minute 91;
    pool serve (gpu2) at 50%, idle (10%) in minutes 10…29."""
    m = np.arange(0, 121, dtype=np.int64)
    hot = m >= 91
    return pl.concat([
        _gauge('gpu="0",pool="train"', m, np.where(hot, 0.95, 0.60)),
        _gauge('gpu="1",pool="train"', m, np.where(hot, 0.97, 0.70)),
        _gauge('gpu="2",pool="serve"', m, np.where((m >= 10) & (m <= 29), 0.10, 0.50)),
    ]).sample(fraction=1.0, shuffle=True, seed=5)


def _spec(name: str = "gpu-band", **extra: object) -> SLOSpec:
    sli: dict[str, object] = {"utilization": METRIC, "min": 0.4, "max": 0.9, "by": ["pool"], **extra}
    return SLOSpec.model_validate({"name": name, "objective": 90, "sli": {"gpu": sli}})


def _one(ev: SLOEvaluator, at_minute: int) -> ObjectiveResult:
    (result,) = ev.evaluate(T0 + at_minute * MIN).objectives
    return result


def test_gpu_band_slice_is_bad_when_any_pool_is_out_of_band() -> None:
    ev = SLOEvaluator([_spec()])
    ev.ingest(_three_gpus())
    r = _one(ev, 120)
    # 121 slices (a gauge counts from its first sample); 20 idle (serve) + 30 saturated (train) bad
    assert r.kind == "gpu" and r.dimension == "model"
    assert r.events == 121
    assert r.sli == pytest.approx(71 / 121, rel=1e-12)
    assert r.budget_remaining == pytest.approx(1 - (50 / 121) / 0.1, rel=1e-12)
    assert r.burn_rates["1h"] == pytest.approx((30 / 60) / 0.1, rel=1e-12)
    assert r.burn_rates["5m"] == pytest.approx(1 / 0.1, rel=1e-12)
    assert r.time_to_breach_seconds == 0.0
    assert r.status == "breached"
    assert r.reason == 'budget overspent: 413% used; above 90% (saturation) in {pool="train"} at 96%'


def test_gpu_band_reason_names_the_idle_pool_as_waste() -> None:
    ev = SLOEvaluator([_spec()])
    ev.ingest(_three_gpus().filter(pl.col("timestamp") <= T0 + 20 * MIN))
    assert _one(ev, 20).reason.endswith('; below 40% (waste) in {pool="serve"} at 10%')


def test_gpu_band_one_pool_averages_every_gpu() -> None:
    ev = SLOEvaluator([_spec(by=[])])
    ev.ingest(_three_gpus())
    r = _one(ev, 120)
    # all three: (0.6+0.7+0.5)/3 = 60%, idle (0.6+0.7+0.1)/3 ≈ 47%, hot (0.95+0.97+0.5)/3 ≈ 81%: all in band
    assert r.sli == 1.0
    ev_max = SLOEvaluator([_spec(by=[], aggregate="max")])
    ev_max.ingest(_three_gpus())
    assert _one(ev_max, 120).sli == pytest.approx(91 / 121, rel=1e-12)  # 97% from minute 91
    assert _one(ev_max, 120).reason.endswith("; above 90% (saturation) in all GPUs at 97%")


def test_gpu_band_per_gpu_max_names_the_worst_gpu_and_counts_the_others() -> None:
    ev = SLOEvaluator([_spec(by=["gpu"], aggregate="max")])
    ev.ingest(_three_gpus())
    assert _one(ev, 120).reason.endswith('; above 90% (saturation) in {gpu="1"} at 97% and 1 more')


def _changing_gpus() -> pl.DataFrame:
    """gpu A at 50% throughout; gpu B at 20% until it disappears after minute 59; gpu C appears
    at minute 70 at 70%. One pool, averaged."""
    m = np.arange(0, 121, dtype=np.int64)
    return pl.concat([
        _gauge('UUID="GPU-a",host="h1"', m, np.full(len(m), 0.5)),
        _gauge('UUID="GPU-b",host="h1"', m[m < 60], np.full(60, 0.2)),
        _gauge('UUID="GPU-c",host="h1"', m[m >= 70], np.full(51, 0.7)),
    ])


def test_gpu_that_disappears_takes_no_part_in_later_slices() -> None:
    ev = SLOEvaluator([_spec(by=["host"])])
    ev.ingest(_changing_gpus())
    r = _one(ev, 120)
    # 0…59: (0.5+0.2)/2 = 35% (waste); 60…69: A alone 50% (not (0.5+0)/2, nor B's last 20%); 70…: 60%
    assert r.events == 121
    assert r.sli == pytest.approx(61 / 121, rel=1e-12)
    assert r.burn_rates["1h"] == 0.0
    assert r.status == "breached"


def test_gpu_label_set_changes_fed_scrape_by_scrape_equal_a_cold_start() -> None:
    frame = _changing_gpus()
    specs = [_spec(by=["host"]), _spec("per-gpu", by=["UUID"], aggregate="min"), _spec("pool", by=[])]
    cold = SLOEvaluator(specs)
    cold.ingest(frame)
    ticks = SLOEvaluator(specs)
    for part in frame.sort("timestamp").partition_by("timestamp", maintain_order=True):
        ticks.ingest(part)
    for at in (30, 65, 75, 120, 130):
        assert ticks.evaluate(T0 + at * MIN).to_json() == cold.evaluate(T0 + at * MIN).to_json()
    per_gpu = next(o for o in cold.evaluate(T0 + 120 * MIN).objectives if o.name == "per-gpu")
    assert per_gpu.sli == pytest.approx(61 / 121, rel=1e-12)  # B's 20% fails its own group until it goes


def test_gpu_band_uses_the_last_value_of_each_gpu_in_a_slice() -> None:
    m = np.arange(0, 10, dtype=np.int64)
    # 15-second scrapes: the value at the slice end (the last in the slice) decides
    ts = np.concatenate([m * 4 + j for j in range(4)])
    frame = pl.DataFrame(
        {"metric": METRIC, "labels": 'gpu="0"', "timestamp": T0 + np.sort(ts) * 15_000,
         "value": np.tile([0.95, 0.95, 0.95, 0.5], 10)},
        schema=SAMPLE_SCHEMA,
    )
    ev = SLOEvaluator([_spec(by=[])])
    ev.ingest(frame)
    r = _one(ev, 10)
    # samples every 15 s at 95%, 95%, 95%, 50%, …: slice k (ends at k min) holds the samples at
    # k−1 min + 15 s … k min, whose last (at k min) is 95%: bad; slice 0 holds t = 0 alone (95%);
    # the open slice 10 ends with the sample at 9 min 45 s (50%): good
    assert r.events == 11
    assert r.sli == pytest.approx(1 / 11, rel=1e-12)


def test_gpu_percentages_are_reported_by_check_series_and_in_the_reason() -> None:
    m = np.arange(0, 10, dtype=np.int64)
    frame = pl.concat([
        _gauge('gpu="0"', m, np.full(10, 85.0)),
        _gauge('gpu="1",pool="x"', m, np.full(10, 0.5)),
    ])
    ev = SLOEvaluator([_spec()])
    assert ev.check_series(frame) == [
        "objective 'gpu-band': 1 of the 2 series of redline_gpu_utilization_ratio have no 'pool' label, "
        "so they are pooled together under an empty pool",
        "objective 'gpu-band': redline_gpu_utilization_ratio has values up to 85: utilisation values above 1 "
        "look like a percentage; use a 0–1 ratio such as redline_gpu_utilization_ratio",
    ]
    assert ev.check_series(frame.select("metric", "labels").unique()) == [
        "objective 'gpu-band': 1 of the 2 series of redline_gpu_utilization_ratio have no 'pool' label, "
        "so they are pooled together under an empty pool",
    ]
    ev.ingest(frame)
    assert _one(ev, 9).reason.endswith(
        "; utilisation values above 1 look like a percentage; use a 0–1 ratio such as redline_gpu_utilization_ratio"
    )
