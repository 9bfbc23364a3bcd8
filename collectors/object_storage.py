"""Object storage for the source kinds that read files (``freshness``, ``focus``): where ``s3://``
paths live and the credentials to read them, as pyarrow and polars take them.

A source whose path is ``s3://…`` may set ``storage_options:`` (every field optional):

| field | meaning | unset |
|---|---|---|
| ``endpoint_url`` | an S3-compatible endpoint (MinIO, Ceph); ``http://`` is allowed | AWS |
| ``region`` | the bucket's region | ``AWS_REGION`` |
| ``access_key_id_env`` | the environment variable holding the access key id | ``AWS_ACCESS_KEY_ID`` |
| ``secret_access_key_env`` | the environment variable holding the secret access key | ``AWS_SECRET_ACCESS_KEY`` |
| ``session_token_env`` | the environment variable holding a session token | ``AWS_SESSION_TOKEN`` |

Without a key id and secret (named or standard) the SDKs' own chain applies (instance profile, …).
The variables are read once, when the collector is built, from the ``env`` of its
``CollectorContext`` (the agent's environment; never ``os.environ`` directly). A variable the
config names that is not set fails every collection, naming the variable, before anything is read.
Secrets never appear in errors or reprs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from redline.kernel.errors import SourceError

if TYPE_CHECKING:
    import pyarrow.fs as pafs

__all__ = ["ObjectStorageSettings", "S3Access", "Storage", "check_storage_options", "is_s3", "local_storage"]


class ObjectStorageSettings(BaseModel):
    """A source's ``storage_options:`` (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    endpoint_url: str | None = None
    region: str | None = None
    access_key_id_env: str | None = None
    secret_access_key_env: str | None = None
    session_token_env: str | None = None


def is_s3(path: str) -> bool:
    """Whether ``path`` is on S3 (``s3://bucket/key``)."""
    return path.startswith("s3://")


def check_storage_options(path: str, settings: ObjectStorageSettings | None) -> None:
    """For config validators: ``ValueError`` when ``storage_options`` is set on a path not on S3."""
    if settings is not None and not is_s3(path):
        raise ValueError("storage_options goes with an s3:// path")


@dataclass(frozen=True)
class Storage:
    """Where files are read from: a pyarrow filesystem (footers, listings) and polars' storage options."""

    filesystem: pafs.FileSystem
    polars_options: Mapping[str, str] | None = None
    s3: bool = False

    def __repr__(self) -> str:  # the options hold credentials
        return f"Storage(s3={self.s3})"


def local_storage() -> Storage:
    """The local filesystem."""
    import pyarrow.fs as pafs  # here: importing this module (a config load) must not import pyarrow

    return Storage(pafs.LocalFileSystem())


class S3Access:
    """``storage_options`` with its secrets resolved from ``env``; the repr shows no secret."""

    def __init__(self, settings: ObjectStorageSettings | None, env: Mapping[str, str]) -> None:
        self._settings = settings or ObjectStorageSettings()
        opts = self._settings
        named = (opts.access_key_id_env, opts.secret_access_key_env, opts.session_token_env)
        self.missing = [name for name in named if name is not None and not env.get(name)]
        """Variables the config names that are unset or empty (an empty secret is never sent)."""
        self._key, self._secret, self._token = (
            env.get(name) if name is not None else env.get(standard)
            for name, standard in zip(named, ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"),
                                      strict=True)
        )
        self._region = opts.region or env.get("AWS_REGION")

    def __repr__(self) -> str:
        return f"S3Access(endpoint_url={self._settings.endpoint_url!r}, region={self._region!r}, secrets=***)"

    def check(self) -> None:
        """``SourceError`` naming the variables the config names that are not set."""
        if len(self.missing) == 1:
            raise SourceError(f"environment variable {self.missing[0]} (named in storage_options) is not set")
        if self.missing:
            raise SourceError(f"environment variables {', '.join(self.missing)} (named in storage_options) are not set")

    def _options(self) -> tuple[dict[str, str], dict[str, str]]:
        """(pyarrow ``S3FileSystem`` arguments, polars storage options); ``SourceError`` as ``check``."""
        self.check()
        arrow: dict[str, str] = {}
        polars: dict[str, str] = {}
        if self._key is not None and self._secret is not None:
            arrow.update(access_key=self._key, secret_key=self._secret)
            polars.update(aws_access_key_id=self._key, aws_secret_access_key=self._secret)
            if self._token is not None:
                arrow["session_token"] = self._token
                polars["aws_session_token"] = self._token
        if self._region is not None:
            arrow["region"] = self._region
            polars["aws_region"] = self._region
        endpoint = self._settings.endpoint_url
        if endpoint is not None:
            scheme, _, host = endpoint.partition("://")
            arrow.update(endpoint_override=host or scheme, scheme=scheme if host else "https")
            polars["aws_endpoint_url"] = endpoint
            if scheme == "http":
                polars["aws_allow_http"] = "true"
        return arrow, polars

    def polars_options(self) -> dict[str, str]:
        """The ``storage_options`` polars' scans take (empty: polars' own credential chain)."""
        return self._options()[1]

    def storage(self) -> Storage:
        """A pyarrow S3 filesystem plus polars' options, for ``collectors.freshness_files``."""
        import pyarrow.fs as pafs

        arrow, polars = self._options()
        return Storage(pafs.S3FileSystem(**arrow), polars, s3=True)
