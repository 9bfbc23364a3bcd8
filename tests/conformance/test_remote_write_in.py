"""Remote write in, against a real Prometheus (Debian's 2.42): Prometheus scrapes a target and
forwards it with ``remote_write`` to Redline's receiver; Redline also scrapes the same target
itself. The objective over the forwarded series equals the objective over Redline's own scrape,
and both equal the ratio of the counts the target served."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from redline.agent.runtime import Agent
from redline.config import LoadedConfig, parse_config
from redline.slo.results import ObjectiveResult
from tests.conformance.counter_target import Target, wait_for
from tests.ports import free_port
from tests.prometheus_server import serve_prometheus


@pytest.fixture
def target() -> Iterator[Target]:
    t = Target()
    yield t
    t.close()


def config(tmp_path: Path, target: Target, port: int) -> LoadedConfig:
    text = f"""
agent: {{data_dir: {tmp_path / "data"}, listen: "127.0.0.1:0"}}
receivers: [{{kind: remote_write, listen: "127.0.0.1:{port}"}}]
sources:
  - {{name: direct, kind: prometheus_scrape, url: "http://{target.address}/metrics", interval: 15s}}
slos:
  - name: forwarded
    objective: 99
    sli: {{ratio: {{errors: 'http_requests_total{{source="remote_write",code="500"}}',
                   total: 'http_requests_total{{source="remote_write"}}'}}}}
  - name: scraped
    objective: 99
    sli: {{ratio: {{errors: 'http_requests_total{{source="direct",code="500"}}',
                   total: 'http_requests_total{{source="direct"}}'}}}}
"""
    path = tmp_path / "redline.yaml"
    path.write_text(text)
    return LoadedConfig(parse_config(text, path), path)


def test_an_objective_over_series_prometheus_forwards_equals_the_same_objective_by_scrape(
    tmp_path: Path, target: Target
) -> None:
    port = free_port()
    agent = Agent(config(tmp_path, target, port), env={}, clock=time.time)
    agent.start_server()
    (tmp_path / "prom").mkdir()
    remote_write = {
        "url": f"http://127.0.0.1:{port}/api/v1/write",
        "queue_config": {"batch_send_deadline": "1s", "min_backoff": "100ms"},
        "write_relabel_configs": [{"source_labels": ["__name__"], "regex": "http_requests_total", "action": "keep"}],
    }
    scrape = {"job_name": "app", "scrape_interval": "1s", "static_configs": [{"targets": [target.address]}]}
    try:
        with serve_prometheus(
            tmp_path / "prom" / "data",
            tmp_path / "prom",
            extra_config={"scrape_configs": [scrape], "remote_write": [remote_write]},
        ):
            receiver = agent.receivers.servers[0][1]
            assert agent.collect("direct").ok
            wait_for(lambda: receiver.points["accepted"] >= 2, "the baseline forwarded")
            target.requests.labels("200").inc(900)
            target.requests.labels("500").inc(100)
            assert agent.collect("direct").ok

            reports: list[dict[str, ObjectiveResult]] = []

            def forwarded_all() -> bool:  # the increments' scrape reached Redline through Prometheus
                reports.append({o.name: o for o in agent.evaluate().objectives})
                return reports[-1]["forwarded"].value == pytest.approx(0.9, rel=1e-12)

            # The report that showed it: a later one may see one series' newest sample and not yet
            # the other's (Prometheus keeps forwarding every second, in batches of its own).
            wait_for(forwarded_all, "the increments forwarded")
            report = reports[-1]
    finally:
        agent.shutdown()
    assert report["forwarded"].value == pytest.approx(0.9, rel=1e-12)
    assert report["forwarded"].value == pytest.approx(report["scraped"].value, rel=1e-12)
    # Events are sum(increase(...)) as Prometheus computes it: the 1,000 requests, extrapolated.
    # At the start each series begins at 0 (the zero floor: no extrapolation); at the end, when
    # the window's end is within 1.1 average intervals of the last sample, Prometheus extrapolates
    # all the way to it: over a series holding two samples D apart that adds up to 1.1 D, so at
    # most 2.1x (2,057 was seen). The ratio above cancels it, as both series share their
    # timestamps; tests/conformance/test_fleet_agreement.py holds the increases to Prometheus's.
    assert 1000 <= report["forwarded"].events <= 2100
    assert 1000 <= report["scraped"].events <= 2100
    health = agent.health["remote_write"]
    assert health.ok and not health.problems
