"""Frame layouts (``slo.series.layouts``): a scrape's series cut once, and never a wrong answer for it."""

from __future__ import annotations

import pickle

import polars as pl
import pytest

from redline.kernel.fields import SAMPLE_SCHEMA
from redline.slo.evaluation import Evaluator
from redline.slo.groups import expand_groups, has_new_members
from redline.slo.series.layouts import FrameLayouts
from redline.slo.spec import GuardrailSpec, SLOSpec

T0 = 1_700_000_000_000

AVAILABILITY = SLOSpec.model_validate({
    "name": "api", "objective": 99, "window": "1h",
    "sli": {"ratio": {"errors": 'req_total{service="api",code="500"}', "total": 'req_total{service="api"}'}},
})
SPEND = GuardrailSpec.model_validate(
    {"name": "spend", "budget": {"spend": 'redline_spend_usd_total{team="ml"}', "limit": 100}}
)

SELECTED = [
    ("req_total", 'code="200",service="api"'), ("req_total", 'code="500",service="api"'),
    ("redline_spend_usd_total", 'team="ml"'),
]
UNSELECTED = [
    ("req_total", 'code="500",service="batch"'), ("req_total", 'code="200",service="batch"'),
    ("inflight", 'service="api"'), ("redline_spend_usd_total", 'team="web"'),
]


def scrape(second: int, series: list[tuple[str, str]], *, wild: bool = False) -> pl.DataFrame:
    """One scrape: every series at ``second`` (counters growing by 3 a second for code 500, else
    by 100 + the length of the labels; ``wild``: unselected series reset, go NaN or jump)."""
    rows = []
    for i, (metric, labels) in enumerate(series):
        value = float(second * (3 if 'code="500"' in labels else 100 + len(labels)))
        if wild and (metric, labels) in UNSELECTED:
            value = [float("nan"), 1e12, 0.0, -5.0][(second + i) % 4]
        rows.append((metric, labels, T0 + second * 1000, value))
    return pl.DataFrame(rows, schema=SAMPLE_SCHEMA, orient="row")


def reports(evaluator: Evaluator, frames: list[pl.DataFrame]) -> list[str]:
    """Every 60 s of frames ingested, the report, as text."""
    out = []
    for second, frame in enumerate(frames):
        evaluator.ingest(frame)
        if second % 60 == 59:
            out.append(repr(evaluator.evaluate(T0 + second * 1000)))
    return out


def test_an_unselected_series_never_changes_any_result() -> None:
    seconds = 600
    only_selected = Evaluator([AVAILABILITY], [SPEND])
    alone = reports(only_selected, [scrape(s, SELECTED) for s in range(seconds)])
    mixed_series = [UNSELECTED[0], SELECTED[0], UNSELECTED[1], UNSELECTED[2], SELECTED[1], SELECTED[2], UNSELECTED[3]]
    mixed = reports(
        Evaluator([AVAILABILITY], [SPEND]), [scrape(s, mixed_series, wild=True) for s in range(seconds)]
    )
    assert mixed == alone
    api = {o.name: o for o in only_selected.evaluate(T0 + (seconds - 1) * 1000).objectives}["api"]
    assert api.burn_rates["5m"] == pytest.approx(300.0 / 127.0)  # 3 errors in 3 + 124 a second, 1% budget


def test_a_frame_with_the_same_ends_but_other_series_inside_is_cut_again() -> None:
    # the same length, first and last series: only a full comparison tells these layouts apart
    ends = [("inflight", 'service="a"'), ("inflight", 'service="z"')]
    with_api = [ends[0], *SELECTED[:2], ends[1]]
    with_batch = [ends[0], *UNSELECTED[:2], ends[1]]
    evaluator = Evaluator([AVAILABILITY])
    both = [scrape(s, with_batch if s % 2 else with_api) for s in range(120)]
    direct = Evaluator([AVAILABILITY])
    direct.ingest(pl.concat([f for f in both if f.get_column("labels").str.contains("api").any()]))
    assert reports(evaluator, both)[-1] == repr(direct.evaluate(T0 + 119_000))


