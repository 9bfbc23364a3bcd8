from __future__ import annotations

import shutil
import subprocess
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import httpx
import polars as pl
import pytest
import yaml
from prometheus_client.openmetrics.parser import text_string_to_metric_families
from prometheus_client.parser import text_string_to_metric_families as text_string_to_text_families

from redline.demo.fleet import InferenceAPI
from redline.demo.history import DEFAULT_SOURCE_LABELS, HistoryStats, make_history, write_history
from redline.kernel.fields import SAMPLE_SCHEMA
from redline.kernel.labels import parse_labels

END_S = 1_700_000_100.0
HOURS_12 = 12 * 3600.0
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

SeriesKey = tuple[str, frozenset[tuple[str, str]]]
Parsed = dict[SeriesKey, list[tuple[float, float]]]


@dataclass(frozen=True)
class History:
    """The module's history file: what ``write_history`` returned, its text, and the text parsed
    (once: prometheus-client's parser takes seconds over 12 hours of samples)."""

    stats: HistoryStats
    text: str
    series: Parsed


def _families(text: str) -> list[str]:
    """The file cut into one document per family (each ending with ``# EOF``)."""
    body = text.removesuffix("# EOF\n")
    chunks = ["# HELP" + c for c in body.split("# HELP") if c]
    return [c + "# EOF\n" for c in chunks]


def parse(text: str) -> Parsed:
    """Every (timestamp, value) per series, read by prometheus-client's OpenMetrics parser.

    prometheus-client 0.26 drops samples of a histogram that has more than one timestamp per
    label set (its duplicate check is not reset when the timestamp changes), so a histogram
    family is fed to it one metric point at a time; every other family is parsed whole.
    """
    series: dict[SeriesKey, list[tuple[float, float]]] = defaultdict(list)
    for doc in _families(text):
        head, _, rest = doc.partition("\n")
        typeline, _, samples = rest.partition("\n")
        if typeline.endswith(" histogram"):
            lines = samples.removesuffix("# EOF\n").splitlines()
            per_point = [lines[i : i + 13] for i in range(0, len(lines), 13)]  # 11 buckets, count, sum
            docs = [f"{head}\n{typeline}\n" + "\n".join(p) + "\n# EOF\n" for p in per_point]
        else:
            docs = [doc]
        for d in docs:
            for family in text_string_to_metric_families(d):  # type: ignore[no-untyped-call]
                for s in family.samples:
                    assert s.timestamp is not None, f"sample without a timestamp: {s}"
                    series[(s.name, frozenset(s.labels.items()))].append((float(s.timestamp), s.value))
    return series


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> History:
    path = tmp_path_factory.mktemp("history") / "history.om"
    stats = write_history(path, end_s=END_S, duration_s=HOURS_12, seed=5)
    text = path.read_text(encoding="utf-8")
    return History(stats, text, parse(text))


def _api(name: str, **labels: str) -> SeriesKey:
    return name, frozenset({"service": "inference-api", "source": "inference-api", **labels}.items())


def _pipe(name: str) -> SeriesKey:
    return name, frozenset({"pipeline": "features", "source": "batch-pipeline"}.items())


def test_history_file_is_valid_openmetrics_that_promtool_accepts(
    history: History, tmp_path: Path
) -> None:
    stats, text, series = history.stats, history.text, history.series

    assert text.endswith("\n# EOF\n")
    assert text.count("# EOF") == 1
    assert len(series) == stats.series == 21  # 19 of the API and pipeline, one per GPU
    assert sum(len(points) for points in series.values()) == stats.samples == 21 * 721
    # the real check of the format: promtool builds TSDB blocks from it
    promtool = shutil.which("promtool") or shutil.which("/usr/bin/promtool")
    if promtool is not None:  # installed here and in CI (Debian's prometheus 2.42)
        blocks = tmp_path / "blocks"
        done = subprocess.run(
            [promtool, "tsdb", "create-blocks-from", "openmetrics", str(stats.path), str(blocks)],
            capture_output=True, text=True, timeout=120, check=False,
        )
        assert done.returncode == 0, done.stderr
        assert any(blocks.iterdir())


