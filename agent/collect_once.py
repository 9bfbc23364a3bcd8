"""``redline collect``: run one source once, for a user wiring up a new source.

Nothing is stored: this shows what the agent would store and the source's health.
"""

from __future__ import annotations

import json
import math
import os
import time
from datetime import UTC, datetime

import httpx

from redline.agent.wiring import collector_for
from redline.collectors.base import CollectorContext, CollectResult
from redline.config import LoadedConfig
from redline.kernel.errors import ConfigError
from redline.kernel.labels import parse_labels

__all__ = ["collect_once", "render_collect_json", "render_collect_text"]


def collect_once(loaded: LoadedConfig, source: str, client: httpx.Client) -> CollectResult:
    """Collect ``source`` once; ``ConfigError`` if the config has no source of that name."""
    configs = {s.name: s for s in loaded.config.sources}
    if source not in configs:
        known = ", ".join(sorted(configs)) or "none"
        raise ConfigError(f"{loaded.path}: no source named {source!r} (sources: {known})")
    context = CollectorContext(clock=time.time, env=os.environ, http=client)
    return collector_for(loaded.config, configs[source], context).collect()


def _json_value(value: float) -> float | str:
    """NaN and ±Inf are valid sample values; JSON has no literal for them, so they become text.
    A finite value stays a float, which ``json`` writes as its ``repr``: it reads back exactly."""
    if math.isfinite(value):
        return value
    return _text_value(value)


def _text_value(value: float) -> str:
    """A sample value as Prometheus's exposition writes it, and exactly: ``repr`` of the float
    (``0.30000000000000004``, never ``%g``'s ``0.3``), ``NaN``, ``+Inf``, ``-Inf``."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(value)


def render_collect_json(result: CollectResult) -> str:
    """``{"source", "health": {"ok", "error", "duration_seconds", ...}, "samples": [...]}``;
    each sample's ``timestamp_ms`` is the stored integer (Unix milliseconds), its ``value`` exact."""
    h = result.health
    doc = {
        "source": h.source,
        "health": {
            "ok": h.ok,
            "error": h.error,
            "duration_seconds": h.duration_seconds,
            "samples": h.samples,
            "problems": list(h.problems),
        },
        "samples": [
            {"metric": m, "labels": parse_labels(lb), "timestamp_ms": int(ts), "value": _json_value(v)}
            for m, lb, ts, v in result.samples.iter_rows()
        ],
    }
    return json.dumps(doc, indent=2, allow_nan=False)


def render_collect_text(result: CollectResult, limit: int = 50) -> str:
    """Health, problems, then up to ``limit`` samples as the exposition writes them
    (``metric{labels} value timestamp_ms``: exact value, integer milliseconds), the time in UTC after ``#``."""
    h = result.health
    state = "ok" if h.ok else "FAILED"
    lines = [f"source {h.source}: {state}, {h.samples} samples in {h.duration_seconds * 1000:.0f} ms"]
    if h.error:
        lines.append(f"  error: {h.error}")
    lines += [f"  problem: {p}" for p in h.problems[:20]]
    for metric, labels, ts, value in result.samples.head(limit).iter_rows():
        when = datetime.fromtimestamp(ts / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        lines.append(f"  {metric}{{{labels}}} {_text_value(value)} {int(ts)}  # {when}")
    if result.samples.height > limit:
        lines.append(f"  ... {result.samples.height - limit} more (use --json for all)")
    return "\n".join(lines)
