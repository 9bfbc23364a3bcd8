"""Per-source limits, as Prometheus's scrape_config has them, and the words a breach is reported in.

A collection over any limit fails whole, as a Prometheus scrape does: no sample of it is stored,
the source's health is not ok and its error names the limit and the value that broke it
(``sample_limit 200000 exceeded: 420000 samples``). Every limit counts what would be stored, after
``source`` and the configured labels are added (Prometheus counts after relabelling); 0 is no limit.

- ``sample_limit``: samples of one collection.
- ``label_limit``: labels of one series, ``__name__`` (the metric name) and ``source`` included.
- ``label_name_length_limit``: bytes of one label name.
- ``label_value_length_limit``: bytes (UTF-8, unescaped) of one label value, the metric name included
  (it is the value of ``__name__``).
- ``body_size_limit``: bytes of one collection's body after decompression (``10MB``, ``512KiB`` or a
  number of bytes; KB, MB, GB... are powers of 1024, as Prometheus reads them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Final

import polars as pl
from pydantic import BeforeValidator

from redline.kernel.labels import parse_labels

__all__ = [
    "LIMIT_NAMES",
    "UNLIMITED_BYTES",
    "ByteCount",
    "SourceLimits",
    "breached_limit",
    "frame_limit_error",
    "parse_byte_size",
    "series_limit_error",
]

UNLIMITED_BYTES: Final = 2**63 - 1
"""What a ``body_size_limit`` of 0 (no limit) reads as where a number of bytes is needed."""

_BYTE_UNITS: Final = {
    "": 1, "B": 1,
    "KB": 1024, "KiB": 1024, "MB": 1024**2, "MiB": 1024**2, "GB": 1024**3, "GiB": 1024**3,
    "TB": 1024**4, "TiB": 1024**4, "PB": 1024**5, "PiB": 1024**5, "EB": 1024**6, "EiB": 1024**6,
}
_BYTE_SIZE_RE: Final = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*")
_SHOWN: Final = 80
LIMIT_NAMES: Final = (
    "sample_limit", "label_limit", "label_name_length_limit", "label_value_length_limit", "body_size_limit",
)
"""Every per-source limit, by its config name (the ``limit`` label of the agent's failure counter)."""
_BREACH_RE: Final = re.compile(rf"\b({'|'.join(LIMIT_NAMES)}) \d+ exceeded: ")


def breached_limit(error: str | None) -> str | None:
    """The limit a collection's error reports broken (every breach is worded ``<limit> <value>
    exceeded: ...``, after the source's name and URL), or ``None`` for any other failure."""
    match = _BREACH_RE.search(error) if error else None
    return None if match is None else match.group(1)


def parse_byte_size(value: object) -> int:
    """Bytes from a config value: a whole number, or ``10MB``/``512KiB``/``1.5GB`` (KB = 1024 bytes, as
    Prometheus's ``body_size_limit`` reads it). ``ValueError`` saying what is accepted."""
    if isinstance(value, bool):
        raise ValueError("expected a size such as 10MB, 512KiB or a number of bytes")
    if isinstance(value, int):
        if value < 0:
            raise ValueError("must not be negative (0 is no limit)")
        return value
    if isinstance(value, str):
        m = _BYTE_SIZE_RE.fullmatch(value)
        if m is not None and m.group(2) in _BYTE_UNITS:
            return int(float(m.group(1)) * _BYTE_UNITS[m.group(2)])
        units = ", ".join(u for u in _BYTE_UNITS if u)
        raise ValueError(f"{value!r} is not a size: expected a number of bytes or a number with one of {units}")
    raise ValueError("expected a size such as 10MB, 512KiB or a number of bytes")


ByteCount = Annotated[int, BeforeValidator(parse_byte_size)]
"""A config field holding a number of bytes, written ``10MB`` or as a number; 0 is allowed."""


def _shown(text: str) -> str:
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."


@dataclass(frozen=True)
class SourceLimits:
    """The series limits of one source (0: no limit); ``body_size_limit`` lives on the settings."""

    sample_limit: int = 0
    label_limit: int = 0
    label_name_length_limit: int = 0
    label_value_length_limit: int = 0

    @property
    def on_labels(self) -> bool:
        """Whether any limit looks at a series' labels."""
        return bool(self.label_limit or self.label_name_length_limit or self.label_value_length_limit)

    def samples_error(self, count: int, what: str = "samples") -> str | None:
        """The breach of ``sample_limit`` by ``count`` samples, or ``None``."""
        if self.sample_limit and count > self.sample_limit:
            return f"sample_limit {self.sample_limit} exceeded: {count} {what}"
        return None


def _value_bytes(value: str, escaped: bool) -> int:
    """UTF-8 bytes of a label value (``escaped``: written with the exposition's ``\\\\``, ``\\"``, ``\\n``)."""
    if escaped and "\\" in value:
        value = value.replace("\\\\", "\0").replace('\\"', '"').replace("\\n", "\n").replace("\0", "\\")
    return len(value) if value.isascii() else len(value.encode("utf-8"))


def series_limit_error(
    limits: SourceLimits, metric: str, names: list[str], values: list[str], *, escaped: bool
) -> str | None:
    """The first label limit one series (as stored: ``names``/``values`` with ``source`` and the
    configured labels) breaks, or ``None``. Runs once per new series, so it may be plain Python."""
    if limits.label_limit and len(names) + 1 > limits.label_limit:
        count = len(names) + 1
        return f"label_limit {limits.label_limit} exceeded: {_shown(metric)} has {count} labels (__name__ included)"
    name_limit = limits.label_name_length_limit
    if name_limit and names and max(map(len, names)) > name_limit:
        name = next(n for n in names if len(n) > name_limit)
        return (
            f"label_name_length_limit {name_limit} exceeded: label {_shown(name)!r} of {_shown(metric)} "
            f"is {len(name)} bytes"
        )
    value_limit = limits.label_value_length_limit
    if value_limit:
        # Escaping only lengthens ASCII text: a short ASCII value needs no exact count.
        for name, value in (("__name__", metric), *zip(names, values, strict=True)):
            if len(value) > value_limit or not value.isascii():
                size = _value_bytes(value, escaped and name != "__name__")
                if size > value_limit:
                    return (
                        f"label_value_length_limit {value_limit} exceeded: label {name!r} of {_shown(metric)} "
                        f"has a {size}-byte value"
                    )
    return None


def frame_limit_error(samples: pl.DataFrame, limits: SourceLimits) -> str | None:
    """The first limit a collected sample frame breaks, or ``None``: for the sources that build their
    frame whole (a scrape checks while it parses instead). Labels are read once per distinct series."""
    error = limits.samples_error(samples.height)
    if error is not None or not limits.on_labels or samples.height == 0:
        return error
    for metric, canonical in samples.select("metric", "labels").unique(maintain_order=True).iter_rows():
        labels = parse_labels(canonical)
        error = series_limit_error(limits, metric, list(labels), list(labels.values()), escaped=False)
        if error is not None:
            return error
    return None
