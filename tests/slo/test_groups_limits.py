"""``max_groups``: a ``group_by`` creates at most that many objectives, and says so naming the label."""

from __future__ import annotations

import logging
from pathlib import Path

import polars as pl
import pytest
from pydantic import ValidationError

from redline.agent.cli import main
from redline.kernel.fields import SAMPLE_SCHEMA
from redline.kernel.labels import format_labels
from redline.slo.groups import expand_groups, group_overflows, has_new_members, member_name
from redline.slo.spec import SLOSpec
from redline.store.embedded import SampleStore

T0 = 1_700_000_000_000


def spec(**extra: object) -> SLOSpec:
    return SLOSpec.model_validate(
        {
            "name": "inference",
            "objective": 99,
            "group_by": ["model"],
            "sli": {"ratio": {"errors": 'req_total{code="500"}', "total": "req_total"}},
            **extra,
        }
    )


def frame(models: int) -> pl.DataFrame:
    rows = [("req_total", format_labels({"model": f"m{i:04d}", "code": "200"}), T0, 1.0) for i in range(models)]
    return pl.DataFrame(rows, schema=SAMPLE_SCHEMA, orient="row")


def test_the_default_is_1000_and_at_least_one_is_required() -> None:
    assert spec().max_groups == 1000
    with pytest.raises(ValidationError, match="max_groups"):
        spec(max_groups=0)


def test_exactly_max_groups_members_are_all_created() -> None:
    members = expand_groups([spec(max_groups=5)], frame(5))
    assert len(members) == 5
    assert group_overflows([spec(max_groups=5)], frame(5)) == []


def test_over_max_groups_only_the_first_are_created_and_a_warning_names_the_label_and_count(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="redline.slo.groups"):
        members = expand_groups([spec(max_groups=3)], frame(1500))
    assert [m.name for m in members] == [f'inference{{model="m{i:04d}"}}' for i in range(3)]
    assert caplog.messages == [
        "objective 'inference': group_by model (1500 values) would create 1500 objectives, over max_groups 3; "
        "only the first 3 (by value) are created"
    ]


def test_group_overflows_names_each_label_with_its_count_of_values() -> None:
    rows = [
        ("req_total", format_labels({"model": f"m{i}", "tenant": f"t{j}"}), T0, 1.0)
        for i in range(2) for j in range(30)
    ]
    grouped = spec(group_by=["model", "tenant"], max_groups=50)
    (overflow,) = group_overflows([grouped, spec(name="other")], pl.DataFrame(rows, schema=SAMPLE_SCHEMA, orient="row"))
    assert (overflow.objective, overflow.found, overflow.max_groups) == ("inference", 60, 50)
    assert "group_by model (2 values), tenant (30 values) would create 60 objectives" in str(overflow)


def test_a_full_objective_asks_for_no_rebuild_but_one_with_room_does() -> None:
    full = spec(max_groups=3)
    known = [m.name for m in expand_groups([full], frame(10))]
    new_series = [("req_total", format_labels({"model": "zzz", "code": "200"}))]
    assert not has_new_members([full], known, new_series)
    roomy = spec(max_groups=4)
    assert has_new_members([roomy], known, new_series)
    assert not has_new_members([roomy], [*known, member_name(roomy, {"model": "zzz"})], new_series)


def test_check_refuses_a_group_by_over_max_groups_naming_the_label(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "redline.yaml"
    config.write_text(
        "agent: {data_dir: ./data}\n"
        "slos:\n"
        "  - name: inference\n"
        "    objective: 99\n"
        "    group_by: [model]\n"
        "    max_groups: 3\n"
        "    sli: {ratio: {errors: 'req_total{code=\"500\"}', total: req_total}}\n"
    )
    SampleStore(tmp_path / "data").append(frame(5))
    assert main(["check", "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert "objective 'inference': group_by model (5 values) would create 5 objectives, over max_groups 3" in err
