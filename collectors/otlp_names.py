"""OpenTelemetry names as Prometheus names, per the OTel-to-Prometheus compatibility specification,
so that one selector reads a series whether it was scraped or pushed over OTLP.

- A metric name: every character outside ``[a-zA-Z0-9_:]`` becomes ``_`` (``gen_ai.client.token.usage``
  → ``gen_ai_client_token_usage``), runs of ``_`` collapse, a leading digit gets ``_`` before it; the
  unit is added as a word (``s`` → ``_seconds``, ``By`` → ``_bytes``, ``1/s`` → ``_per_second``;
  ``{token}`` annotations add nothing) unless the name already ends with it; a gauge of unit ``1``
  gets ``_ratio``; a monotonic Sum gets ``_total``.
- A label name: the same character rule; a leading digit gets ``key_`` before it.
- Resource attributes: ``service.namespace``/``service.name`` become ``job`` (``namespace/name``),
  ``service.instance.id`` becomes ``instance``; any other resource attribute becomes a label only when
  allow-listed (Prometheus's ``promote_resource_attributes``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from typing import Final

__all__ = ["label_name", "metric_name", "resource_labels", "unit_words"]

_INVALID_METRIC: Final = re.compile(r"[^a-zA-Z0-9_:]+")
_INVALID_LABEL: Final = re.compile(r"[^a-zA-Z0-9_]+")
_UNDERSCORES: Final = re.compile(r"__+")

_UNIT_WORDS: Final = {
    "d": "days", "h": "hours", "min": "minutes", "s": "seconds", "ms": "milliseconds",
    "us": "microseconds", "ns": "nanoseconds",
    "By": "bytes", "KiBy": "kibibytes", "MiBy": "mebibytes", "GiBy": "gibibytes", "TiBy": "tibibytes",
    "KBy": "kilobytes", "MBy": "megabytes", "GBy": "gigabytes", "TBy": "terabytes",
    "m": "meters", "V": "volts", "A": "amperes", "J": "joules", "W": "watts", "g": "grams",
    "Cel": "celsius", "Hz": "hertz", "%": "percent",
}  # fmt: skip
_PER_WORDS: Final = {"s": "second", "m": "minute", "h": "hour", "d": "day", "w": "week", "mo": "month", "y": "year"}
_ANNOTATION: Final = re.compile(r"\{[^}]*\}")


def _sanitized(name: str, invalid: re.Pattern[str]) -> str:
    return _UNDERSCORES.sub("_", invalid.sub("_", name))


def unit_words(unit: str) -> str:
    """The suffix words of a UCUM unit (``s`` → ``seconds``, ``By/s`` → ``bytes_per_second``,
    ``{token}`` → ``""``); an unknown unit is kept, sanitised."""
    unit = _ANNOTATION.sub("", unit).strip()
    if not unit or unit == "1":
        return ""
    main, _, per = unit.partition("/")
    words = _UNIT_WORDS.get(main, main) if main else ""
    if per:
        per_word = _PER_WORDS.get(per, per)
        words = f"{words}_per_{per_word}" if words else f"per_{per_word}"
    return _sanitized(words, _INVALID_LABEL).strip("_")


def metric_name(name: str, unit: str, *, monotonic_sum: bool = False, gauge: bool = False) -> str:
    """The Prometheus name of an OTel metric (histograms: the family name, before ``_bucket``)."""
    base = _sanitized(name, _INVALID_METRIC).strip("_") or "_"
    if base[0].isdigit():
        base = "_" + base
    words = unit_words(unit)
    parts = base.split("_")
    if words and not base.endswith("_" + words) and base != words:
        before_total = monotonic_sum and parts[-1] == "total"  # the unit goes before _total
        base = "_".join(parts[:-1]) + "_" + words if before_total else f"{base}_{words}"
    if gauge and _ANNOTATION.sub("", unit).strip() == "1" and not base.endswith("_ratio"):
        base += "_ratio"
    if monotonic_sum and not base.endswith("_total"):
        base += "_total"
    return base


@functools.lru_cache(maxsize=4096)
def label_name(key: str) -> str:
    """The Prometheus label name of an OTel attribute key (``gen_ai.request.model`` → ``gen_ai_request_model``)."""
    name = _sanitized(key, _INVALID_LABEL) or "_"
    return "key_" + name if name[0].isdigit() else name


def resource_labels(attributes: Mapping[str, str], promote: Iterable[str]) -> dict[str, str]:
    """The labels a resource gives each of its series: ``job``/``instance`` from the service
    attributes, and the allow-listed attributes in ``promote`` (under their label names)."""
    labels: dict[str, str] = {}
    for key in promote:
        if key in attributes:
            labels[label_name(key)] = attributes[key]
    service = attributes.get("service.name")
    if service:
        namespace = attributes.get("service.namespace")
        labels["job"] = f"{namespace}/{service}" if namespace else service
    instance = attributes.get("service.instance.id")
    if instance:
        labels["instance"] = instance
    return labels
