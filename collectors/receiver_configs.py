"""The config models of the push receivers (``receivers:``), apart from the receivers themselves.

``redline.config`` validates a config file with these; keeping them out of ``collectors.otlp`` and
``collectors.remote_write`` means loading a config does not import protobuf, OpenTelemetry's
message classes or snappy, which only a running receiver needs (``redline status`` and the
dashboard start faster; ``tests/config/test_light_imports.py`` guards it).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from redline.collectors.rate_card import TokenPrice
from redline.collectors.receiver import Listen, ReceiverSettings

__all__ = ["OTLPReceiverConfig", "RemoteWriteReceiverConfig"]


class OTLPReceiverConfig(ReceiverSettings):
    """``receivers: [{kind: otlp}]``: an OTLP/HTTP metrics endpoint (``/v1/metrics``)."""

    kind: Literal["otlp"]
    name: str = Field(default="otlp", min_length=1, pattern=r"^[A-Za-z0-9_.:-]+$")
    listen: Listen = "127.0.0.1:4318"
    promote_resource_attributes: list[str] = Field(default_factory=list)
    """Resource attributes that become labels (``deployment.environment``, ``k8s.cluster.name``);
    ``service.*`` always become ``job``/``instance``."""
    token_prices: dict[str, TokenPrice] = Field(default_factory=dict)
    """USD per million input/output tokens per model: ``gen_ai.client.token.usage`` is also stored
    as ``redline_spend_usd_total`` (``collectors.genai``), as the ``rate_card`` source prices it."""


class RemoteWriteReceiverConfig(ReceiverSettings):
    """``receivers: [{kind: remote_write}]``: a remote write 1.0 endpoint (``/api/v1/write``)."""

    kind: Literal["remote_write"]
    name: str = Field(default="remote_write", min_length=1, pattern=r"^[A-Za-z0-9_.:-]+$")
    listen: Listen = "127.0.0.1:9201"
