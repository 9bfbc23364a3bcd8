"""collectors.object_storage: one storage_options shape mapped to polars' options and a pyarrow filesystem."""

from __future__ import annotations

import pyarrow.fs as pafs
import pytest

from redline.collectors.object_storage import ObjectStorageSettings, S3Access
from redline.kernel.errors import SourceError

NAMED = ObjectStorageSettings(
    endpoint_url="http://127.0.0.1:9000",
    region="eu-west-1",
    access_key_id_env="LAKE_KEY",
    secret_access_key_env="LAKE_SECRET",
    session_token_env="LAKE_TOKEN",
)


def test_named_variables_and_an_http_endpoint_become_polars_options() -> None:
    env = {"LAKE_KEY": "AKIALAKE", "LAKE_SECRET": "lake-secret", "LAKE_TOKEN": "lake-token", "AWS_REGION": "us-east-2"}
    assert S3Access(NAMED, env).polars_options() == {
        "aws_access_key_id": "AKIALAKE",
        "aws_secret_access_key": "lake-secret",
        "aws_session_token": "lake-token",
        "aws_region": "eu-west-1",
        "aws_endpoint_url": "http://127.0.0.1:9000",
        "aws_allow_http": "true",
    }


def test_without_storage_options_the_standard_aws_variables_are_used() -> None:
    env = {"AWS_ACCESS_KEY_ID": "AKIASTD", "AWS_SECRET_ACCESS_KEY": "std-secret", "AWS_REGION": "us-east-2"}
    assert S3Access(None, env).polars_options() == {
        "aws_access_key_id": "AKIASTD", "aws_secret_access_key": "std-secret", "aws_region": "us-east-2"
    }
    assert S3Access(None, {}).polars_options() == {}  # the SDK's own chain


def test_a_key_without_its_secret_is_not_sent() -> None:
    assert S3Access(None, {"AWS_ACCESS_KEY_ID": "AKIASTD"}).polars_options() == {}


def test_the_filesystem_gets_the_same_endpoint_and_region() -> None:
    env = {"LAKE_KEY": "AKIALAKE", "LAKE_SECRET": "lake-secret", "LAKE_TOKEN": "lake-token"}
    storage = S3Access(NAMED, env).storage()
    assert isinstance(storage.filesystem, pafs.S3FileSystem) and storage.s3
    assert storage.filesystem.region == "eu-west-1"
    assert storage.polars_options is not None and storage.polars_options["aws_endpoint_url"] == "http://127.0.0.1:9000"
    assert "lake-secret" not in repr(storage)


def test_a_named_variable_that_is_not_set_is_named_and_no_secret_is_shown() -> None:
    both = r"^environment variables LAKE_SECRET, LAKE_TOKEN \(named in storage_options\) are not set$"
    access = S3Access(NAMED, {"LAKE_KEY": "AKIALAKE", "LAKE_SECRET": "lake-secret"})
    with pytest.raises(SourceError, match=r"^environment variable LAKE_TOKEN \(named in storage_options\) is not set$"):
        access.polars_options()
    with pytest.raises(SourceError, match=both):
        S3Access(NAMED, {"LAKE_KEY": "AKIALAKE"}).storage()
    assert "lake-secret" not in repr(access) and "AKIALAKE" not in repr(access)


def test_a_named_variable_that_is_empty_counts_as_not_set() -> None:
    access = S3Access(NAMED, {"LAKE_KEY": "AKIALAKE", "LAKE_SECRET": "", "LAKE_TOKEN": "lake-token"})
    named = r"^environment variable LAKE_SECRET \(named in storage_options\) is not set$"
    with pytest.raises(SourceError, match=named):
        access.polars_options()