def test_a_series_that_later_matches_a_new_group_member_is_picked_up() -> None:
    grouped = SLOSpec.model_validate({
        "name": "inference", "objective": 99, "window": "1h", "group_by": ["model"],
        "sli": {"ratio": {"errors": 'req_total{code="500"}', "total": "req_total"}},
    })
    llama = [("req_total", 'code="200",model="llama"'), ("req_total", 'code="500",model="llama"')]
    mistral = [("req_total", 'code="200",model="mistral"'), ("req_total", 'code="500",model="mistral"')]
    frames = [scrape(s, llama if s < 300 else llama + mistral) for s in range(600)]
    # as the agent does: ingest each scrape, rebuild from everything stored when a new member shows
    stored = frames[0]
    evaluator = Evaluator(expand_groups([grouped], stored))
    evaluator.ingest(frames[0])
    rebuilt_at = []
    for second, frame in enumerate(frames[1:], start=1):
        stored = pl.concat([stored, frame])
        pairs = list(frame.select("metric", "labels").unique().iter_rows())
        if has_new_members([grouped], set(evaluator.names), pairs):
            rebuilt_at.append(second)
            evaluator = Evaluator(expand_groups([grouped], stored))
            evaluator.ingest(stored)
        else:
            evaluator.ingest(frame)
    assert rebuilt_at == [300]
    at_ms = T0 + 599_000
    everything = Evaluator(expand_groups([grouped], stored))
    everything.ingest(stored)
    assert repr(evaluator.evaluate(at_ms)) == repr(everything.evaluate(at_ms))
    member = {o.name: o for o in evaluator.evaluate(at_ms).objectives}['inference{model="mistral"}']
    assert member.burn_rates["5m"] == pytest.approx(300.0 / 129.0)  # 3 errors in 3 + 126 a second, 1% budget


def test_layouts_hold_at_most_max_rows_and_none_in_a_checkpoint() -> None:
    layouts = FrameLayouts(max_rows=5, max_frame_rows=3)
    evaluator = Evaluator([AVAILABILITY])
    frames = [scrape(0, SELECTED[:2]), scrape(0, UNSELECTED[:2]), scrape(0, UNSELECTED[2:] + SELECTED[:1])]
    for frame in frames:
        layouts.put(frame.get_column("metric"), frame.get_column("labels"), (pl.Series([0]).to_numpy(),) * 3)
    assert layouts.rows == 5  # the oldest (2 rows) dropped for the third
    assert layouts.get(frames[0].get_column("metric"), frames[0].get_column("labels")) is None
    assert layouts.get(frames[2].get_column("metric"), frames[2].get_column("labels")) is not None
    too_long = scrape(0, SELECTED + UNSELECTED[:1])
    layouts.put(too_long.get_column("metric"), too_long.get_column("labels"), (pl.Series([0]).to_numpy(),) * 3)
    assert layouts.get(too_long.get_column("metric"), too_long.get_column("labels")) is None
    restored = pickle.loads(pickle.dumps(layouts))
    assert (restored.rows, restored.max_rows, restored.max_frame_rows) == (0, 5, 3)
    evaluator.ingest(frames[0])
    assert b"polars" not in pickle.dumps(evaluator)


def test_a_checkpoint_written_before_layouts_were_kept_resumes_and_ingests() -> None:
    before = Evaluator([AVAILABILITY], [SPEND])
    before.ingest(scrape(0, SELECTED))
    del before.slos.__dict__["_layouts"]  # as an evaluator pickled by the previous engine
    assert before.guardrails is not None
    del before.guardrails._store.__dict__["_layouts"]
    resumed: Evaluator = pickle.loads(pickle.dumps(before))
    fresh = Evaluator([AVAILABILITY], [SPEND])
    fresh.ingest(scrape(0, SELECTED))
    for second in range(1, 120):
        resumed.ingest(scrape(second, SELECTED))
        fresh.ingest(scrape(second, SELECTED))
    assert repr(resumed.evaluate(T0 + 119_000)) == repr(fresh.evaluate(T0 + 119_000))
