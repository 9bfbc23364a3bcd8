"""What-if: an objective under another latency threshold and/or target, over the same history.

``whatif`` evaluates the objective as configured and under the alternative settings with one
``SLOEvaluator`` (one ingest of the samples), plus the compliance curve: the objective's SLI for
every finite bucket bound of its histogram, one spec per bound in that same evaluator (they
share the total side, so each bound costs one more side).

A threshold between two bucket bounds is answered by linear interpolation inside the bucket,
as ``histogram_quantile`` does: ``good(T) = good(lower) + (good(upper) − good(lower)) ×
(T − lower) / (upper − lower)`` (``lower`` = 0 below the first bound). ``interpolated_bucket``
builds that bucket as a synthetic ``le="T"`` series, sample by sample from the two bounding
buckets; every increase, extrapolation and reset correction the engine applies is linear in
the values when the two buckets are scraped together, so each window's good count is exactly
the interpolation of the two bounds' counts. Such a result is marked ``approximate``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import polars as pl

from redline.kernel.fields import SAMPLE_SCHEMA
from redline.kernel.labels import Selector, format_labels, parse_labels
from redline.slo.engine import SLOEvaluator
from redline.slo.results import ObjectiveResult
from redline.slo.sides import le_value, same_bound
from redline.slo.spec import SLOSpec

__all__ = ["CurvePoint", "WhatIfResult", "alternative_spec", "bucket_bounds", "interpolated_bucket", "whatif"]


@dataclass(frozen=True)
class CurvePoint:
    """Compliance over the objective's window (``None``: no data) at one latency threshold."""

    threshold_s: float
    sli: float | None

    def to_json(self) -> dict[str, Any]:
        """``{"threshold_seconds", "sli"}``."""
        sli = self.sli if self.sli is not None and math.isfinite(self.sli) else None
        return {"threshold_seconds": self.threshold_s, "sli": sli}


@dataclass(frozen=True)
class WhatIfResult:
    """An objective as configured and under alternative settings, with its compliance curve.

    ``alternative`` carries the objective's own name, exactly as ``status --json`` would print
    it under the alternative threshold and target. ``approximate`` is set when the alternative
    threshold lies between bucket bounds (interpolated); ``current_approximate`` likewise for
    the configured one. ``curve`` is empty for kinds other than latency.
    """

    current: ObjectiveResult
    alternative: ObjectiveResult
    curve: tuple[CurvePoint, ...] = ()
    approximate: bool = False
    current_approximate: bool = False

    def to_json(self) -> dict[str, Any]:
        """The alternative objective's ``status --json`` item plus ``approximate``, ``curve`` and ``current``."""
        out = self.alternative.to_json()
        out["approximate"] = self.approximate
        out["curve"] = [p.to_json() for p in self.curve]
        current = self.current.to_json()
        current["approximate"] = self.current_approximate
        out["current"] = current
        return out


def _bucket_rows(histogram: Selector, samples: pl.DataFrame) -> tuple[pl.DataFrame, dict[str, float]]:
    rows = histogram.with_metric(histogram.metric + "_bucket").filter(samples)
    les: dict[str, float] = {}
    for labels in rows.get_column("labels").unique().to_list():
        le = le_value(parse_labels(labels))
        if le is not None:
            les[labels] = le
    return rows, les


def bucket_bounds(histogram: Selector, samples: pl.DataFrame) -> list[float]:
    """The distinct bucket bounds (``le``, seconds, ``+Inf`` included) of ``histogram`` in ``samples``, ascending."""
    return _distinct_bounds(_bucket_rows(histogram, samples)[1])


def _distinct_bounds(les: dict[str, float]) -> list[float]:
    distinct: list[float] = []
    for le in sorted(les.values()):
        if not distinct or not same_bound(distinct[-1], le):
            distinct.append(le)
    return distinct


def _fmt_bounds(bounds: list[float]) -> str:
    return ", ".join("+Inf" if math.isinf(b) else f"{b:g}s" for b in bounds)


