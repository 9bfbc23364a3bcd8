"""The test fleet (``tests.dashboard.fleet``) plus data and config that carry hostile text.

Every payload is something a page would turn into a request, an element or a script if it
rendered a value as Markdown or HTML: a Markdown image and a raw ``<img>`` pointing at a local
server that counts requests, a ``javascript:`` link, Streamlit's ``:red[…]`` colour extension and
a LaTeX ``\\href``. They arrive the ways data does: as label values of a grouped objective (so in
member names, reasons, the ranking and the callout), as showback label values of a budget, in
descriptions, and as a runbook URL.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from redline.kernel.fields import SAMPLE_SCHEMA
from redline.kernel.labels import format_labels
from redline.store.embedded import SampleStore
from tests.dashboard.fleet import AT_S, HISTORY_S, INCIDENT_S, STEP_S, write_fleet

TENANT_OBJECTIVE = "tenant-availability"
BUDGET = "tenant-budget"


def payloads(port: int) -> tuple[str, ...]:
    """The hostile strings, their URLs on the counting server at ``port``."""
    base = f"http://127.0.0.1:{port}"
    return (
        f"![x]({base}/md-image.png)",
        f"<img src={base}/html-image.png>",
        "[a](javascript:alert(1))",
        ":red[alarm]",
        f"$$\\href{{{base}/latex}}{{x}}$$",
    )


def _counter(metric: str, labels: dict[str, str], per_min: list[float]) -> pl.DataFrame:
    start_s = AT_S - HISTORY_S
    values, total = [], 0.0
    for inc in per_min:
        total += inc
        values.append(total)
    n = len(per_min)
    return pl.DataFrame(
        {
            "metric": [metric] * n,
            "labels": [format_labels(labels)] * n,
            "timestamp": [(start_s + i * STEP_S) * 1000 for i in range(n)],
            "value": values,
        },
        schema=SAMPLE_SCHEMA,
    )


def write_hostile_fleet(root: Path, port: int) -> Path:
    """The test fleet with hostile tenants (burning faster than anything else, so one of them is
    the page's answer) and a budget spent by hostile teams; returns the config."""
    config = write_fleet(root)
    minutes = HISTORY_S // STEP_S + 1
    incident_from = minutes - INCIDENT_S // STEP_S
    frames = []
    hostile = payloads(port)
    for i, tenant in enumerate(hostile):
        errors = [24.0 - i if m >= incident_from else 0.0 for m in range(minutes)]
        frames.append(_counter("tenant_requests_total", {"tenant": tenant, "code": "200"}, [100.0] * minutes))
        frames.append(_counter("tenant_requests_total", {"tenant": tenant, "code": "500"}, errors))
        frames.append(_counter("redline_spend_usd_total", {"team": tenant}, [0.5 + i / 10] * minutes))
    SampleStore(root / "data").append(pl.concat(frames))
    description = " ".join(hostile)
    config.write_text(
        config.read_text(encoding="utf-8")
        + f"""\
  - name: {TENANT_OBJECTIVE}
    dimension: users
    objective: 99.9
    window: 30d
    group_by: [tenant]
    description: '{description}'
    runbook_url: 'javascript:alert(1)'
    sli: {{ratio: {{errors: 'tenant_requests_total{{code=~"5.."}}', total: tenant_requests_total}}}}
guardrails:
  - name: {BUDGET}
    description: '{description}'
    budget: {{spend: redline_spend_usd_total, limit: 5000, showback_by: [team]}}
""",
        encoding="utf-8",
    )
    return config