def test_every_series_has_one_sample_per_step_with_increasing_timestamps(
    history: History,
) -> None:
    stats, series = history.stats, history.series
    grid = [END_S - HOURS_12 + 60 * k for k in range(721)]

    assert stats.start_s == END_S - HOURS_12
    assert stats.end_s == END_S
    for key, points in series.items():
        assert [t for t, _ in points] == grid, key


def test_counters_never_drop_so_the_history_has_no_spurious_reset(history: History) -> None:
    series = history.series

    for (name, labels), points in series.items():
        if name.endswith(("_total", "_bucket", "_count", "_sum")):
            values = [v for _, v in points]
            assert values == sorted(values), (name, labels)
            assert values[0] == 0, (name, labels)


def test_final_values_in_the_file_equal_the_returned_ones(history: History) -> None:
    stats = history.stats

    last = {key: points[-1][1] for key, points in history.series.items()}

    inf = stats.inference
    assert last[_api("http_requests_total", code="200")] == inf.requests_by_code["200"]
    assert last[_api("http_requests_total", code="500")] == inf.requests_by_code["500"]
    bounds = ("0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1.0", "2.5", "5.0", "10.0", "+Inf")
    buckets = tuple(last[_api("http_request_duration_seconds_bucket", le=le)] for le in bounds)
    assert buckets == inf.bucket_counts
    assert last[_api("http_request_duration_seconds_count")] == inf.requests_total
    assert last[_api("http_request_duration_seconds_sum")] == inf.duration_sum_s
    assert last[_api("inferences_total", model="llama-3-8b")] == inf.inferences_by_model["llama-3-8b"]
    assert last[_api("inferences_total", model="mistral-7b")] == inf.inferences_by_model["mistral-7b"]
    assert last[_pipe("pipeline_last_success_timestamp_seconds")] == stats.pipeline.last_success_s
    assert last[_pipe("pipeline_rows_processed_total")] == stats.pipeline.rows_processed
    # 12 h at ~50 req/s; the last scheduled run before the end succeeded (END_S is on the 5 min grid)
    assert 0.9 * 50 * HOURS_12 <= inf.requests_total <= 1.1 * 50 * HOURS_12
    assert stats.pipeline.last_success_s == END_S


def test_past_incidents_spent_some_error_budget(history: History) -> None:
    stats, series = history.stats, history.series
    errors = dict(series[_api("http_requests_total", code="500")])
    ok = dict(series[_api("http_requests_total", code="200")])
    incident = next(p for p in stats.phases if p.error_share is not None)
    t0 = stats.start_s + incident.at_s
    t0 -= t0 % 60
    t1 = t0 + 1800  # the incident lasts 20 min (5% of 12 h = 36 min caps it)

    def ratio(a: float, b: float) -> float:
        e = errors[b] - errors[a]
        return e / (e + ok[b] - ok[a])

    # 1% errors in 20 of the incident's 30 min (+ 0.05% in the other 10), 0.05% in the last hour
    assert ratio(t0, t1) == pytest.approx((0.01 * 20 + 0.0005 * 10) / 30, rel=0.1)
    assert ratio(END_S - 3600, END_S) == pytest.approx(0.0005, rel=0.5)
    last_success = dict(series[_pipe("pipeline_last_success_timestamp_seconds")])
    ages = [t - v for t, v in last_success.items()]
    assert max(ages) > 600  # the past pipeline outage breached the 10 min freshness objective


def test_live_fleet_started_from_the_history_continues_its_counters(history: History) -> None:
    stats = history.stats
    api = InferenceAPI(initial=stats.inference)
    api.start()
    try:
        body = httpx.get(api.url, timeout=5).text
    finally:
        api.shutdown()

    live = {
        (s.name, frozenset({**s.labels, "source": "inference-api"}.items())): s.value
        for family in text_string_to_text_families(body)
        for s in family.samples
    }
    # the same series as the history's last point (once the agent adds source=), same values
    last = {k: points[-1][1] for k, points in history.series.items() if dict(k[1])["source"] == "inference-api"}
    assert live == last


