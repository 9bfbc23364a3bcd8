"""A small, real-shaped history in a real SampleStore, and the config that watches it.

Four objectives, one per dimension, with a known ranking at ``AT_S``:

- ``api-availability`` (users, 99.9%): 100 req/min, a counter reset 12 h ago, and an incident
  in the last 20 minutes (5 errors/min) that burns the budget fast: nearest to breaking.
- ``pipeline-success`` (data, 99%): 0.1% of batches fail all day: burning slowly.
- ``embedding-availability`` (model, 99.5%): no errors at all: not burning.
- ``gpu-spend`` (cost, 99%): selects series that do not exist: no data.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from redline.kernel.fields import SAMPLE_SCHEMA
from redline.store.embedded import SampleStore

AT_S = 1_767_312_000  # 2026-01-02 00:00:00 UTC
STEP_S = 60
HISTORY_S = 24 * 3600
INCIDENT_S = 20 * 60
RESET_AGO_S = 12 * 3600

CONFIG = """\
agent:
  data_dir: data
sources:
  - name: api
    kind: prometheus_scrape
    url: http://127.0.0.1:9/metrics
slos:
  - name: embedding-availability
    dimension: model
    objective: 99.5
    window: 30d
    sli: {ratio: {errors: 'embed_requests_total{code=~"5.."}', total: embed_requests_total}}
  - name: gpu-spend
    dimension: cost
    objective: 99
    window: 30d
    sli: {ratio: {errors: 'gpu_jobs_total{result="over_budget"}', total: gpu_jobs_total}}
  - name: pipeline-success
    dimension: data
    objective: 99
    window: 30d
    description: Feature pipeline batches that succeed.
    sli: {ratio: {errors: 'pipeline_batches_total{result="failed"}', total: pipeline_batches_total}}
  - name: api-availability
    objective: 99.9
    window: 30d
    runbook_url: https://runbooks.example/api
    sli:
      ratio:
        errors: 'http_requests_total{service="api",code=~"5.."}'
        total: 'http_requests_total{service="api"}'
"""

EXPECTED_ORDER = ["api-availability", "pipeline-success", "embedding-availability", "gpu-spend"]


def _series(metric: str, labels: str, per_min: list[float], *, reset_at_s: int | None = None) -> pl.DataFrame:
    """A counter scraped every minute up to AT_S, increasing by ``per_min[i]`` in minute i."""
    start_s = AT_S - HISTORY_S
    stamps: list[int] = []
    values: list[float] = []
    value = 1000.0
    for i, inc in enumerate(per_min):
        t = start_s + i * STEP_S
        if reset_at_s is not None and t == reset_at_s:
            value = 0.0  # the process restarted: the counter starts again
        value += inc
        stamps.append(t * 1000)
        values.append(value)
    n = len(stamps)
    return pl.DataFrame(
        {"metric": [metric] * n, "labels": [labels] * n, "timestamp": stamps, "value": values},
        schema=SAMPLE_SCHEMA,
    )


def history() -> pl.DataFrame:
    """Every sample of the fleet's last 24 hours."""
    minutes = HISTORY_S // STEP_S + 1
    incident_from = minutes - INCIDENT_S // STEP_S
    reset = AT_S - RESET_AGO_S
    api_errors = [5.0 if i >= incident_from else 0.0 for i in range(minutes)]
    return pl.concat([
        _series("http_requests_total", 'code="200",service="api"', [100.0] * minutes, reset_at_s=reset),
        _series("http_requests_total", 'code="500",service="api"', api_errors, reset_at_s=reset),
        _series("pipeline_batches_total", 'result="ok"', [59.94] * minutes),
        _series("pipeline_batches_total", 'result="failed"', [0.06] * minutes),
        _series("embed_requests_total", 'code="200"', [40.0] * minutes),
        _series("embed_requests_total", 'code="503"', [0.0] * minutes),
    ])


def write_fleet(root: Path) -> Path:
    """Store the history in ``root/data`` (all but the last hour compacted); return the config."""
    store = SampleStore(root / "data")
    samples = history()
    last_hour_ms = (AT_S - 3600) * 1000
    store.append(samples.filter(pl.col("timestamp") < last_hour_ms))
    store.compact()
    store.append(samples.filter(pl.col("timestamp") >= last_hour_ms))
    config = root / "redline.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    return config
