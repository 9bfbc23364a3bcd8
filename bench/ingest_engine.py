"""Ingest benchmark: the CPU ``Evaluator.ingest`` spends per million scraped samples, this tree
beside a baseline checkout, in one run.

Run: ``python -m bench.ingest_engine [baseline-root] [--seconds N] [--rounds R] [--mix soak]``
(default baseline ``/work/main``, 300 seconds, 2 rounds; ``--mix soak``: ``bench.soak``'s series
and its two objectives, 67% of the series selected). Each run is a child process whose
``PYTHONPATH`` is the tree it measures, so both import their own ``redline``; the rounds
alternate baseline and this tree, so machine noise falls on both.

Frames are the soak's (``bench.soak``): 4 targets scraped every 1 s, each scrape one frame of
2,500 series labelled with its ``source``. Of them 20% are selected by the objectives
(``svc_requests_total`` of service ``api`` by route and code, plus a latency histogram's
buckets); the others are the same metric of another service (matched by labels) and a gauge
no objective names (dropped by metric). Objectives: two availability ratios (all sources and
one), one latency, one grouped objective's members (``group_by: route`` expanded over 5
routes). The figure is CPU seconds (``time.process_time``) of ``ingest`` per million samples
fed, unselected ones included, as the soak counts them; the first scrape of each target (which
registers every series) is left out. Each run ends with a digest of ``evaluate`` at every
60 s: both trees must print the same one.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

TARGETS = 4
SERIES = 2500
ROUTES = 100
BUCKETS = ("0.1", "0.25", "0.5", "+Inf")
START_MS = 1_700_000_000_000


def _series(target: int) -> tuple[list[tuple[str, str]], list[str]]:
    """One target's series (metric, canonical labels) and each one's kind: ``count`` (a request
    counter), ``bucket`` (histogram bucket, cumulative in ``le``), ``gauge``."""
    src = f'source="t{target}"'
    out: list[tuple[str, str]] = []
    kinds: list[str] = []
    for r in range(ROUTES):  # 200 selected counters + 400 selected buckets (24%)
        for code in ("200", "500"):
            out.append(("svc_requests_total", f'code="{code}",route="r{r}",service="api",{src}'))
            kinds.append("count")
    for r in range(ROUTES // 10):  # the buckets of 10 routes
        for le in BUCKETS:
            out.append(("svc_latency_seconds_bucket", f'le="{le}",route="r{r}",service="api",{src}'))
            kinds.append("bucket")
    rest = SERIES - len(out)
    for r in range(rest // 2):  # the same metric, another service: matched by labels, not selected
        out.append(("svc_requests_total", f'code="200",route="r{r}",service="batch",{src}'))
        kinds.append("count")
    for g in range(SERIES - len(out)):  # a metric no objective names
        out.append(("svc_inflight", f'route="r{g}",{src}'))
        kinds.append("gauge")
    return out, kinds


def _soak_series(target: int) -> tuple[list[tuple[str, str]], list[str]]:
    """``bench.soak``'s target: two thirds request counters by route and code, a third gauges."""
    src = f'source="t{target}"'
    routes = SERIES // 3
    out = [("soak_requests_total", f'code="{c}",route="r{r}",{src}') for r in range(routes) for c in ("200", "500")]
    out += [("soak_inflight", f'route="r{g}",{src}') for g in range(SERIES - len(out))]
    return out, ["count"] * (2 * routes) + ["gauge"] * (SERIES - 2 * routes)


SOAK_SPECS = [
    {"name": "soak-availability", "objective": 99.9, "window": "1d",
     "sli": {"ratio": {"errors": 'soak_requests_total{code="500"}', "total": "soak_requests_total"}}},
    {"name": "soak-availability-target-0", "objective": 99, "window": "1h",
     "sli": {"ratio": {"errors": 'soak_requests_total{source="t0",code="500"}',
                       "total": 'soak_requests_total{source="t0"}'}}},
]
"""``bench.soak``'s objectives (``--mix soak``: 67% of the series selected)."""

SPECS = [
    {"name": "api-availability", "objective": 99.9, "window": "1d",
     "sli": {"ratio": {"errors": 'svc_requests_total{service="api",code="500"}',
                       "total": 'svc_requests_total{service="api"}'}}},
    {"name": "api-availability-t0", "objective": 99.0, "window": "1h",
     "sli": {"ratio": {"errors": 'svc_requests_total{service="api",source="t0",code="500"}',
                       "total": 'svc_requests_total{service="api",source="t0"}'}}},
    {"name": "api-latency", "objective": 99.0, "window": "1d",
     "sli": {"latency": {"histogram": 'svc_latency_seconds{service="api"}', "threshold": "250ms"}}},
    {"name": "api-routes", "objective": 99.0, "window": "1h", "group_by": ["route"],
     "sli": {"ratio": {"errors": 'svc_requests_total{service="api",route=~"r[0-4]",code="500"}',
                       "total": 'svc_requests_total{service="api",route=~"r[0-4]"}'}}},
]