def decreasing_bucket(histogram: Selector, samples: pl.DataFrame) -> tuple[bool, str | None]:
    """Whether ``samples`` hold buckets of ``histogram`` at all, and where they decrease with ``le``
    at one timestamp (a bucket counting more than a wider one), described for an error; ``None``
    when they are cumulative as they must be."""
    rows, les = _bucket_rows(histogram, samples)
    if rows.is_empty():
        return False, None
    base = {lb: format_labels({k: v for k, v in parse_labels(lb).items() if k != "le"}) for lb in les}
    ordered = rows.with_columns(
        pl.col("labels").replace_strict(base, return_dtype=pl.String).alias("base"),
        pl.col("labels").replace_strict(les, return_dtype=pl.Float64).alias("le"),
    ).sort("base", "timestamp", "le")
    bad = ordered.filter((pl.col("value").diff().over("base", "timestamp") < 0).fill_null(False))
    if bad.is_empty():
        return True, None
    first = bad.row(0, named=True)
    return True, f"{histogram.metric}_bucket{{{first['labels']}}} is below a narrower bucket at {first['timestamp']} ms"


def interpolated_bucket(histogram: Selector, threshold_s: float, samples: pl.DataFrame) -> pl.DataFrame:
    """Synthetic ``<histogram>_bucket{le="<threshold_s>"}`` rows (``SAMPLE_SCHEMA``), interpolated
    between the bucket bounds around ``threshold_s``, one row per timestamp at which both bounding
    buckets of a series have a sample (below the first bound: the first bucket scaled from 0).

    Empty when ``histogram`` has no buckets in ``samples`` or ``threshold_s`` is a bound. Raises
    ``ValueError`` naming the bounds when ``threshold_s`` is above the largest finite one.
    """
    rows, les = _bucket_rows(histogram, samples)
    bounds = _distinct_bounds(les)
    finite = [b for b in bounds if math.isfinite(b)]
    if not finite or any(same_bound(b, threshold_s) for b in finite):
        return pl.DataFrame(schema=SAMPLE_SCHEMA)
    if threshold_s > finite[-1]:
        raise ValueError(
            f"latency threshold {threshold_s:g}s is above the largest finite bucket bound of "
            f"{histogram.metric}_bucket (bounds: {_fmt_bounds(bounds)}); no interpolation is possible"
        )
    upper = min(b for b in finite if b > threshold_s)
    lower = max((b for b in finite if b < threshold_s), default=0.0)
    fraction = (threshold_s - lower) / (upper - lower)
    le_text = repr(float(threshold_s))
    base_of: dict[str, str] = {}
    new_labels: dict[str, str] = {}
    for labels in les:
        base = {k: v for k, v in parse_labels(labels).items() if k != "le"}
        base_of[labels] = format_labels(base)
        new_labels[base_of[labels]] = format_labels({**base, "le": le_text})

    def side(bound: float) -> pl.DataFrame:
        keep = [lb for lb, le in les.items() if same_bound(le, bound)]
        return rows.filter(pl.col("labels").is_in(keep)).with_columns(
            pl.col("labels").replace_strict(base_of, return_dtype=pl.String).alias("base")
        )

    up = side(upper).select("metric", "base", "timestamp", pl.col("value").alias("u"))
    if lower > 0.0:
        low = side(lower).select("metric", "base", "timestamp", pl.col("value").alias("l"))
        both = up.join(low, on=["metric", "base", "timestamp"], how="inner")
    else:
        both = up.with_columns(pl.lit(0.0).alias("l"))
    return both.select(
        pl.col("metric"),
        pl.col("base").replace_strict(new_labels, return_dtype=pl.String).alias("labels"),
        pl.col("timestamp"),
        (pl.col("l") + (pl.col("u") - pl.col("l")) * fraction).alias("value"),
    ).sort("metric", "labels", "timestamp")


