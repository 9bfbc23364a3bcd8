"""The OpenCost collector against a real HTTP server on 127.0.0.1 serving allocation JSON in the shape
OpenCost's ``/allocation`` answers (fixture: three hourly steps, aggregate=namespace, with ``__idle__``);
no Kubernetes cluster runs here."""

from __future__ import annotations

import copy
import json
import socket
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import polars as pl
import pytest
import yaml

from redline.collectors.opencost import OpenCostCollector, OpenCostConfig
from redline.kernel.labels import format_labels
from tests.collectors.context import context
from tests.collectors.http_target import send, serve

FIXTURE = Path(__file__).parent.parent / "fixtures" / "spend" / "opencost_allocation_namespace_1h.json"
EXAMPLE = Path(__file__).parent.parent.parent / "examples" / "sources-spend.yaml"
SEP_1_S = 1_725_148_800  # 2024-09-01T00:00:00Z
HOUR_MS = 3_600_000
SEP_1 = SEP_1_S * 1000


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class FakeOpenCost:
    """Answers /allocation from a list of step maps, keeping the steps inside the asked window."""

    def __init__(self) -> None:
        self.steps: list[dict[str, Any]] = json.loads(FIXTURE.read_text())["data"]
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.override: tuple[int, bytes, str] | None = None

    def __call__(self, handler: BaseHTTPRequestHandler) -> None:
        url = urlsplit(handler.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        self.requests.append((url.path, {**query, "auth": handler.headers.get("Authorization", "")}))
        if self.override is not None:
            send(handler, *self.override)
            return
        start, end = (int(x) for x in query["window"].split(","))
        kept = [
            s for s in self.steps
            if start * 1000 <= _ms(next(iter(s.values()))["window"]["start"])
            and _ms(next(iter(s.values()))["window"]["end"]) <= end * 1000
        ]
        send(handler, 200, json.dumps({"code": 200, "data": kept}).encode(), "application/json")


def _ms(text: str) -> int:
    from datetime import datetime

    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


@pytest.fixture
def opencost() -> Iterator[tuple[FakeOpenCost, str]]:
    fake = FakeOpenCost()
    with serve(fake) as url:
        yield fake, url


def make(url: str, client: httpx.Client, clock: Clock, env: dict[str, str] | None = None, **extra: object) -> (
    OpenCostCollector
):
    cfg = OpenCostConfig.model_validate({"name": "k8s-cost", "kind": "opencost", "url": url, **extra})
    return OpenCostCollector(cfg, context(clock, env=env or {}, http=client))


def series(frame: pl.DataFrame, key: str, cost_type: str) -> dict[int, float]:
    want = format_labels({"key": key, "cost_type": cost_type, "aggregate": "namespace", "source": "k8s-cost"})
    rows = frame.filter(pl.col("labels") == want).sort("timestamp")
    return {int(t): round(v, 9) for t, v in zip(rows["timestamp"], rows["value"], strict=True)}


def test_first_collection_reads_whole_steps_of_the_lookback_and_accumulates_per_key_and_cost_type(
    opencost: tuple[FakeOpenCost, str], client: httpx.Client
) -> None:
    fake, url = opencost
    result = make(url, client, Clock(SEP_1_S + 3 * 3600 + 600)).collect()
    assert result.health.ok, result.health.error
    assert fake.requests == [("/allocation", {
        "window": f"{SEP_1_S + 3 * 3600 - 86400},{SEP_1_S + 3 * 3600}", "aggregate": "namespace", "step": "1h",
        "accumulate": "false", "includeIdle": "true", "shareIdle": "false", "auth": "",
    })]
    assert series(result.samples, "ml-serving", "gpu") == {
        SEP_1: 0.0, SEP_1 + HOUR_MS: 2.48, SEP_1 + 2 * HOUR_MS: 4.96, SEP_1 + 3 * HOUR_MS: 7.44
    }
    assert series(result.samples, "__idle__", "gpu")[SEP_1 + 3 * HOUR_MS] == 3.72
    assert series(result.samples, "data-pipeline", "pv")[SEP_1 + 3 * HOUR_MS] == 0.0822
    assert series(result.samples, "data-pipeline", "gpu") == {}  # never cost anything: no series, no zeros
    at_end = result.samples.filter(
        pl.col("timestamp") == SEP_1 + 3 * HOUR_MS, pl.col("labels").str.contains('key="ml-serving"')
    )
    assert round(at_end["value"].sum(), 9) == round(3 * (0.126 + 2.48 + 0.069 + 0.0137 + 0.0113 + 0.025), 9)
    assert set(result.samples["metric"]) == {"redline_spend_usd_total"}


def test_later_collections_read_only_new_complete_steps_and_continue_the_totals(
    opencost: tuple[FakeOpenCost, str], client: httpx.Client
) -> None:
    fake, url = opencost
    clock = Clock(SEP_1_S + 3 * 3600 + 600)
    collector = make(url, client, clock)
    assert collector.collect().health.ok
    clock.now += 1200  # 03:30: the 03:00–04:00 step is not complete
    quiet = collector.collect()
    assert quiet.health.ok and quiet.samples.is_empty() and len(fake.requests) == 1
    step = copy.deepcopy(fake.steps[-1])
    for alloc in step.values():
        alloc["window"] = {"start": "2024-09-01T03:00:00Z", "end": "2024-09-01T04:00:00Z"}
    step["ml-serving"]["gpuCost"] = 4.96
    step["ml-serving"]["totalCost"] += 2.48
    fake.steps.append(step)
    clock.now += 1800  # 04:00
    later = collector.collect()
    assert later.health.ok, later.health.error
    assert fake.requests[-1][1]["window"] == f"{SEP_1_S + 3 * 3600},{SEP_1_S + 4 * 3600}"
    assert series(later.samples, "ml-serving", "gpu") == {SEP_1 + 4 * HOUR_MS: 12.4}


def test_an_unexplained_part_of_total_cost_is_kept_as_cost_type_other(
    opencost: tuple[FakeOpenCost, str], client: httpx.Client
) -> None:
    fake, url = opencost
    fake.steps = fake.steps[:1]
    fake.steps[0]["data-pipeline"]["totalCost"] += 0.5
    result = make(url, client, Clock(SEP_1_S + 3600)).collect()
    assert series(result.samples, "data-pipeline", "other") == {SEP_1: 0.0, SEP_1 + HOUR_MS: 0.5}
    assert series(result.samples, "ml-serving", "other") == {}


def test_an_empty_data_list_is_a_no_allocations_error_not_zeros(
    opencost: tuple[FakeOpenCost, str], client: httpx.Client
) -> None:
    fake, url = opencost
    fake.steps = []
    result = make(url, client, Clock(SEP_1_S + 3600)).collect()
    assert result.health.error == (
        f"source 'k8s-cost' ({url}/allocation): no allocations for window {SEP_1_S - 86400 + 3600},{SEP_1_S + 3600} "
        "(aggregate 'namespace'): 'data' is empty"
    )
    assert result.samples.is_empty()
    fake.override = (200, b'{"code":200,"data":[{}]}', "application/json")
    assert "no allocations" in (make(url, client, Clock(SEP_1_S + 3600)).collect().health.error or "")


def test_a_code_other_than_200_shows_opencosts_message(
    opencost: tuple[FakeOpenCost, str], client: httpx.Client
) -> None:
    fake, url = opencost
    fake.override = (400, b'{"code":400,"message":"error parsing window: invalid window"}', "application/json")
    result = make(url, client, Clock(SEP_1_S + 3600)).collect()
    assert result.health.error == (
        f"source 'k8s-cost' ({url}/allocation): OpenCost answered code 400: error parsing window: invalid window"
    )
    assert result.samples.is_empty()


def test_html_from_a_proxy_is_an_error(opencost: tuple[FakeOpenCost, str], client: httpx.Client) -> None:
    fake, url = opencost
    fake.override = (200, b"<!DOCTYPE html><html><body>Sign in</body></html>", "text/html; charset=utf-8")
    result = make(url, client, Clock(SEP_1_S + 3600), endpoint="/allocation/compute").collect()
    assert result.health.error == (
        f"source 'k8s-cost' ({url}/allocation/compute): expected JSON but got text/html (HTTP 200; a proxy or login "
        "page?): '<!DOCTYPE html><html><body>Sign in</body></html>'"
    )


def test_a_refused_port_is_an_error_and_another_source_is_unaffected(
    opencost: tuple[FakeOpenCost, str], client: httpx.Client
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    down = make(f"http://127.0.0.1:{port}", client, Clock(SEP_1_S + 3600)).collect()
    assert down.health.error is not None
    assert down.health.error.startswith(f"source 'k8s-cost' (http://127.0.0.1:{port}/allocation): cannot connect")
    _, url = opencost
    assert make(url, client, Clock(SEP_1_S + 3600)).collect().health.ok


def test_the_bearer_token_comes_from_the_environment_and_is_never_shown(
    opencost: tuple[FakeOpenCost, str], client: httpx.Client
) -> None:
    fake, url = opencost
    collector = make(url, client, Clock(SEP_1_S + 3600), env={"OC_TOKEN": "s3cr3t"}, bearer_token_env="OC_TOKEN")
    result = collector.collect()
    assert result.health.ok
    assert fake.requests[-1][1]["auth"] == "Bearer s3cr3t"
    assert "s3cr3t" not in repr(collector)
    missing = make(url, client, Clock(SEP_1_S + 3600), bearer_token_env="OC_TOKEN").collect()
    assert missing.health.error == f"source 'k8s-cost' ({url}/allocation): environment variable OC_TOKEN " \
        "(named by bearer_token_env) is not set (nor OC_TOKEN_FILE)"


def test_an_empty_token_variable_is_an_error_naming_it_and_nothing_is_requested(
    opencost: tuple[FakeOpenCost, str], client: httpx.Client
) -> None:
    fake, url = opencost
    before = len(fake.requests)
    result = make(url, client, Clock(SEP_1_S + 3600), env={"OC_TOKEN": ""}, bearer_token_env="OC_TOKEN").collect()
    assert result.health.error == f"source 'k8s-cost' ({url}/allocation): environment variable OC_TOKEN " \
        "(named by bearer_token_env) is not set (nor OC_TOKEN_FILE)"
    assert result.samples.is_empty()
    assert len(fake.requests) == before


def test_the_example_config_opencost_entry_validates() -> None:
    sources = yaml.safe_load(EXAMPLE.read_text())["sources"]
    cfg = OpenCostConfig.model_validate(next(s for s in sources if s["kind"] == "opencost"))
    assert (cfg.aggregate, cfg.step, cfg.lookback, cfg.timeout_s) == ("namespace", 3600.0, 86400.0, 30.0)