def test_history_labels_match_the_demo_config_sources() -> None:
    config = yaml.safe_load((EXAMPLES / "demo.yaml").read_text(encoding="utf-8"))

    # the scraped sources; the demo's GPU rate card has a spend history of its own (agent/demo.py)
    sources = {s["name"]: s.get("labels", {}) for s in config["sources"] if s["kind"] in ("prometheus_scrape", "dcgm")}

    assert set(sources) == set(DEFAULT_SOURCE_LABELS)
    for name, extra in sources.items():
        assert dict(DEFAULT_SOURCE_LABELS[name]) == {"source": name, **extra}


def test_the_demo_config_validates_and_scrapes_the_sources_the_history_labels() -> None:
    from redline.config import load_config

    loaded = load_config(EXAMPLES / "demo.yaml")

    sources = {s.name: s for s in loaded.config.sources if s.kind in ("prometheus_scrape", "dcgm")}
    assert set(sources) == set(DEFAULT_SOURCE_LABELS)
    assert sources["inference-api"].url == "http://127.0.0.1:8001/metrics"
    assert sources["batch-pipeline"].url == "http://127.0.0.1:8002/metrics"
    assert sources["gpu-dcgm"].url == "http://127.0.0.1:9400/metrics"
    assert [(s.name, s.effective_dimension) for s in loaded.config.slos] == [
        ("api-availability", "users"), ("api-latency", "users"), ("features-freshness", "data"),
        ("inference-gpu-band", "model"), ("llm-time-to-first-token", "users"),
    ]
    assert loaded.config.agent.evaluate_interval == 5


def test_the_frame_the_demo_stores_holds_exactly_what_the_file_says(history: History) -> None:
    made = make_history(end_s=END_S, duration_s=HOURS_12, seed=5)

    frame = made.frame()

    assert frame.schema == SAMPLE_SCHEMA
    stored = _frame_series(frame)
    assert stored == history.series
    assert (made.samples, made.series) == (history.stats.samples, history.stats.series)
    assert (made.inference, made.pipeline) == (history.stats.inference, history.stats.pipeline)


def _frame_series(frame: pl.DataFrame) -> Parsed:
    """Every (timestamp in seconds, value) per series of a sample frame, as ``parse`` gives them."""
    series: Parsed = defaultdict(list)
    for metric, labels, ts, value in frame.iter_rows():
        series[(metric, frozenset(parse_labels(labels).items()))].append((ts / 1000, value))
    return series


def test_same_seed_writes_the_same_file(tmp_path: Path) -> None:
    a = write_history(tmp_path / "a.om", end_s=END_S, duration_s=3600, seed=9)
    b = write_history(tmp_path / "b.om", end_s=END_S, duration_s=3600, seed=9)

    assert a.path.read_bytes() == b.path.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.om", "b.om"]  # no temporary file left


def test_extra_source_labels_are_written_on_every_series(tmp_path: Path) -> None:
    labels = {
        "inference-api": {"source": "inference-api", "env": "demo"},
        "batch-pipeline": {"source": "batch-pipeline", "env": "demo"},
        "gpu-dcgm": {"source": "gpu-dcgm", "env": "demo"},
    }
    stats = write_history(tmp_path / "h.om", end_s=END_S, duration_s=600, seed=1, source_labels=labels)

    series = parse(stats.path.read_text(encoding="utf-8"))

    assert all(dict(labels)["env"] == "demo" for _, labels in series)


def test_bad_arguments_are_rejected_with_the_reason(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="need duration_s > 0"):
        write_history(tmp_path / "h.om", end_s=END_S, duration_s=0, seed=1)
    with pytest.raises(ValueError, match="no entry for source 'batch-pipeline'"):
        write_history(tmp_path / "h.om", end_s=END_S, duration_s=600, seed=1,
                      source_labels={"inference-api": {"source": "inference-api"}})
    assert not any(tmp_path.iterdir())
