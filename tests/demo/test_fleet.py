from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Iterator

import httpx
import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families as parse_text

from redline.demo.counts import InferenceTally, PipelineTally
from redline.demo.fleet import (
    DEMO_SCENARIO,
    BatchPipeline,
    FleetDriver,
    FleetSimulator,
    InferenceAPI,
    InferenceCounts,
    Phase,
    PipelineCounts,
    Scenario,
    TrafficProfile,
    start_demo_fleet,
)

T0 = 1_700_000_100.0  # a multiple of 300 s: the pipeline's runs fall at T0 + 300 k
API = {"service": "inference-api"}
Fleet = tuple[InferenceAPI, BatchPipeline]
Values = dict[tuple[str, frozenset[tuple[str, str]]], float]


def _key(name: str, **labels: str) -> tuple[str, frozenset[tuple[str, str]]]:
    return name, frozenset(labels.items())


def scrape(url: str, *, openmetrics: bool = False) -> Values:
    """Fetch /metrics over real HTTP and parse it with prometheus-client's reference parsers."""
    headers = {"Accept": "application/openmetrics-text; version=1.0.0"} if openmetrics else {}
    response = httpx.get(url, headers=headers, timeout=5)
    assert response.status_code == 200
    parse = parse_openmetrics if openmetrics else parse_text
    return {
        _key(s.name, **s.labels): s.value
        for family in parse(response.text)
        for s in family.samples
        if not s.name.endswith("_created")
    }


@pytest.fixture
def fleet() -> Iterator[Fleet]:
    api = InferenceAPI()
    pipeline = BatchPipeline(initial=PipelineCounts(last_success_s=T0, rows_processed=1000))
    api.start()
    pipeline.start()
    try:
        yield api, pipeline
    finally:
        api.shutdown()
        pipeline.shutdown()


def tick(sim: FleetSimulator, until_offset_s: int) -> None:
    """Advance second by second, as the demo's driver thread does, on a fake clock."""
    for t in range(int(sim.now_s - T0) + 1, until_offset_s + 1):
        sim.advance(T0 + t)


def requests(values: Values, code: str) -> float:
    return values[_key("http_requests_total", code=code, **API)]


def test_metrics_endpoint_shows_exactly_the_counts_the_simulator_produced(
    fleet: Fleet,
) -> None:
    api, pipeline = fleet
    profile = TrafficProfile(request_rate_per_s=64, error_share=0.0625, slow_share=0.125, rate_jitter=0)
    steady = Scenario(profile)
    sim = FleetSimulator(api, pipeline, start_s=T0, seed=11, scenario=steady)
    tick(sim, 10)

    values = scrape(api.url)

    # 64 req/s for 10 s, 1/16 of them failing: shares that binary floats hold exactly
    assert requests(values, "200") == 600
    assert requests(values, "500") == 40
    assert values[_key("http_request_duration_seconds_count", **API)] == 640
    assert values[_key("http_request_duration_seconds_bucket", le="+Inf", **API)] == 640
    # 560 fast requests split 2/8/30/40/20% up to 250 ms, 80 slow ones 55/30/12/3% above it
    # (11.2 and 9.6 expected in the first and eighth buckets, rounded with carried remainders)
    buckets = [
        values[_key("http_request_duration_seconds_bucket", le=le, **API)]
        for le in ("0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1.0", "2.5", "5.0", "10.0", "+Inf")
    ]
    assert buckets == [11, 56, 224, 448, 560, 604, 628, 638, 640, 640, 640]
    # each bucket's count times its representative duration: 11×0.007 + 45×0.018 + 168×0.04
    # + 224×0.07 + 112×0.15 + 44×0.35 + 24×0.7 + 10×1.6 + 2×3.5
    assert values[_key("http_request_duration_seconds_sum", **API)] == pytest.approx(95.287)
    assert values[_key("inferences_total", model="llama-3-8b", **API)] == 420
    assert values[_key("inferences_total", model="mistral-7b", **API)] == 180
    # and the exposition agrees with the simulator's own tally, series for series
    counts = api.counts()
    assert counts.requests_by_code == {"200": 600, "500": 40}
    assert list(counts.bucket_counts) == buckets
    # no run is due in the first 10 s: the pipeline shows its initial state
    pipe = scrape(pipeline.url)
    assert pipe[_key("pipeline_last_success_timestamp_seconds", pipeline="features")] == T0
    assert pipe[_key("pipeline_rows_processed_total", pipeline="features")] == 1000


def test_codes_200_and_500_exist_at_zero_before_any_traffic(fleet: Fleet) -> None:
    api, _ = fleet

    values = scrape(api.url)

    assert requests(values, "200") == 0
    assert requests(values, "500") == 0
    assert values[_key("http_request_duration_seconds_count", **API)] == 0


