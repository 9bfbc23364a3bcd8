from __future__ import annotations

import re
from pathlib import Path

import pytest

from redline.agent.config import load_config
from redline.kernel.errors import ConfigError

GOOD = """\
agent:
  data_dir: ./data
  evaluate_interval: 10s
sources:
  - name: inference-api
    kind: prometheus_scrape
    url: http://127.0.0.1:8001/metrics
    interval: 15s
slos:
  - name: api-availability
    objective: 99.9
    window: 30d
    sli:
      ratio:
        errors: http_requests_total{service="inference-api",code=~"5.."}
        total: http_requests_total{service="inference-api"}
  - name: api-latency
    objective: 99
    sli:
      latency:
        histogram: http_request_duration_seconds{service="inference-api"}
        threshold: 250ms
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "redline.yaml"
    path.write_text(text)
    return path


def test_a_good_config_loads_into_typed_values(tmp_path: Path) -> None:
    loaded = load_config(write(tmp_path, GOOD))
    cfg = loaded.config
    assert loaded.data_dir == (tmp_path / "data").resolve()
    assert cfg.agent.evaluate_interval == 10.0
    assert cfg.sources[0].interval == 15.0
    avail, latency = cfg.slos
    assert avail.target == pytest.approx(0.999)
    assert avail.window == 30 * 86400
    assert avail.kind == "availability" and avail.effective_dimension == "users"
    assert str(avail.sli.ratio.errors) == 'http_requests_total{service="inference-api",code=~"5.."}'  # type: ignore[union-attr]
    assert latency.sli.latency.threshold == 0.25  # type: ignore[union-attr]
    assert latency.window == 30 * 86400


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "    interval: 15s\n",
            "    interval: 15s\n    colour: red\n",
            r"redline.yaml:9: sources\[0\].colour: unknown key",
        ),
        ("window: 30d", "window: 30 days", r"redline.yaml:12: slos\[0\].window: '30 days' is not a duration"),
        (
            'errors: http_requests_total{service="inference-api",code=~"5.."}',
            'errors: http_requests_total{service="inference-api",code=~"5.."',
            r"slos\[0\].sli.ratio.errors: unterminated",
        ),
        ("objective: 99.9", "objective: 100", r"slos\[0\].objective: Input should be less than 100"),
        ("objective: 99\n", "objective: 0\n", r"slos\[1\].objective: Input should be greater than 0"),
        ("kind: prometheus_scrape", "kind: prometheus_scrap", r"sources\[0\]: unknown kind 'prometheus_scrap'"),
        ("threshold: 250ms", "threshold: fast", r"slos\[1\].sli.latency.threshold: 'fast' is not a duration"),
    ],
)
def test_a_bad_config_names_file_line_path_and_expectation(
    tmp_path: Path, old: str, new: str, expected: str
) -> None:
    assert old in GOOD
    with pytest.raises(ConfigError, match=expected):
        load_config(write(tmp_path, GOOD.replace(old, new, 1)))


def test_duplicate_objective_names_are_rejected(tmp_path: Path) -> None:
    text = GOOD.replace("name: api-latency", "name: api-availability")
    with pytest.raises(ConfigError, match="'api-availability' is used twice"):
        load_config(write(tmp_path, text))


def test_retention_shorter_than_a_window_is_rejected(tmp_path: Path) -> None:
    text = GOOD.replace("  evaluate_interval: 10s\n", "  evaluate_interval: 10s\n  retention: 7d\n")
    with pytest.raises(ConfigError, match=r"agent.retention .* shorter than the longest objective window"):
        load_config(write(tmp_path, text))


def test_invalid_yaml_and_missing_file_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(write(tmp_path, "slos: [\n"))
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config(tmp_path / "absent.yaml")


def test_an_unset_scrape_timeout_follows_prometheus_default(tmp_path: Path) -> None:
    text = GOOD.replace("interval: 15s", "interval: 5s")
    source = load_config(write(tmp_path, text)).config.sources[0]
    assert source.timeout is None and source.timeout_s == 5.0  # min(10s, interval)
    explicit = load_config(write(tmp_path, GOOD.replace("interval: 15s", "interval: 15s\n    timeout: 3s")))
    assert explicit.config.sources[0].timeout_s == 3.0
    with pytest.raises(ConfigError, match=r"sources\[0\]: timeout \(20s\) must not exceed interval \(15s\)"):
        load_config(write(tmp_path, GOOD.replace("interval: 15s", "interval: 15s\n    timeout: 20s")))


def test_guardrails_load_and_a_quarter_budget_needs_a_quarter_of_retention(tmp_path: Path) -> None:
    guardrails = """guardrails:
  - name: ml-monthly
    budget: {spend: 'redline_spend_usd_total{team="ml"}', limit: 50000}
  - name: inference-unit-cost
    window: 7d
    cost_per_1k: {spend: redline_spend_usd_total, inferences: 'vllm:request_success_total', max: 0.4}
