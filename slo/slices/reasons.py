"""What a throughput or GPU-band objective's newest finished slice says: a reason in words, the
throughput figures for ``status --json``, and the configuration problems of a band's series."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import polars as pl

from redline.kernel.labels import parse_labels
from redline.kernel.units import format_duration
from redline.slo.slices.group import GroupColumns, SliceGroup
from redline.slo.spec import GPUBandSLI, ThroughputSLI

__all__ = ["PERCENT_HINT", "band_details", "band_problems", "slice_reasons", "throughput_details"]

PERCENT_HINT = (
    "utilisation values above 1 look like a percentage; use a 0–1 ratio such as redline_gpu_utilization_ratio"
)


def slice_reasons(
    slis: Sequence[ThroughputSLI | GPUBandSLI], group_of: Sequence[int], groups: Sequence[SliceGroup],
    columns: GroupColumns, at_ms: int,
) -> list[tuple[str, dict[str, Any] | None]]:
    """Per objective (``slis[j]`` in group ``group_of[j]``), what the newest finished slice before
    ``at_ms`` says: a throughput's rate under its floor and its share of capacity (also as
    figures: ``throughput_details``), a GPU band's pools outside the band."""
    # The newest finished slice (an open one holds only part of its slice's increase), while it
    # ended at most two slices before ``at_ms``: a source that stopped says nothing here.
    latest = [
        g.last_final[1].tolist()
        if g.last_final is not None and at_ms - 3 * g.slice_ms < g.last_final[0] * g.slice_ms <= at_ms - g.slice_ms
        else None
        for g in groups
    ]
    out: list[tuple[str, dict[str, Any] | None]] = []
    for sli, g in zip(slis, group_of, strict=True):
        if isinstance(sli, ThroughputSLI):
            slice_ms = groups[g].slice_ms
            out.append((_throughput_reason(sli, latest[g], slice_ms), throughput_details(sli, latest[g], slice_ms)))
        else:
            reason = _band_reason(sli, latest[g], groups[g], float(columns.max_value[g]) > 1.0)
            out.append((reason, band_details(sli, latest[g], groups[g])))
    return out


def throughput_details(th: ThroughputSLI, latest: list[float] | None, slice_ms: int) -> dict[str, Any] | None:
    """A throughput objective's figures for ``status --json`` (``details``): the newest slice's
    rate in the objective's unit, its floor, and with a ``capacity`` the share used and the
    saturation headroom (the share left: negative when over capacity)."""
    if latest is None or not math.isfinite(latest[0]):
        return None
    rate = latest[0] * th.per
    out: dict[str, Any] = {
        "rate": rate, "per": format_duration(th.per), "min_rate": th.min_rate,
        "slice": format_duration(slice_ms / 1000),
    }
    if th.capacity is not None:
        used = rate / th.capacity
        out |= {"capacity": th.capacity, "capacity_used": used, "capacity_headroom": 1.0 - used}
    return out


def band_details(band: GPUBandSLI, per_pool: list[float] | None, grp: SliceGroup) -> dict[str, Any] | None:
    """A GPU band's figures for ``status --json`` (``details``) and its band alert: the band and
    the pools outside it in the newest finished slice (``side`` below or above)."""
    if per_pool is None:
        return None
    outside = [
        {"pool": grp.pool_name(i), "side": "below" if v < band.min else "above", "utilization": v}
        for i, v in enumerate(per_pool) if v < band.min or v > band.max  # NaN (no samples) is neither
    ]
    return {"min": band.min, "max": band.max, "outside": outside}


def _throughput_reason(th: ThroughputSLI, latest: list[float] | None, slice_ms: int) -> str:
    if latest is None:
        return ""
    rate_per_s = latest[0]
    parts: list[str] = []
    if rate_per_s < th.min_per_second:
        slice_text = format_duration(slice_ms / 1000)
        parts.append(
            f"last {slice_text} slice at {rate_per_s * th.per:.3g} per {format_duration(th.per)}, "
            f"under the floor of {th.min_rate:g}"
        )
    if th.capacity is not None:
        parts.append(f"at {rate_per_s * th.per / th.capacity * 100:.0f}% of capacity")
    return "; ".join(parts)


def _band_reason(band: GPUBandSLI, per_pool: list[float] | None, grp: SliceGroup, percent: bool) -> str:
    parts: list[str] = []
    if per_pool is not None:  # NaN (a pool without samples) fails neither test
        for side, bad, bound, word in (
            ("below", [i for i, v in enumerate(per_pool) if v < band.min], band.min, "waste"),
            ("above", [i for i, v in enumerate(per_pool) if v > band.max], band.max, "saturation"),
        ):
            if not bad:
                continue
            worst = min(bad, key=per_pool.__getitem__) if side == "below" else max(bad, key=per_pool.__getitem__)
            more = f" and {len(bad) - 1} more" if len(bad) > 1 else ""
            parts.append(
                f"{side} {bound * 100:.0f}% ({word}) in {grp.pool_name(worst)} at {per_pool[worst] * 100:.0f}%{more}"
            )
    if percent:
        parts.append(PERCENT_HINT)
    return "; ".join(parts)


def band_problems(name: str, band: GPUBandSLI, series: pl.DataFrame, pairs: list[tuple[str, str]]) -> list[str]:
    """A GPU band's series that lack a ``by`` label, or hold values above 1."""
    matched = band.utilization.matching_series(pairs)
    if not matched:
        return []
    problems: list[str] = []
    parsed = [parse_labels(labels) for _, labels in matched]
    for label in band.by:
        lacking = sum(label not in labels for labels in parsed)
        if lacking:
            problems.append(
                f"objective {name!r}: {lacking} of the {len(matched)} series of {band.utilization} have no "
                f"{label!r} label, so they are pooled together under an empty {label}"
            )
    if "value" in series.columns:
        rows = series.filter(
            pl.col("metric") == band.utilization.metric, pl.col("labels").is_in([lb for _, lb in matched])
        )
        top = rows.get_column("value").max()
        if isinstance(top, (int, float)) and top > 1:
            problems.append(f"objective {name!r}: {band.utilization} has values up to {top:g}: {PERCENT_HINT}")
    return problems