def alternative_spec(spec: SLOSpec, *, threshold_s: float | None = None, objective: float | None = None) -> SLOSpec:
    """``spec`` with another target (percent) and, for a latency objective, another threshold."""
    alt = spec if objective is None else spec.model_copy(update={"objective": float(objective)})
    lat = alt.sli.latency
    if threshold_s is not None and lat is not None:
        sli = alt.sli.model_copy(update={"latency": lat.model_copy(update={"threshold": float(threshold_s)})})
        alt = alt.model_copy(update={"sli": sli})
    return alt


def _evaluated(spec: SLOSpec, samples: pl.DataFrame, at_ms: int) -> ObjectiveResult:
    evaluator = SLOEvaluator([spec])
    evaluator.ingest(samples)
    return evaluator.evaluate(at_ms).objectives[0]


def whatif(
    spec: SLOSpec,
    samples: pl.DataFrame,
    at_ms: int,
    *,
    threshold_s: float | None = None,
    objective: float | None = None,
) -> WhatIfResult:
    """``spec`` at ``at_ms`` as configured and with ``threshold_s`` (latency only) and/or ``objective``
    (percent) instead, over the same ``samples``; for latency, the compliance curve too.

    Raises ``ValueError`` for a threshold on a kind other than latency (naming the kind), a
    threshold that is not a positive number or lies above the largest finite bucket bound
    (naming the bounds), and an objective outside (0, 100).
    """
    if threshold_s is not None:
        if spec.sli.query is not None:
            raise ValueError(
                f"objective {spec.name!r} is a query SLI: its threshold is written in its PromQL, which the "
                "backend evaluates; what-if can change its objective (--objective) only"
            )
        if spec.sli.latency is None:
            raise ValueError(
                f"objective {spec.name!r} is of kind {spec.kind!r}: only a latency objective has a threshold"
            )
        if not (math.isfinite(threshold_s) and threshold_s > 0):
            raise ValueError(f"threshold must be a positive number of seconds, got {threshold_s!r}")
    if objective is not None and not (0.0 < objective < 100.0):
        raise ValueError(f"objective must be a percentage strictly between 0 and 100, got {objective!r}")
    alt = alternative_spec(spec, threshold_s=threshold_s, objective=objective)
    if spec.sli.query is not None:  # its answers are recorded under its name: one evaluator each
        current, alternative = (_evaluated(s, samples, at_ms) for s in (spec, alt))
        return WhatIfResult(current=current, alternative=alternative, curve=(), approximate=False,
                            current_approximate=False)
    alt = alt.model_copy(update={"name": spec.name + "#whatif"})

    specs = [spec, alt]
    extra: list[pl.DataFrame] = []
    curve_names: dict[str, float] = {}
    current_approx = approx = False
    lat = spec.sli.latency
    if lat is not None:
        bounds = bucket_bounds(lat.histogram, samples)
        for bound in (b for b in bounds if math.isfinite(b)):
            name = f"{spec.name}#le={bound!r}"
            curve_names[name] = bound
            specs.append(alternative_spec(spec, threshold_s=bound).model_copy(update={"name": name}))
        alt_lat = alt.sli.latency
        assert alt_lat is not None
        seen: set[float] = set()
        for which, thr in (("current", lat.threshold), ("alternative", alt_lat.threshold)):
            rows = interpolated_bucket(lat.histogram, thr, samples)
            if rows.height:
                if which == "current":
                    current_approx = True
                else:
                    approx = True
                if thr not in seen:
                    extra.append(rows)
                    seen.add(thr)
    evaluator = SLOEvaluator(specs)
    evaluator.ingest(pl.concat([samples.select(SAMPLE_SCHEMA.names()), *extra]) if extra else samples)
    report = evaluator.evaluate(at_ms)
    by_name: Mapping[str, ObjectiveResult] = {o.name: o for o in report.objectives}
    curve = tuple(CurvePoint(bound, by_name[name].value) for name, bound in curve_names.items())
    return WhatIfResult(
        current=by_name[spec.name],
        alternative=replace(by_name[alt.name], name=spec.name),
        curve=curve,
        approximate=approx,
        current_approximate=current_approx,
    )
