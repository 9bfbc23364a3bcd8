"""Loading a Redline config: typed values, and errors naming the file, the line, the path inside
it and what was expected. The agent and the dashboard both load through ``redline.config``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from redline.config import load_config
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


def test_a_home_relative_data_dir_is_expanded(tmp_path: Path) -> None:
    """The agent and the dashboard both read ``LoadedConfig.data_dir``: one folder for every reader."""
    path = write(tmp_path, GOOD.replace("data_dir: ./data", "data_dir: ~/redline-data"))
    assert load_config(path).data_dir == Path("~/redline-data").expanduser()


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


def test_a_promql_source_with_nothing_to_run_is_allowed_with_a_warning(tmp_path: Path) -> None:
    text = QUERY_SLI.split("slos:")[0]
    loaded = load_config(write(tmp_path, text))
    assert [s.name for s in loaded.config.sources] == ["prom", "api"]
    assert loaded.notes == (
        f"{tmp_path / 'redline.yaml'}:2: sources[0].queries: warning: source prom has no queries, and no "
        "objective's query SLI runs on it, so it collects nothing: give it queries to record, or name it as "
        "a spec file's backend",
    )


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


# What the dashboard's own loader (gone) checked, now asserted of the one loader.

MINIMAL = """\
agent: {data_dir: ./state}
slos:
  - name: a
    objective: 99.9
    window: 7d
    sli: {ratio: {errors: 'req_total{code=~"5.."}', total: req_total}}
"""


def test_data_dir_resolves_against_the_config_folder(tmp_path: Path) -> None:
    path = tmp_path / "conf" / "redline.yaml"
    path.parent.mkdir()
    path.write_text(MINIMAL)
    loaded = load_config(path)
    assert loaded.data_dir == tmp_path / "conf" / "state"
    assert [s.name for s in loaded.config.slos] == ["a"]
    assert loaded.config.slos[0].window == 7 * 86400.0


def test_data_dir_defaults_to_redline_data_beside_the_config(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text("slos: []\n")
    assert load_config(path).data_dir == tmp_path / "redline-data"


def test_a_bad_objective_names_the_file_its_line_and_the_path_inside_it(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(MINIMAL + "  - name: b\n    objective: 100\n    sli: {ratio: {good: g, total: t}}\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(f"{path}:8: slos[1].objective: ")
    assert "less than 100" in message


def test_a_bad_selector_names_its_nested_path(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("slos:\n  - name: a\n    objective: 99\n    sli: {ratio: {errors: 'x{', total: t}}\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml:4: slos\[0\]\.sli\.ratio\.errors: .*unterminated selector"):
        load_config(path)


def test_invalid_yaml_names_the_line_on_one_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("slos:\n  - name: a\n   objective: [\n")
    expected = r"bad\.yaml: not valid YAML at line 3, column 4: expected <block end>"
    with pytest.raises(ConfigError, match=expected) as info:
        load_config(path)
    assert "\n" not in str(info.value)


def test_a_missing_file_and_a_duplicate_name_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.yaml: cannot read config: No such file"):
        load_config(tmp_path / "nope.yaml")
    path = tmp_path / "dup.yaml"
    path.write_text(MINIMAL + "  - name: a\n    objective: 99\n    sli: {ratio: {good: g, total: t}}\n")
    expected = r"dup\.yaml:1: \(top level\): slos and guardrails: the name 'a' is used twice"
    with pytest.raises(ConfigError, match=expected):
        load_config(path)


def test_a_non_mapping_agent_section_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("agent: [1]\nslos: []\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml:1: agent: Input should be a valid dictionary"):
        load_config(path)