def _child(seconds: int, mix: str) -> None:
    """Feed the frames to an ``Evaluator`` of this process's ``redline``; print a JSON line."""
    import numpy as np
    import polars as pl

    from redline.kernel.fields import SAMPLE_SCHEMA
    from redline.slo.evaluation import Evaluator
    from redline.slo.groups import expand_groups
    from redline.slo.spec import SLOSpec

    soak = mix == "soak"
    targets = [(_soak_series if soak else _series)(t) for t in range(TARGETS)]
    stored = pl.DataFrame(
        [pair for series, _ in targets for pair in series], schema=["metric", "labels"], orient="row"
    )
    specs = expand_groups([SLOSpec.model_validate(s) for s in (SOAK_SPECS if soak else SPECS)], stored)
    evaluator = Evaluator(specs)
    rng = np.random.default_rng(7)
    rates = [rng.uniform(1.0, 50.0, SERIES) for _ in range(TARGETS)]
    for (_, kinds), rate in zip(targets, rates, strict=True):
        kind = np.asarray(kinds)
        rate[kind == "gauge"] = 0.0
        # errors 1% of successes; a histogram's buckets cumulative (each the one before plus a share)
        rate[1 : 2 * ROUTES : 2] *= 0.01
        for b in range(2 * ROUTES, 2 * ROUTES + 4 * (ROUTES // 10), 4) if not soak else ():
            rate[b + 1 : b + 4] = rate[b] + np.cumsum(rate[b + 1 : b + 4])
    frames_meta = [
        (pl.Series([m for m, _ in series]), pl.Series([lb for _, lb in series])) for series, _ in targets
    ]
    cpu_s = 0.0
    fed = 0
    digest = hashlib.sha256()
    for second in range(seconds):
        at_ms = START_MS + second * 1000
        for t in range(TARGETS):
            metric, labels = frames_meta[t]
            values = np.floor(rates[t] * second)
            if second % 97 == 13 and t == 1:  # a restart of target 1: every counter drops
                values = np.floor(rates[t] * 0.5)
            gauge = np.asarray(targets[t][1]) == "gauge"
            values[gauge] = np.round(50 + 50 * np.sin(second / 30 + np.arange(gauge.sum())), 1)
            frame = pl.DataFrame(
                {"metric": metric, "labels": labels,
                 "timestamp": np.full(SERIES, at_ms + 37 * t, dtype=np.int64), "value": values},
                schema=SAMPLE_SCHEMA,
            )
            started = time.process_time()
            evaluator.ingest(frame)
            if second:
                cpu_s += time.process_time() - started
                fed += frame.height
        if second % 60 == 59:
            report = evaluator.evaluate(at_ms + 999)
            digest.update(repr(report).encode())
    print(json.dumps({"cpu_s": cpu_s, "samples": fed, "digest": digest.hexdigest()[:16]}))


def _run(root: Path, seconds: int, mix: str) -> dict[str, float | int | str]:
    env = dict(os.environ, PYTHONPATH=str(root), POLARS_MAX_THREADS=os.environ.get("POLARS_MAX_THREADS", "2"))
    out = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", "--seconds", str(seconds), "--mix", mix],
        env=env, check=True, stdout=subprocess.PIPE, text=True, cwd=str(root),
    )
    result: dict[str, float | int | str] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("baseline", nargs="?", default="/work/main", help="the baseline tree (default /work/main)")
    parser.add_argument("--seconds", type=int, default=300, help="seconds of scrapes per run (default 300)")
    parser.add_argument("--rounds", type=int, default=2, help="baseline/this pairs, alternated (default 2)")
    parser.add_argument(
        "--mix", choices=("default", "soak"), default="default",
        help="series and objectives: the default (~24%% selected) or bench.soak's (67%% selected)",
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.seconds, args.mix)
        return 0
    here = Path(__file__).resolve().parent.parent
    trees = {"baseline": Path(args.baseline).resolve(), "this tree": here}
    print(
        f"ingest: {TARGETS} targets x {SERIES:,} series every 1 s for {args.seconds} s "
        f"({'67' if args.mix == 'soak' else '~24'}% selected); baseline {trees['baseline']}"
    )
    per_million: dict[str, list[float]] = {name: [] for name in trees}
    digests: dict[str, set[str]] = {name: set() for name in trees}
    for round_no in range(args.rounds):
        for name, root in trees.items():
            r = _run(root, args.seconds, args.mix)
            figure = float(r["cpu_s"]) / int(r["samples"]) * 1e6
            per_million[name].append(figure)
            digests[name].add(str(r["digest"]))
            print(f"  round {round_no + 1} {name:>9}: {figure:6.2f} CPU s per million samples "
                  f"({int(r['samples']):,} samples, digest {r['digest']})", flush=True)
    best = {name: min(v) for name, v in per_million.items()}
    print(f"best of {args.rounds}: baseline {best['baseline']:.2f}, this tree {best['this tree']:.2f} CPU s "
          f"per million samples ({best['baseline'] / best['this tree']:.1f}x)")
    same = len(digests["baseline"] | digests["this tree"]) == 1
    print("results identical to the baseline's" if same else f"RESULTS DIFFER: {digests}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
