"""The FOCUS collector against real files: the fixture is a FOCUS 1.0 export with the full column set
of a real AWS FOCUS 1.0 export (no cloud bill can be fetched here), written to tmp_path as CSV,
Parquet, and to a moto S3 server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import boto3
import polars as pl
import pytest
import yaml
from pydantic import ValidationError

from redline.collectors.focus import FocusCollector, FocusConfig
from redline.collectors.object_storage import ObjectStorageSettings
from redline.kernel.labels import format_labels
from tests.collectors.context import context
from tests.s3_server import s3_server

FIXTURE = Path(__file__).parent.parent / "fixtures" / "spend" / "focus_1_0_aws.csv"
EXAMPLE = Path(__file__).parent.parent.parent / "examples" / "sources-spend.yaml"
HOUR_MS = 3_600_000
SEP_1 = 1_725_148_800_000  # 2024-09-01T00:00:00Z
EC2 = "Amazon Elastic Compute Cloud"


def clock() -> float:
    return 1_727_800_000.0


def make(path: Path | str, **extra: object) -> FocusCollector:
    cfg = FocusConfig.model_validate({"name": "aws-bill", "kind": "focus", "path": str(path), **extra})
    return FocusCollector(cfg, context(clock))


def series(frame: pl.DataFrame, **labels: str) -> dict[int, float]:
    """timestamp → value of the series with exactly these labels (plus source)."""
    want = format_labels({**labels, "source": "aws-bill"})
    rows = frame.filter(pl.col("labels") == want).sort("timestamp")
    return {int(t): round(v, 6) for t, v in zip(rows["timestamp"], rows["value"], strict=True)}


def edited(tmp_path: Path, name: str, edit: dict[tuple[int, str], str] | None = None, drop: str | None = None) -> Path:
    """The fixture with cells replaced (data row from 1, column) or a column dropped, as a new CSV."""
    frame = pl.read_csv(FIXTURE, infer_schema=False)
    for (row, col), value in (edit or {}).items():
        frame = frame.with_columns(
            pl.when(pl.int_range(pl.len()) == row - 1).then(pl.lit(value)).otherwise(pl.col(col)).alias(col)
        )
    if drop:
        frame = frame.drop(drop)
    out = tmp_path / name
    frame.write_csv(out)
    return out


def test_effective_cost_is_spread_hourly_and_accumulated_per_service() -> None:
    result = make(FIXTURE, group_by=["ServiceName"]).collect()
    assert result.health.ok, result.health.error
    ec2 = series(result.samples, service=EC2)
    # two on-demand hours of 32.7726, a -5 credit in the second hour, the RI purchase's EffectiveCost 0
    assert ec2[SEP_1 + HOUR_MS] == 32.7726
    assert ec2[SEP_1 + 2 * HOUR_MS] == 60.5452
    assert ec2[SEP_1 + 720 * HOUR_MS] == 60.5452
    assert ec2[SEP_1] == 0.0  # each series starts at 0 at its first bucket's start
    assert len(ec2) == 721
    s3 = series(result.samples, service="Amazon Simple Storage Service")
    # one daily row of 4.80 spread over 24 hourly buckets
    assert s3[SEP_1 + HOUR_MS] == 0.2
    assert s3[SEP_1 + 13 * HOUR_MS] == 2.6
    assert s3[SEP_1 + 24 * HOUR_MS] == 4.8
    assert series(result.samples, service="Amazon SageMaker") == {
        SEP_1: 0.0, SEP_1 + HOUR_MS: 1.25, SEP_1 + 2 * HOUR_MS: 2.5
    }
    assert set(result.samples["metric"]) == {"redline_spend_usd_total"}


def test_billed_cost_puts_the_reserved_instance_purchase_on_the_series_and_savings_plan_usage_at_zero() -> None:
    result = make(FIXTURE, cost_column="BilledCost", bucket="1d", group_by=["ServiceName"]).collect()
    assert result.health.ok, result.health.error
    ec2 = series(result.samples, service=EC2)
    day = 24 * HOUR_MS
    # day 1: 2 × 32.7726 − 5 + 720/30 of the purchase; each later day adds 24
    assert ec2[SEP_1 + day] == round(65.5452 - 5 + 24, 6)
    assert ec2[SEP_1 + 30 * day] == round(65.5452 - 5 + 720, 6)
    assert series(result.samples, service="Amazon SageMaker") == {SEP_1: 0.0, SEP_1 + day: 0.0}


def test_group_by_tags_and_sub_account_with_a_filter_on_charge_category() -> None:
    result = make(
        FIXTURE, group_by=["Tags.team", "SubAccountId"], filter={"ChargeCategory": ["Usage", "Credit"]}, bucket="1d"
    ).collect()
    assert result.health.ok, result.health.error
    day = SEP_1 + 24 * HOUR_MS
    assert series(result.samples, tag_team="ml", sub_account="111122223333") == {SEP_1: 0.0, day: 68.0452}
    assert series(result.samples, tag_team="", sub_account="111122223333") == {SEP_1: 0.0, day: -5.0}
    assert series(result.samples, tag_team="data", sub_account="444455556666") == {SEP_1: 0.0, day: 4.8}
    assert result.samples.height == 6  # the Purchase row is filtered out


def test_a_tag_filter_keeps_only_that_teams_rows() -> None:
    result = make(FIXTURE, group_by=["ServiceName"], filter={"Tags.team": ["data"]}, bucket="1d").collect()
    assert result.health.ok, result.health.error
    assert series(result.samples, service="Amazon Simple Storage Service") == {SEP_1: 0.0, SEP_1 + 24 * HOUR_MS: 4.8}
    assert result.samples.height == 2


def test_a_negative_effective_cost_is_kept_and_the_series_goes_down(tmp_path: Path) -> None:
    path = edited(tmp_path, "refund.csv", {(2, "EffectiveCost"): "-40"})
    rid = "arn:aws:ec2:us-east-1:111122223333:instance/i-0a1b2c3d4e5f60718"
    result = make(path, group_by=["ResourceId"], filter={"ResourceId": [rid]}).collect()
    assert result.health.ok, result.health.error
    assert series(result.samples, resource_id=rid) == {
        SEP_1: 0.0, SEP_1 + HOUR_MS: 32.7726, SEP_1 + 2 * HOUR_MS: -7.2274
    }


def test_parquet_gives_the_same_series_as_csv(tmp_path: Path) -> None:
    frame = pl.read_csv(FIXTURE, infer_schema=False).with_columns(
        pl.col("ChargePeriodStart", "ChargePeriodEnd").str.to_datetime("%Y-%m-%dT%H:%M:%SZ", time_zone="UTC"),
        pl.col("BilledCost", "EffectiveCost").cast(pl.Decimal(18, 10)),
    )
    frame.write_parquet(tmp_path / "part-0001.parquet")
    from_parquet = make(tmp_path / "*.parquet").collect()
    from_csv = make(FIXTURE).collect()
    assert from_parquet.health.ok, from_parquet.health.error
    assert from_parquet.samples.sort("labels", "timestamp").equals(from_csv.samples.sort("labels", "timestamp"))


def test_a_second_collection_emits_only_buckets_newer_than_the_first(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text(FIXTURE.read_text())
    collector = make(tmp_path / "*.csv", group_by=["ServiceName"], filter={"ServiceName": ["Amazon SageMaker"]})
    first = collector.collect()
    assert first.samples.height == 3
    again = collector.collect()
    assert again.health.ok and again.samples.height == 0
    later = pl.read_csv(FIXTURE, infer_schema=False).filter(pl.col("ServiceName") == "Amazon SageMaker").with_columns(
        ChargePeriodStart=pl.lit("2024-09-01T02:00:00Z"), ChargePeriodEnd=pl.lit("2024-09-01T03:00:00Z"),
        EffectiveCost=pl.lit("1.5"),
    )
    later.write_csv(tmp_path / "b.csv")
    third = collector.collect()
    assert third.health.ok, third.health.error
    assert series(third.samples, service="Amazon SageMaker") == {SEP_1 + 3 * HOUR_MS: 4.0}


def test_a_missing_mandatory_column_names_the_file_and_the_column(tmp_path: Path) -> None:
    path = edited(tmp_path, "no-currency.csv", drop="BillingCurrency")
    result = make(path).collect()
    assert not result.health.ok
    assert result.health.error == (
        f"source 'aws-bill' ({path}): {path} has no mandatory FOCUS column 'BillingCurrency'"
    )
    assert result.samples.is_empty()


def test_a_missing_column_in_the_second_file_of_a_glob_names_that_file(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text(FIXTURE.read_text())
    bad = edited(tmp_path, "b.csv", drop="ChargePeriodEnd")
    result = make(tmp_path / "*.csv").collect()
    assert result.health.error is not None
    assert result.health.error.endswith(f"{bad} has no mandatory FOCUS column 'ChargePeriodEnd'")


def test_mixed_currencies_name_the_files_and_the_currencies(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text(FIXTURE.read_text())
    eur = edited(tmp_path, "b.csv", {(3, "BillingCurrency"): "EUR"})
    result = make(tmp_path / "*.csv").collect()
    assert result.health.error == (
        f"source 'aws-bill' ({tmp_path / '*.csv'}): mixed billing currencies, nothing converted: "
        f"EUR in {eur}; USD in {tmp_path / 'a.csv'}, {eur}"
    )
    assert result.samples.is_empty()


def test_a_bill_in_another_currency_than_configured_is_refused_and_eur_config_names_the_metric(
    tmp_path: Path,
) -> None:
    frame = pl.read_csv(FIXTURE, infer_schema=False).with_columns(BillingCurrency=pl.lit("EUR"))
    frame.write_csv(tmp_path / "eur.csv")
    refused = make(tmp_path / "eur.csv").collect()
    assert refused.health.error is not None
    assert refused.health.error.endswith(f"BillingCurrency is not the configured USD: EUR in {tmp_path / 'eur.csv'}")
    accepted = make(tmp_path / "eur.csv", currency="EUR").collect()
    assert accepted.health.ok
    assert set(accepted.samples["metric"]) == {"redline_spend_eur_total"}


def test_a_non_iso_date_names_the_column_the_row_and_the_value(tmp_path: Path) -> None:
    path = edited(tmp_path, "us-dates.csv", {(4, "ChargePeriodStart"): "09/01/2024 00:00"})
    result = make(path).collect()
    assert result.health.error == (
        f"source 'aws-bill' ({path}): {path}: ChargePeriodStart at row 4 is '09/01/2024 00:00', "
        "not an ISO 8601 date (YYYY-MM-DDTHH:MM:SSZ)"
    )
    assert result.samples.is_empty()


def test_a_cost_that_is_not_a_number_names_the_row(tmp_path: Path) -> None:
    path = edited(tmp_path, "bad-cost.csv", {(5, "EffectiveCost"): "n/a"})
    result = make(path).collect()
    assert result.health.error is not None
    assert result.health.error.endswith(f"{path}: EffectiveCost at row 5 is not a number (FOCUS costs are never null)")


def test_an_empty_file_and_a_header_only_file_are_errors_not_zero_spend(tmp_path: Path) -> None:
    empty_csv, header_csv = tmp_path / "empty.csv", tmp_path / "header.csv"
    empty_csv.write_bytes(b"")
    empty = make(empty_csv).collect()
    assert empty.health.error == f"source 'aws-bill' ({empty_csv}): {empty_csv} is empty (no header, no rows)"
    header_csv.write_text(FIXTURE.read_text().splitlines()[0] + "\n")
    header = make(header_csv).collect()
    assert header.health.error == f"source 'aws-bill' ({header_csv}): no charge rows in {header_csv} (header only)"
    assert empty.samples.is_empty() and header.samples.is_empty()


def test_a_parquet_glob_that_matches_nothing_is_an_error(tmp_path: Path) -> None:
    pattern = tmp_path / "exports" / "*.parquet"
    result = make(pattern).collect()
    assert result.health.error == f"source 'aws-bill' ({pattern}): no file matches {pattern}"


def test_a_bad_file_in_one_source_leaves_another_source_unaffected(tmp_path: Path) -> None:
    bad = make(edited(tmp_path, "bad.csv", drop="EffectiveCost")).collect()
    good = make(FIXTURE).collect()
    assert not bad.health.ok and bad.samples.is_empty()
    assert good.health.ok and good.samples.height == 721 + 25 + 3


def test_config_rejects_unknown_group_by_and_empty_filter() -> None:
    with pytest.raises(ValidationError, match="'RegionId' is not one of ServiceName"):
        FocusConfig.model_validate({"name": "b", "kind": "focus", "path": "x.csv", "group_by": ["RegionId"]})
    with pytest.raises(ValidationError, match="needs at least one value"):
        FocusConfig.model_validate({"name": "b", "kind": "focus", "path": "x.csv", "filter": {"ServiceName": []}})


def test_the_example_config_focus_entry_validates() -> None:
    sources = yaml.safe_load(EXAMPLE.read_text())["sources"]
    entry = next(s for s in sources if s["kind"] == "focus")
    cfg = FocusConfig.model_validate(entry)
    assert cfg.group_by == ["ServiceName", "Tags.team"]
    assert cfg.storage_options == ObjectStorageSettings(
        region="us-east-1", access_key_id_env="BILLING_ACCESS_KEY_ID", secret_access_key_env="BILLING_SECRET_ACCESS_KEY"
    )


def test_storage_options_take_the_object_storage_shape_and_go_with_an_s3_path() -> None:
    with pytest.raises(ValidationError, match="storage_options goes with an s3:// path"):
        FocusConfig.model_validate(
            {"name": "b", "kind": "focus", "path": "x.csv", "storage_options": {"region": "us-east-1"}}
        )
    with pytest.raises(ValidationError, match="aws_region"):
        FocusConfig.model_validate(
            {"name": "b", "kind": "focus", "path": "s3://b/x.csv", "storage_options": {"aws_region": "us-east-1"}}
        )


# -- object storage ----------------------------------------------------------------------------


@pytest.fixture
def s3_endpoint() -> Iterator[str]:
    with s3_server() as (endpoint, _):
        yield endpoint


def test_s3_glob_is_read_with_credentials_from_the_environment(s3_endpoint: str, tmp_path: Path) -> None:
    s3 = boto3.client(
        "s3", endpoint_url=s3_endpoint, region_name="us-east-1",
        aws_access_key_id="AKIAREDLINETEST", aws_secret_access_key="redline-secret",
    )
    s3.create_bucket(Bucket="billing")
    s3.put_object(Bucket="billing", Key="focus/2024-09/part-0.csv", Body=FIXTURE.read_bytes())
    cfg = FocusConfig.model_validate({
        "name": "aws-bill", "kind": "focus", "path": "s3://billing/focus/2024-09/*.csv", "bucket": "1d",
        "storage_options": {"endpoint_url": s3_endpoint, "region": "us-east-1",
                            "access_key_id_env": "KEY_ID", "secret_access_key_env": "SECRET"},
    })
    env = {"KEY_ID": "AKIAREDLINETEST", "SECRET": "redline-secret"}
    collector = FocusCollector(cfg, context(clock, env=env))
    result = collector.collect()
    assert result.health.ok, result.health.error
    assert series(result.samples, service="Amazon SageMaker") == {SEP_1: 0.0, SEP_1 + 24 * HOUR_MS: 2.5}
    assert "redline-secret" not in repr(collector) and "redline-secret" not in repr(collector._s3)
    missing = FocusCollector(cfg, context(clock)).collect()
    assert missing.health.error == (
        "source 'aws-bill' (s3://billing/focus/2024-09/*.csv): environment variables KEY_ID, SECRET "
        "(named in storage_options) are not set"
    )


def test_s3_objects_over_max_bytes_together_are_refused_before_reading(s3_endpoint: str) -> None:
    s3 = boto3.client(
        "s3", endpoint_url=s3_endpoint, region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b"
    )
    s3.create_bucket(Bucket="billing")
    body = FIXTURE.read_bytes()
    for part in ("part-0.csv", "part-1.csv"):
        s3.put_object(Bucket="billing", Key=f"focus/{part}", Body=body)
    cfg = FocusConfig.model_validate({
        "name": "aws-bill", "kind": "focus", "path": "s3://billing/focus/*.csv", "max_bytes": 2 * len(body) - 1,
        "storage_options": {"endpoint_url": s3_endpoint, "region": "us-east-1"},
    })
    result = FocusCollector(cfg, context(clock, env={"AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b"})).collect()
    assert result.health.error == (
        f"source 'aws-bill' (s3://billing/focus/*.csv): body_size_limit {2 * len(body) - 1} exceeded: "
        f"2 file(s) hold {2 * len(body)} bytes"
    )
    assert result.samples.is_empty()


def test_an_s3_glob_that_matches_nothing_is_an_error_naming_the_glob(s3_endpoint: str) -> None:
    boto3.client(
        "s3", endpoint_url=s3_endpoint, region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b"
    ).create_bucket(Bucket="billing")
    cfg = FocusConfig.model_validate({
        "name": "aws-bill", "kind": "focus", "path": "s3://billing/none/*.parquet",
        "storage_options": {"endpoint_url": s3_endpoint, "region": "us-east-1"},
    })
    env = {"AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b"}  # the standard variables, not named
    result = FocusCollector(cfg, context(clock, env=env)).collect()
    assert result.health.error is not None
    assert result.health.error.startswith(
        "source 'aws-bill' (s3://billing/none/*.parquet): no file matches s3://billing/none/*.parquet"
    )


def test_a_recursive_glob_reads_the_monthly_folders_below_it(tmp_path: Path) -> None:
    """The path goes through collectors.freshness_files.list_files, so ``**`` matches nested folders."""
    nested = tmp_path / "exports" / "2024" / "09"
    nested.mkdir(parents=True)
    (nested / "part-0.csv").write_bytes(FIXTURE.read_bytes())
    result = make(tmp_path / "exports" / "**" / "*.csv").collect()
    assert result.health.ok, result.health.error
    assert series(result.samples, service="Amazon SageMaker") == {
        SEP_1: 0.0, SEP_1 + HOUR_MS: 1.25, SEP_1 + 2 * HOUR_MS: 2.5
    }


def test_files_over_max_bytes_together_are_refused_before_reading(tmp_path: Path) -> None:
    export = tmp_path / "part-0.csv"
    export.write_bytes(FIXTURE.read_bytes())
    size = export.stat().st_size
    result = make(tmp_path / "*.csv", max_bytes=size - 1).collect()
    assert result.health.error == (
        f"source 'aws-bill' ({tmp_path / '*.csv'}): body_size_limit {size - 1} exceeded: 1 file(s) hold {size} bytes"
    )
    assert result.samples.is_empty()