"""
    cfg = load_config(write(tmp_path, GOOD + guardrails)).config
    kinds = [(g.name, g.kind) for g in cfg.guardrails]
    assert kinds == [("ml-monthly", "budget"), ("inference-unit-cost", "cost_per_1k")]
    assert cfg.longest_window_s == 31 * 86400  # a month can be 31 days
    quarter = guardrails.replace("limit: 50000", "limit: 50000, period: quarter")
    with pytest.raises(ConfigError, match=r"agent.retention \(35d\) is shorter .* budget period \(92d\)"):
        load_config(write(tmp_path, GOOD + quarter))
    clash = guardrails.replace("name: ml-monthly", "name: api-latency")
    with pytest.raises(ConfigError, match="slos and guardrails: the name 'api-latency' is used twice"):
        load_config(write(tmp_path, GOOD + clash))


def test_a_home_relative_data_dir_is_the_same_folder_for_every_reader(tmp_path: Path) -> None:
    from redline.dashboard.data import load_config as dashboard_config

    path = write(tmp_path, GOOD.replace("data_dir: ./data", "data_dir: ~/redline-data"))
    expected = Path("~/redline-data").expanduser()
    assert load_config(path).data_dir == expected
    assert dashboard_config(path).data_dir == expected


def test_a_webhook_notifier_takes_its_timeout_and_retries_from_the_config(tmp_path: Path) -> None:
    import httpx

    from redline.agent.runtime import build_notifiers

    text = GOOD + "alerting:\n  notifiers: [{name: oncall, kind: webhook, url_env: HOOK, timeout: 3s, retries: 1}]\n"
    loaded = load_config(write(tmp_path, text))
    with httpx.Client() as client:
        (notifier,) = build_notifiers(loaded, {"HOOK": "http://127.0.0.1:9/hook"}, client)
    policy = notifier._policy  # type: ignore[attr-defined]
    assert (policy.timeout_s, policy.retries) == (3.0, 1)


QUERY_SLI = """\
sources:
  - {name: prom, kind: promql, url: "http://127.0.0.1:9090", interval: 30s}
  - {name: api, kind: prometheus_scrape, url: "http://127.0.0.1:8001/metrics"}
slos:
  - name: api-availability
    objective: 99.9
    sli:
      query:
        source: prom
        errors: sum(rate(http_requests_total{code=~"5.."}[{{.window}}]))
        total: sum(rate(http_requests_total[{{.window}}]))
"""


def test_a_query_sli_runs_on_a_promql_source_that_may_have_no_queries_of_its_own(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, QUERY_SLI)).config
    (spec,) = cfg.slos
    assert spec.sli.query is not None and spec.sli.query.source == "prom"
    assert cfg.sources[0].queries == []  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("source: prom", "source: thanos", r"sli.query.source: 'thanos' is no source of that name; .*promql "
         r"sources: prom\)"),
        ("source: prom", "source: api", r"redline.yaml:9: slos\[0\].sli.query.source: 'api' is a "
         r"'prometheus_scrape' source; objective 'api-availability' runs on a promql source"),
        ("interval: 30s}", "interval: 30s, labels: {window: x}}", r"redline.yaml:2: sources\[0\].labels: window: "
         r"source 'prom' answers query SLIs, whose recorded answers carry these labels"),
        ("        source: prom\n", "        source: prom\n        staleness: 50s\n", r"redline.yaml:10: slos\[0\].sli"
         r".query.staleness: 50s is shorter than twice the interval of source 'prom' \(30s\).*at least 1m"),
        ("        source: prom\n", "        source: api\n        staleness: 1m\n", r"'api' is a 'prometheus_scrape'"),
        ("  - name: api-availability", "  - name: other\n    objective: 99\n    sli: {ratio: {errors: a, total: b}}\n"
         "  - name: api-availability\n    group_by: [model]", r"group_by cannot expand a query SLI"),
    ],
)
def test_a_query_sli_without_a_fitting_backend_is_refused_naming_it(
    tmp_path: Path, old: str, new: str, expected: str
) -> None:
    assert old in QUERY_SLI
    with pytest.raises(ConfigError, match=expected):
        load_config(write(tmp_path, QUERY_SLI.replace(old, new, 1)))


def test_a_promql_source_with_nothing_to_run_is_refused(tmp_path: Path) -> None:
    text = QUERY_SLI.split("slos:")[0]
    expected = r"redline.yaml:2: sources\[0\].queries: source 'prom' has no queries, and no objective's query SLI"
    with pytest.raises(ConfigError, match=expected):
        load_config(write(tmp_path, text))


def test_a_spec_file_with_a_backend_becomes_query_slis(tmp_path: Path) -> None:
    (tmp_path / "sloth.yaml").write_text(
        (Path(__file__).resolve().parents[2] / "examples" / "sloth.yaml").read_text()
    )
    text = QUERY_SLI.split("slos:")[0] + "slo_files:\n  - {path: sloth.yaml, format: sloth, backend: prom}\n"
    slos = load_config(write(tmp_path, text)).config.slos
    assert [s.sli.query.source for s in slos if s.sli.query is not None] == ["prom", "prom"]
    bad = text.replace("backend: prom", "backend: api")
    with pytest.raises(ConfigError) as failed:
        load_config(write(tmp_path, bad))
    # One line, at the file's backend (not at an objective the main file does not hold), and no
    # second complaint that source prom is idle: the misnamed backend is why.
    (line,) = str(failed.value).splitlines()
    assert re.search(r"redline.yaml:5: slo_files\[0\].backend: 'api' is a 'prometheus_scrape' source; "
                     r"objective 'myservice-requests-availability' runs on a promql source", line), line


def test_an_unset_staleness_follows_a_slow_source(tmp_path: Path) -> None:
    (spec,) = load_config(write(tmp_path, QUERY_SLI.replace("interval: 30s}", "interval: 10m}"))).config.slos
    assert spec.sli.query is not None and spec.sli.query.staleness is None  # twice the collection interval
