"""Peer spec files named from a config: folders and globs, format detection, every problem at its
file and line with the value as written, and what `redline check` says it understood."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from redline.agent.cli import main
from redline.config import load_config
from redline.kernel.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
PEER = ROOT / "tests" / "fixtures" / "peer-specs"


def _config(tmp_path: Path, slo_files: str) -> Path:
    cfg = tmp_path / "redline.yaml"
    cfg.write_text(
        f"agent: {{data_dir: {tmp_path / 'data'}}}\n"
        "sources:\n  - {name: prom, kind: promql, url: 'http://127.0.0.1:9090'}\n"
        f"slo_files:\n{slo_files}"
    )
    return cfg


def _slos_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "slos" / "team-a"
    folder.mkdir(parents=True)
    shutil.copy(PEER / "sloth/examples/k8s-multifile.yml", folder / "sloth-crds.yml")
    shutil.copy(ROOT / "examples/openslo.yaml", tmp_path / "slos" / "openslo.yaml")
    (tmp_path / "slos" / "README.txt").write_text("not a spec")
    return tmp_path / "slos"


def test_a_folder_gives_every_yaml_file_under_it_each_detected_by_its_format(tmp_path: Path) -> None:
    _slos_folder(tmp_path)
    loaded = load_config(_config(tmp_path, "  - {path: slos, backend: prom}\n"))
    assert [s.name for s in loaded.config.slos] == [
        "myservice-requests-availability", "myservice2-requests-availability",  # OpenSLO's come last: they
        "checkout-availability", "checkout-latency-fast", "checkout-latency-very-fast",  # are read together
        "orders-table-freshness",
    ]
    assert all(s.sli.query is not None and s.sli.query.source == "prom" for s in loaded.config.slos)
    assert [(f.path.removeprefix(str(tmp_path)), f.formats) for f in loaded.spec_files] == [
        ("/slos/openslo.yaml", ("openslo",)), ("/slos/team-a/sloth-crds.yml", ("sloth",)),
    ]


def test_a_glob_and_a_plain_path_entry(tmp_path: Path) -> None:
    _slos_folder(tmp_path)
    loaded = load_config(_config(tmp_path, "  - 'slos/*/*.yml'\n"))
    assert [s.name for s in loaded.config.slos] == [
        "myservice-requests-availability", "myservice2-requests-availability",
    ]
    assert all(s.sli.ratio is not None for s in loaded.config.slos)  # no backend: translated to native
    with pytest.raises(ConfigError) as err:
        load_config(_config(tmp_path, "  - 'slos/*.json'\n"))
    assert str(err.value) == (
        f"{tmp_path / 'redline.yaml'}:5: slo_files[0].path: slos/*.json: matches no file under {tmp_path}"
    )


def test_every_problem_of_every_file_is_listed_at_its_line_with_the_value_as_written(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(
        'version: "prometheus/v1"\n'
        "service: svc\n"
        "slos:\n"
        "  - name: one\n"
        "    objective: 2024-01-01\n"
        "    sli:\n"
        "      events:\n"
        "        error_query: sum(rate(errors_total[{{.window}}]))\n"
        "        total_query: sum(rate(requests_total[5m]))\n"
        "    alerting:\n"
        "      page_alert: {disable: nope}\n"
    )
    (tmp_path / "b.yaml").write_text(
        "apiVersion: openslo/v1\nkind: SLO\nmetadata: {name: b}\nspec:\n"
        "  indicatorRef: missing\n  budgetingMethod: Occurrences\n  objectives: [{target: 0.99}]\n"
    )
    with pytest.raises(ConfigError) as err:
        load_config(_config(tmp_path, "  - a.yaml\n  - b.yaml\n"))
    assert str(err.value).splitlines() == [
        f"{tmp_path / 'a.yaml'}:5: slos[0].objective = 2024-01-01: expected a percentage above 0 and below 100 "
        "(99.9 for 99.9%)",
        f"{tmp_path / 'a.yaml'}:9: slos[0].sli.events.total_query = sum(rate(requests_total[5m])): the query has no "
        "{{.window}} placeholder: Sloth puts each alert window there, as in rate(x[{{.window}}])",
        f"{tmp_path / 'a.yaml'}:11: slos[0].alerting.page_alert.disable = nope: expected true or false",
        f"{tmp_path / 'b.yaml'}:5: spec.indicatorRef = missing: no SLI of that name in the files given",
    ]


def test_a_document_of_no_known_format_or_of_another_format_than_given_is_named(tmp_path: Path) -> None:
    (tmp_path / "x.yaml").write_text("apiVersion: v1\nkind: ConfigMap\n---\nversion: prometheus/v1\n")
    with pytest.raises(ConfigError) as err:
        load_config(_config(tmp_path, "  - {path: x.yaml, format: openslo}\n"))
    lines = str(err.value).splitlines()
    assert lines[0].startswith(f"{tmp_path / 'x.yaml'}:1: apiVersion: not a spec Redline reads: expected a Sloth")
    assert lines[1] == (f"{tmp_path / 'x.yaml'}:4: version: this is a sloth document; the slo_files entry says "
                        "format openslo (leave format out to detect it)")


def test_an_openslo_slo_resolves_an_sli_in_another_file(tmp_path: Path) -> None:
    text = (ROOT / "examples/openslo.yaml").read_text().split("\n---\n")
    (tmp_path / "objects.yaml").write_text("\n---\n".join(t for t in text if "kind: SLO\n" not in t))
    (tmp_path / "slos.yaml").write_text("\n---\n".join(t for t in text if "kind: SLO\n" in t))
    loaded = load_config(_config(tmp_path, "  - objects.yaml\n  - slos.yaml\n"))
    assert [s.name for s in loaded.config.slos][:2] == ["checkout-availability", "checkout-latency-fast"]
    with pytest.raises(ConfigError, match=r"slos.yaml:\d+: spec.indicatorRef = checkout-good-requests: no SLI"):
        load_config(_config(tmp_path, "  - slos.yaml\n"))


def test_check_prints_what_it_understood_from_each_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copy(ROOT / "examples/sloth.yaml", tmp_path / "sloth.yaml")
    shutil.copy(PEER / "sloth/examples/contrib-slo-plugins.yml", tmp_path / "plugins.yml")
    cfg = _config(tmp_path, "  - sloth.yaml\n  - {path: plugins.yml, backend: prom}\n")
    assert main(["check", "--config", str(cfg)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[:3] == [
        f"{tmp_path / 'sloth.yaml'} (sloth): 2 objectives",
        "  myservice-requests-availability: availability, 99.9% over 30d rolling; alerts as MyServiceHighErrorRate: "
        "page on, ticket on",
        "  myservice-requests-latency: latency, 99% over 30d rolling; alerts: page off, ticket on",
    ]
    assert out[4] == (
        "  myservice-requests-availability-contrib-plugin-info-labels-v1: availability (query on prom), 99.9% over "
        "30d rolling; alerts as MyServiceHighErrorRate: page on, ticket on"
    )
    assert out[6] == (
        f"  note: {tmp_path / 'plugins.yml'}:14: slos[0].plugins.chain[0].id: "
        "myservice-requests-availability-contrib-plugin-info-labels-v1: SLO plugin sloth.dev/contrib/info_labels/v1 "
        "not applied: Redline writes no sloth_slo_info series to add labels to"
    )
    assert out[-1].endswith("ok — 1 sources, 4 objectives, 0 guardrails, 0 notifiers")


def test_check_exits_2_listing_every_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copy(PEER / "sloth/examples/plugin-getting-started.yml", tmp_path / "p.yml")
    shutil.copy(PEER / "openslo/examples/budgeting-method-ratio-timeslices.yaml", tmp_path / "o.yaml")
    assert main(["check", "--config", str(_config(tmp_path, "  - p.yml\n  - o.yaml\n"))]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith(f"redline: error: {tmp_path / 'p.yml'}:14: slos[0].sli.plugin.id = "
                             '"getting_started_availability": SLI plugin getting_started_availability')
    assert err[1] == (f"{tmp_path / 'o.yaml'}:18: spec.indicator.spec.ratioMetric.good.metricSource.type = Any: "
                      "Redline reads Prometheus queries only")


def test_a_metricsql_query_runs_on_its_backend_and_rules_leave_it_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copy(PEER / "sloth/examples/victoria-metrics.yml", tmp_path / "vm.yml")
    cfg = _config(tmp_path, "  - {path: vm.yml, backend: prom}\n")
    loaded = load_config(cfg)
    assert len(loaded.config.slos) == 2
    assert (
        f"{tmp_path / 'vm.yml'}:17: slos[0].name: foo-bar-grpc-latency-percentile-90: its errors query is not PromQL "
        "(unknown function with name 'histogram_share' at column 5): it runs as written on backend prom; "
        "`redline rules` leaves this objective out"
    ) in loaded.notes
    assert main(["rules", "--config", str(cfg)]) == 0
    out = capsys.readouterr().out
    assert "# skipped foo-bar-grpc-latency-percentile-90: its errors query is not PromQL (unknown function with " \
           "name 'histogram_share' at column 5), so Prometheus could not load its rules" in out
    assert "groups: []" in out


@pytest.mark.parametrize("fmt", ["openslo", "sloth", "pyrra"])
def test_export_writes_specs_that_slo_files_read_back(tmp_path: Path, fmt: str) -> None:
    shutil.copy(ROOT / "examples/sloth.yaml", tmp_path / "sloth.yaml")
    cfg = _config(tmp_path, "  - sloth.yaml\n")
    out = tmp_path / "out" / f"exported.{fmt}.yaml"
    out.parent.mkdir()
    assert main(["export", "--config", str(cfg), "--format", fmt, "-o", str(out)]) == 0
    again = load_config(_config(tmp_path, f"  - out/exported.{fmt}.yaml\n"))
    before = {s.name: (s.objective, s.window, s.sli) for s in load_config(cfg).config.slos}
    assert {s.name: (s.objective, s.window, s.sli) for s in again.config.slos} == before
    assert again.spec_files[0].formats == (fmt,)


def test_the_configs_own_problems_are_listed_beside_the_spec_files(tmp_path: Path) -> None:
    shutil.copy(PEER / "sloth/examples/plugin-getting-started.yml", tmp_path / "p.yml")
    cfg = _config(tmp_path, "  - p.yml\n")
    cfg.write_text(cfg.read_text().replace("agent: {", "agent: {evaluate_interval: often, "))
    with pytest.raises(ConfigError) as err:
        load_config(cfg)
    lines = str(err.value).splitlines()
    assert lines[0].startswith(f"{tmp_path / 'p.yml'}:14: slos[0].sli.plugin.id = ")
    assert lines[1].startswith(f"{cfg}:1: agent.evaluate_interval: ")
    assert len(lines) == 2


def test_a_folder_of_manifests_skips_what_is_not_a_spec_with_a_note(tmp_path: Path) -> None:
    folder = _slos_folder(tmp_path)
    (folder / "deployment.yaml").write_text("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: pyrra}\n")
    loaded = load_config(_config(tmp_path, "  - {path: slos, backend: prom}\n"))
    assert len(loaded.config.slos) == 6
    assert f"{folder / 'deployment.yaml'}:1: apiVersion: skipped: not a spec Redline reads (found in a folder or " \
           "by a glob)" in loaded.notes
    with pytest.raises(ConfigError, match=r"deployment.yaml:1: apiVersion: not a spec Redline reads"):
        load_config(_config(tmp_path, "  - slos/deployment.yaml\n"))


def test_check_describes_calendar_windows_and_custom_tiers(tmp_path: Path) -> None:
    from redline.config.spec_report import describe_objective

    text = (ROOT / "examples/openslo.yaml").read_text().replace(
        "    - duration: 28d\n      isRolling: true\n  objectives:\n    - displayName: availability",
        "    - duration: 1w\n      calendar: {startTime: 2024-01-07 00:00:00, timeZone: Europe/Paris}\n"
        "  objectives:\n    - displayName: availability", 1)
    (tmp_path / "o.yaml").write_text(text)
    (spec, *_) = load_config(_config(tmp_path, "  - o.yaml\n")).config.slos
    assert describe_objective(spec) == (
        "checkout-availability: availability, 99.9% over calendar week from sunday (Europe/Paris); "
        "alerts: page on, ticket off, 1 custom tier"
    )


def test_check_describes_a_fixed_calendar_period_from_its_start(tmp_path: Path) -> None:
    from redline.config.spec_report import describe_objective

    text = (ROOT / "examples/openslo.yaml").read_text().replace(
        "    - duration: 28d\n      isRolling: true\n  objectives:\n    - displayName: availability",
        "    - duration: 2w\n      calendar: {startTime: 2024-01-07 12:00:00, timeZone: Europe/Paris}\n"
        "  objectives:\n    - displayName: availability", 1)
    (tmp_path / "o.yaml").write_text(text)
    (spec, *_) = load_config(_config(tmp_path, "  - o.yaml\n")).config.slos
    assert describe_objective(spec).startswith(
        "checkout-availability: availability, 99.9% over calendar 2w from 2024-01-07T12:00:00 (Europe/Paris); "
    )
