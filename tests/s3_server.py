"""A real S3 API on 127.0.0.1 for tests: moto in server mode, stopped by its own handle.

``s3_server(bucket, key_id, secret)`` starts it, creates ``bucket`` (when given) and yields the
endpoint URL and a boto3 client signed with the given (fake) credentials.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

__all__ = ["s3_server"]


@contextmanager
def s3_server(bucket: str | None = None, key_id: str = "k", secret: str = "s") -> Iterator[tuple[str, Any]]:
    """A moto S3 server on a free port of 127.0.0.1; yields (endpoint, boto3 client)."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        client = boto3.client(
            "s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=key_id,
            aws_secret_access_key=secret,
        )
        if bucket is not None:
            client.create_bucket(Bucket=bucket)
        yield endpoint, client
    finally:
        server.stop()