def test_metrics_are_openmetrics_when_the_scraper_asks_for_it(fleet: Fleet) -> None:
    api, pipeline = fleet
    sim = FleetSimulator(api, pipeline, start_s=T0, seed=3)
    tick(sim, 5)

    response = httpx.get(api.url, headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    plain = httpx.get(api.url)

    assert response.headers["content-type"].startswith("application/openmetrics-text")
    assert response.text.endswith("# EOF\n")
    assert "# TYPE http_requests counter" in response.text
    assert plain.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert scrape(api.url, openmetrics=True) == scrape(api.url)


def test_incident_raises_the_error_ratio_to_the_scripted_share(fleet: Fleet) -> None:
    api, pipeline = fleet
    sim = FleetSimulator(api, pipeline, start_s=T0, seed=7, scenario=DEMO_SCENARIO)
    tick(sim, 40)
    before = scrape(api.url)
    tick(sim, 100)
    after = scrape(api.url)

    errors = requests(after, "500") - requests(before, "500")
    total = errors + requests(after, "200") - requests(before, "200")
    slow = (after[_key("http_request_duration_seconds_count", **API)]
            - after[_key("http_request_duration_seconds_bucket", le="0.25", **API)]
            - before[_key("http_request_duration_seconds_count", **API)]
            + before[_key("http_request_duration_seconds_bucket", le="0.25", **API)])

    # 150 req/s (±10% jitter) for 60 s, 40% failing, 25% slower than 250 ms
    assert 0.9 * 150 * 60 <= total <= 1.1 * 150 * 60
    assert abs(errors - 0.4 * total) < 2
    assert abs(slow - 0.25 * total) < 12
    # in the 40 s before the incident, baseline: 0.05% errors (~1 of ~2000 requests)
    assert requests(before, "500") <= 2
    assert sim.phase_names_at(T0 + 60) == ["incident"]
    assert sim.phase_names_at(T0 + 100) == []


def test_restart_resets_the_counters_to_zero_and_the_service_keeps_serving(
    fleet: Fleet,
) -> None:
    api, pipeline = fleet
    scenario = Scenario(
        TrafficProfile(request_rate_per_s=50, rate_jitter=0, error_share=0.02),
        (Phase(at_s=5, name="restart", restart=("inference-api",)),),
    )
    sim = FleetSimulator(api, pipeline, start_s=T0, seed=1, scenario=scenario)
    old_registry = api.registry
    port = api.port
    tick(sim, 4)
    before = scrape(api.url)
    tick(sim, 5)
    at_restart = scrape(api.url)
    tick(sim, 6)
    after = scrape(api.url)

    assert requests(before, "200") + requests(before, "500") == 200
    assert requests(before, "500") == 4
    assert {k: v for k, v in at_restart.items() if k[0] != "pipeline_last_success_timestamp_seconds"} == {
        k: 0.0 for k in before
    }
    assert requests(after, "200") + requests(after, "500") == 50
    assert api.port == port
    assert api.registry is not old_registry


def test_demo_restart_at_120s_is_a_counter_reset_in_the_exposition(
    fleet: Fleet,
) -> None:
    api, pipeline = fleet
    sim = FleetSimulator(api, pipeline, start_s=T0, seed=2)
    tick(sim, 119)
    before = scrape(api.url)
    tick(sim, 121)
    after = scrape(api.url)

    assert requests(before, "200") > 8000
    assert 0 < requests(after, "200") < 120  # one second of traffic at ~50 req/s
    assert requests(after, "500") < requests(before, "500")


def test_pipeline_succeeds_every_five_minutes_until_the_scripted_stall(
    fleet: Fleet,
) -> None:
    api, pipeline = fleet
    scenario = Scenario(TrafficProfile(), (Phase(at_s=700, name="stall", pipeline_running=False),))
    sim = FleetSimulator(api, pipeline, start_s=T0, seed=5, scenario=scenario, max_step_s=10)
    sim.advance(T0 + 650)
    running = pipeline.counts()
    sim.advance(T0 + 1500)
    stalled = scrape(pipeline.url)

    assert running.last_success_s == T0 + 600
    assert 1000 + 2 * 96_000 <= running.rows_processed <= 1000 + 2 * 144_000
    assert stalled[_key("pipeline_last_success_timestamp_seconds", pipeline="features")] == T0 + 600
    assert stalled[_key("pipeline_rows_processed_total", pipeline="features")] == running.rows_processed


def test_demo_pipeline_runs_last_at_60s_and_every_event_is_logged_at_its_second(
    fleet: Fleet, caplog: pytest.LogCaptureFixture
) -> None:
    api, pipeline = fleet
    start = T0 + 17.5  # any wall clock: the runs follow the scenario's pipeline_run_at_s, not Unix time
    sim = FleetSimulator(api, pipeline, start_s=start, seed=5, stale_after_s=600)
    logged_at: dict[str, int] = {}
    with caplog.at_level(logging.INFO, logger="redline.demo.fleet"):
        for t in range(1, 1000):  # second by second, as the demo's driver ticks
            sim.advance(start + t)
            for record in caplog.records:
                logged_at.setdefault(record.getMessage(), t)

    assert pipeline.counts().last_success_s == start + 60  # the last run before the stall at +150 s
    assert logged_at == {
        "scenario +40 s: bad deploy: 40% of requests fail, clients retry at 3x traffic, GPUs saturate": 40,
        "scenario +100 s: incident over": 100,
        "scenario +120 s: the inference API restarts (its counters start again from 0)": 120,
        "scenario +150 s: features pipeline stalled (last success at +60 s)": 150,
        "scenario +660 s: features data older than 10 min (last success at +60 s): its freshness objective "
        "starts burning": 661,  # the first tick at which the age is over 600 s
    }


def test_same_seed_gives_the_same_fleet_and_another_seed_does_not() -> None:
    def run(seed: int) -> tuple[InferenceCounts, PipelineCounts]:
        api, pipe = InferenceTally(), PipelineTally()
        sim = FleetSimulator(api, pipe, start_s=T0, seed=seed)
        for t in range(1, 400):
            sim.advance(T0 + t)
        return api.snapshot(), pipe.snapshot()

    assert run(42) == run(42)
    assert run(42)[0].requests_total != run(43)[0].requests_total


def test_fleet_started_from_initial_counts_continues_without_a_reset() -> None:
    initial = InferenceCounts(
        requests_by_code={"200": 1000, "500": 3},
        bucket_counts=(10, 50, 300, 700, 995, 1000, 1001, 1003, 1003, 1003, 1003),
        duration_sum_s=77.5,
        inferences_by_model={"llama-3-8b": 700, "mistral-7b": 300},
    )
    api = InferenceAPI(initial=initial)
    api.start()
    try:
        at_start = scrape(api.url)
        sim = FleetSimulator(api, PipelineTally(), start_s=T0, seed=9)
        tick(sim, 3)
        later = scrape(api.url)
    finally:
        api.shutdown()

    assert requests(at_start, "200") == 1000
    assert requests(at_start, "500") == 3
    assert at_start[_key("http_request_duration_seconds_bucket", le="0.25", **API)] == 995
    assert at_start[_key("http_request_duration_seconds_sum", **API)] == 77.5
    assert at_start[_key("inferences_total", model="mistral-7b", **API)] == 300
    assert all(later[k] >= v for k, v in at_start.items())
    assert requests(later, "200") > 1000


def test_initial_counts_that_do_not_add_up_are_rejected() -> None:
    with pytest.raises(ValueError, match=r"\+Inf bucket \(5\) must equal the requests served \(3\)"):
        InferenceCounts(requests_by_code={"200": 3, "500": 0}, bucket_counts=(0,) * 10 + (5,))


def test_a_phase_with_a_share_above_one_is_rejected_naming_the_phase() -> None:
    with pytest.raises(ValueError, match=r"phases\[1\] \('meltdown'\): error_share must be between 0 and 1"):
        Scenario(phases=(Phase(at_s=1, name="ok"), Phase(at_s=5, name="meltdown", error_share=1.5)))
    with pytest.raises(ValueError, match=r"cannot restart \['database'\]"):
        Scenario(phases=(Phase(at_s=1, name="x", restart=("database",)),))


def test_an_unknown_path_is_404(fleet: Fleet) -> None:
    api, _ = fleet

    response = httpx.get(f"http://127.0.0.1:{api.port}/other")

    assert response.status_code == 404


def test_driver_advances_the_fleet_from_its_thread_by_the_given_clock() -> None:
    api, pipe = InferenceTally(), PipelineTally()
    sim = FleetSimulator(api, pipe, start_s=T0, seed=4)
    calls = 0
    third_tick = threading.Event()

    def clock() -> float:
        nonlocal calls
        calls += 1
        if calls >= 3:
            third_tick.set()
        return T0 + 2.0 * calls

    driver = FleetDriver(sim, clock=clock, interval_s=0.001)
    driver.start()
    try:
        assert third_tick.wait(timeout=10)
    finally:
        driver.shutdown()

    assert sim.now_s == T0 + 2.0 * calls
    assert api.snapshot().requests_total > 0


def test_demo_fleet_takes_a_free_port_when_the_default_is_taken_and_runs_from_the_clock() -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    busy_port = taken.getsockname()[1]
    calls = 0
    ticked = threading.Event()

    def clock() -> float:
        nonlocal calls
        calls += 1
        if calls >= 4:
            ticked.set()
        return T0 + calls

    initial = InferenceCounts(
        requests_by_code={"200": 10, "500": 0}, bucket_counts=(10,) * 11,
        inferences_by_model={"llama-3-8b": 7, "mistral-7b": 3},
    )
    try:
        demo = start_demo_fleet(seed=1, clock=clock, initial_inference=initial, inference_port=busy_port,
                                pipeline_port=0, dcgm_port=0, tick_interval_s=0.001)
        try:
            assert ticked.wait(timeout=10)
            api_port, api_url = demo.api.port, demo.api.url
            values = scrape(api_url)
            pipe = scrape(demo.pipeline.url)
        finally:
            demo.shutdown()
    finally:
        taken.close()

    assert api_port != busy_port
    assert requests(values, "200") > 10  # continued from the initial counts
    assert _key("pipeline_last_success_timestamp_seconds", pipeline="features") in pipe
    with pytest.raises(httpx.ConnectError):
        httpx.get(api_url, timeout=5)
