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
    """NaN and ±Inf are valid sample values; JSON has no literal for them, so they become text."""
    if math.isfinite(value):
        return value
    return "NaN" if math.isnan(value) else ("+Inf" if value > 0 else "-Inf")


def render_collect_json(result: CollectResult) -> str:
    """``{"source", "health": {"ok", "error", "duration_seconds", ...}, "samples": [...]}``;
    sample timestamps in Unix seconds."""
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
            {"metric": m, "labels": parse_labels(lb), "timestamp": ts / 1000.0, "value": _json_value(v)}
            for m, lb, ts, v in result.samples.iter_rows()
        ],
    }
    return json.dumps(doc, indent=2, allow_nan=False)


def render_collect_text(result: CollectResult, limit: int = 50) -> str:
    """Health, problems, then up to ``limit`` samples in exposition-like form."""
    h = result.health
    state = "ok" if h.ok else "FAILED"
    lines = [f"source {h.source}: {state}, {h.samples} samples in {h.duration_seconds * 1000:.0f} ms"]
    if h.error:
        lines.append(f"  error: {h.error}")
    lines += [f"  problem: {p}" for p in h.problems[:20]]
    for metric, labels, ts, value in result.samples.head(limit).iter_rows():
        when = datetime.fromtimestamp(ts / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        lines.append(f"  {metric}{{{labels}}} {value:g} @{when}")
    if result.samples.height > limit:
        lines.append(f"  ... {result.samples.height - limit} more (use --json for all)")
    return "\n".join(lines)
