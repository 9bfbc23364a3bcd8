"""The `redline` command line against a real store built by `redline import`."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from redline.agent.cli import main

END_S = 1_700_000_000  # history ends here; `--at` evaluates there
STEP_S = 60


def write_history(path: Path) -> None:
    """Two hours of per-minute samples: 100 requests/min, 1 error/min; 90% of requests under
    0.25 s. One line is out of order and one timestamp is written twice (the second wins)."""
    start = END_S - 120 * STEP_S
    lines = ["# TYPE http_requests counter"]
    for code, per_min in (("200", 99), ("500", 1)):
        for i in range(121):
            lines.append(f'http_requests_total{{code="{code}",service="api"}} {i * per_min} {start + i * STEP_S}')
    # out of order: an extra copy of an early sample at the end of its series' block
    lines.append(f'http_requests_total{{code="500",service="api"}} 5 {start + 5 * STEP_S}')
    lines.append("# TYPE http_request_duration_seconds histogram")
    for le, share in (("0.1", 0.5), ("0.25", 0.9), ("0.5", 0.97), ("+Inf", 1.0)):
        for i in range(121):
            value = round(i * 100 * share)
            lines.append(
                f'http_request_duration_seconds_bucket{{le="{le}",service="api"}} {value} {start + i * STEP_S}'
            )
    # a duplicate timestamp for the +Inf bucket's last sample: the later line must win
    lines.append(f'http_request_duration_seconds_bucket{{le="+Inf",service="api"}} 12000 {END_S}')
    lines.append("# EOF")
    path.write_text("\n".join(lines) + "\n")


def write_config(tmp_path: Path, threshold: str = "250ms") -> Path:
    cfg = tmp_path / "redline.yaml"
    cfg.write_text(
        f"""
agent: {{data_dir: ./data}}
slos:
  - name: api-availability
    objective: 99
    window: 1d
    sli: {{ratio: {{errors: 'http_requests_total{{code=~"5.."}}', total: http_requests_total}}}}
  - name: api-latency
    objective: 95
    window: 1d
    sli: {{latency: {{histogram: http_request_duration_seconds, threshold: {threshold}}}}}
  - name: features-freshness
    objective: 99
    window: 1d
    sli: {{freshness: {{last_success: pipeline_last_success_timestamp_seconds, max_age: 10m}}}}
"""
    )
    return cfg


@pytest.fixture
def imported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    cfg = write_config(tmp_path)
    hist = tmp_path / "history.om"
    write_history(hist)
    assert main(["import", "--config", str(cfg), str(hist)]) == 0
    out = capsys.readouterr().out
    assert "stored 726 samples of 6 series" in out
    assert "1 samples were out of order" in out
    assert "2 duplicate timestamps" in out  # the out-of-order copy repeats a timestamp too
    return cfg


def test_status_json_follows_the_contract(imported: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status", "--config", str(imported), "--at", str(END_S), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)

    assert doc["at"] == END_S
    assert sorted(d["name"] for d in doc["dimensions"]) == ["cost", "data", "model", "users"]
    by_name = {o["name"]: o for o in doc["objectives"]}
    avail = by_name["api-availability"]
    assert set(avail) >= {
        "name", "kind", "dimension", "value", "unit", "target", "budget_used_ratio", "objective", "window", "sli",
        "budget_remaining", "burn_rates", "time_to_breach_seconds", "status",
    }
    assert (avail["unit"], avail["target"], avail["value"]) == ("ratio", avail["objective"], avail["sli"])
    assert avail["kind"] == "availability" and avail["dimension"] == "users"
    assert avail["objective"] == pytest.approx(0.99) and avail["window"] == "1d"
    assert list(avail["burn_rates"]) == ["5m", "30m", "1h", "2h", "6h", "1d", "3d"]
    # 1 error per 100 requests against a 1% budget: burning exactly 1x.
    assert avail["burn_rates"]["1h"] == pytest.approx(1.0, rel=1e-9)
    assert avail["sli"] == pytest.approx(0.99, rel=1e-9)
    # latency: 90% under 250 ms against a 95% objective: 2x burn, budget overspent.
    latency = by_name["api-latency"]
    assert latency["sli"] == pytest.approx(0.9, rel=1e-3)
    assert latency["status"] == "breached" and latency["budget_remaining"] < 0
    assert latency["budget_used_ratio"] == pytest.approx(1 - latency["budget_remaining"], rel=1e-12)
    assert latency["budget_used_ratio"] == pytest.approx(2.0, rel=1e-2)  # 10% bad against a 5% budget
    # the freshness objective has no series at all: no_data, never 100%
    fresh = by_name["features-freshness"]
    assert fresh["status"] == "no_data" and fresh["sli"] is None
    assert [o["name"] for o in doc["objectives"]] == ["api-latency", "api-availability", "features-freshness"]
    users = next(d for d in doc["dimensions"] if d["name"] == "users")
    assert users["nearest"] == "api-latency" and users["status"] == "breached"
    assert doc["dimensions"][0]["name"] == "users"


def test_status_text_names_the_dimension_nearest_to_breaking(
    imported: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["status", "--config", str(imported), "--at", "2023-11-14T22:13:20Z"]) == 0
    out = capsys.readouterr().out
    assert "Redline status at 2023-11-14 22:13:20 UTC" in out
    first_dimension = out.split("What breaks first:\n", 1)[1].splitlines()[0]
    assert first_dimension.split()[:2] == ["users", "breached"]


def test_check_rejects_a_threshold_between_bucket_bounds(
    imported: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", "--config", str(imported)]) == 0
    assert "ok — 0 sources, 3 objectives" in capsys.readouterr().out
    bad = write_config(tmp_path, threshold="300ms")
    assert main(["check", "--config", str(bad)]) == 1  # the check ran and failed: exit code 1
    err = capsys.readouterr().err
    assert "api-latency" in err and "0.25" in err and "0.5" in err


def test_a_bad_config_is_one_clear_line_and_exit_code_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("slos:\n  - name: x\n    objective: 100\n    sli: {ratio: {errors: a, total: b}}\n")
    assert main(["status", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("redline: error: ")
    assert "bad.yaml:3: slos[0].objective: Input should be less than 100" in err


def test_importing_a_file_without_timestamps_stores_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = write_config(tmp_path)
    hist = tmp_path / "scrape.om"
    hist.write_text('# TYPE x counter\nx_total{a="1"} 5\n# EOF\n')
    assert main(["import", "--config", str(cfg), str(hist)]) == 2
    assert "nothing to import" in capsys.readouterr().err
    assert not (tmp_path / "data").exists() or not any((tmp_path / "data").rglob("*.parquet"))


def test_collect_once_prints_samples_and_health_as_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from prometheus_client import CollectorRegistry, Gauge, start_http_server

    registry = CollectorRegistry()
    Gauge("queue_depth", "Jobs waiting.", ["queue"], registry=registry).labels("gpu").set(7)
    server, thread = start_http_server(0, addr="127.0.0.1", registry=registry)
    try:
        cfg = tmp_path / "redline.yaml"
        cfg.write_text(
            "sources:\n"
            f"  - {{name: jobs, kind: prometheus_scrape, url: 'http://127.0.0.1:{server.server_port}/metrics',"
            " labels: {env: test}}\n"
            "  - {name: down, kind: prometheus_scrape, url: 'http://127.0.0.1:1/metrics'}\n"
        )
        assert main(["collect", "--config", str(cfg), "--source", "jobs", "--once", "--json"]) == 0
        doc = json.loads(capsys.readouterr().out)
        assert doc["source"] == "jobs"
        assert doc["health"]["ok"] is True and doc["health"]["error"] is None
        (depth,) = [s for s in doc["samples"] if s["metric"] == "queue_depth"]
        assert depth["labels"] == {"queue": "gpu", "env": "test", "source": "jobs"}
        assert depth["value"] == 7.0

        assert main(["collect", "--config", str(cfg), "--source", "down", "--once"]) == 1
        out = capsys.readouterr().out
        assert out.startswith("source down: FAILED, 0 samples")
        assert "error: source 'down' (http://127.0.0.1:1/metrics): cannot connect" in out

        assert main(["collect", "--config", str(cfg), "--source", "nope"]) == 2
        assert "no source named 'nope' (sources: down, jobs)" in capsys.readouterr().err
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_status_ranks_guardrails_with_objectives_and_fills_the_cost_dimension(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Spend of $100/hour for 10 days against a $30,000 monthly budget (UTC, November 2023):
    $24,000 spent by the 11th, on pace for $72,000 — the guardrail is the nearest to breaking."""
    start = 1_698_796_800  # 2023-11-01T00:00:00Z
    hours = 240
    lines = ["# TYPE redline_spend_usd counter"]
    lines += [f'redline_spend_usd_total{{team="ml"}} {h * 100} {start + h * 3600}' for h in range(hours + 1)]
    lines.append("# EOF")
    hist = tmp_path / "spend.om"
    hist.write_text("\n".join(lines) + "\n")
    cfg = tmp_path / "redline.yaml"
    cfg.write_text(
        "agent: {data_dir: ./data}\n"
        "guardrails:\n"
        "  - name: ml-monthly\n"
        "    budget: {spend: 'redline_spend_usd_total{team=\"ml\"}', limit: 30000, showback_by: [team]}\n"
    )
    assert main(["import", "--config", str(cfg), str(hist)]) == 0
    capsys.readouterr()
    assert main(["status", "--config", str(cfg), "--at", str(start + hours * 3600), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    (budget,) = doc["objectives"]
    assert (budget["name"], budget["kind"], budget["dimension"]) == ("ml-monthly", "budget", "cost")
    assert budget["details"]["spent"] == pytest.approx(24_000)
    # one meaning per figure: value and target in the currency, the used share as a ratio, also in the text
    assert (budget["value"], budget["target"], budget["unit"]) == (pytest.approx(24_000), 30_000.0, "USD")
    assert budget["budget_used_ratio"] == pytest.approx(0.8) and budget["sli"] == budget["budget_used_ratio"]
    assert budget["details"]["forecast"] == pytest.approx(24_000 + 100 * 24 * 20)  # 20 days left at $2,400/day
    assert budget["status"] == "warning"
    assert budget["time_to_breach_seconds"] == pytest.approx(6_000 / 100 * 3600)  # $6,000 left at $100/h
    cost = next(d for d in doc["dimensions"] if d["name"] == "cost")
    assert cost["nearest"] == "ml-monthly" and cost["status"] == "warning"
    assert doc["dimensions"][0]["name"] == "cost"
    assert main(["status", "--config", str(cfg), "--at", str(start + hours * 3600)]) == 0
    (row,) = [line.split() for line in capsys.readouterr().out.splitlines() if line.startswith("  ml-monthly")]
    assert row[:6] == ["ml-monthly", "cost", "$30,000", "$24,000", "80.0%", "2.40x"]  # $100/h against $41.67/h


def test_whatif_relaxes_a_latency_threshold_over_the_same_history(
    imported: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["whatif", "--config", str(imported), "--slo", "api-latency", "--at", str(END_S)]
    assert main([*args, "--threshold", "500ms", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["name"] == "api-latency" and doc["approximate"] is False
    assert doc["sli"] == pytest.approx(0.97, rel=1e-3)  # 97% of requests under 0.5 s
    assert doc["current"]["sli"] == pytest.approx(0.9, rel=1e-3)
    assert [p["threshold_seconds"] for p in doc["curve"]] == [0.1, 0.25, 0.5]
    assert main([*args, "--threshold", "375ms", "--json"]) == 0  # halfway between 0.25 and 0.5
    halfway = json.loads(capsys.readouterr().out)
    assert halfway["approximate"] is True and halfway["sli"] == pytest.approx(0.935, rel=1e-3)
    assert main([*args, "--threshold", "2s"]) == 2
    assert "0.5" in capsys.readouterr().err  # past the largest finite bound: the bounds are named
    assert main(["whatif", "--config", str(imported), "--slo", "nope"]) == 2


def test_backtest_compares_the_current_objective_with_a_relaxed_one(
    imported: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["backtest", "--config", str(imported), "--since", "1h", "--at", str(END_S), "--slo", "api-latency"]
    assert main([*args, "--compare-objective", "40", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    (row,) = doc["summary"]
    # 10% of requests over 250 ms burns a 95% objective at 2x: above the 1d window's page factor
    # (2% of a day in 1h = 0.48x). At 40% it burns 0.1/0.6 = 0.17x: under every page factor.
    assert row["slo"] == "api-latency"
    assert row["current"]["pages"] == 1
    assert row["objective 40"]["pages"] == 0
    (page,) = [e for e in doc["current"]["episodes"] if e["severity"] == "page"]
    assert page["peak_burn"] == pytest.approx(2.0)


# ---------------------------------------------------------------------------------------------
# One grammar: help text, `--at`, deprecated spellings, exit codes, one line per expected error


def test_every_command_and_flag_has_help_text() -> None:
    """Walk the whole argparse tree: every action but -h says what it is for; the only hidden
    ones are the deprecated spellings kept for old scripts."""
    import argparse

    from redline.agent.cli import _parser

    hidden: list[str] = []

    def walk(parser: argparse.ArgumentParser, path: str) -> int:
        seen = 0
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            name = f"{path} {'/'.join(action.option_strings) or action.dest}"
            if action.help == argparse.SUPPRESS:
                hidden.append(name)
                continue
            assert action.help and action.help.strip(), f"{name} has no help text"
            seen += 1
            if isinstance(action, argparse._SubParsersAction):
                for choice in action._choices_actions:
                    assert choice.help and choice.help.strip(), f"{path} {choice.dest} has no help text"
                for sub_name, sub_parser in action.choices.items():
                    assert sub_parser.description, f"{path} {sub_name} has no description"
                    seen += walk(sub_parser, f"{path} {sub_name}")
        return seen

    assert walk(_parser(0.0), "redline") > 30
    assert sorted(hidden) == ["redline backtest --until", "redline collect --once"]


def test_at_reads_every_form_of_the_one_time_grammar(imported: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """ISO 8601 without a zone is UTC; relative times count back from the clock main was given,
    whether written `--at -1h` (two words, which argparse alone would refuse) or `--at=-1h`."""
    base = ["status", "--config", str(imported), "--json"]

    def one_hour_later() -> float:
        return END_S + 3600.0

    for at in (["--at", "2023-11-14T22:13:20"], ["--at", "-1h"], ["--at=-1h"], ["--at", "1h ago"],
               ["--at", "now-60m"], ["--at", "NOW - 1h"]):
        assert main([*base, *at], clock=one_hour_later) == 0, at
        assert json.loads(capsys.readouterr().out)["at"] == END_S, at
    assert main([*base, "--at", "now"], clock=lambda: float(END_S)) == 0
    assert json.loads(capsys.readouterr().out)["at"] == END_S
    assert main([*base], clock=lambda: float(END_S)) == 0  # no --at: now
    assert json.loads(capsys.readouterr().out)["at"] == END_S

    whatif = ["whatif", "--config", str(imported), "--slo", "api-latency", "--threshold", "500ms", "--json"]
    assert main([*whatif, "--at", "-1h"], clock=one_hour_later) == 0
    relative = json.loads(capsys.readouterr().out)
    assert main([*whatif, "--at", str(END_S)]) == 0
    assert json.loads(capsys.readouterr().out) == relative


def test_a_bad_time_duration_or_policy_is_a_usage_error_naming_it(
    imported: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for command in (["status"], ["whatif", "--slo", "api-latency"], ["backtest"]):
        assert main([*command, "--config", str(imported), "--at", "yesterday"]) == 2
        err = capsys.readouterr().err
        assert "argument --at: 'yesterday' is not a time: expected now, Unix seconds" in err
        assert "2h ago" in err and "Traceback" not in err
    assert main(["status", "--config", str(imported), "--at", "-2x"]) == 2
    assert "'-2x' is not a time ('2x' is not a duration" in capsys.readouterr().err
    assert main(["backtest", "--config", str(imported), "--since", "a month"]) == 2
    assert "argument --since: 'a month' is not a duration" in capsys.readouterr().err
    policy = imported.parent / "policy.yaml"
    assert main(["backtest", "--config", str(imported), "--policy", str(policy)]) == 2
    assert capsys.readouterr().err == (
        f"redline: error: {policy}: cannot read policy: No such file or directory: check the path given to --policy\n"
    )


def test_backtest_at_is_the_end_of_the_replay_and_until_still_works(
    imported: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["backtest", "--config", str(imported), "--since", "1h", "--slo", "api-latency", "--json"]
    assert main([*args, "--at", "-1h"], clock=lambda: END_S + 3600.0) == 0
    out = capsys.readouterr()
    doc = json.loads(out.out)
    assert out.err == ""
    assert doc["end"] == END_S and doc["start"] == END_S - 3600
    assert main([*args, "--until", str(END_S)]) == 0  # the former spelling, for old scripts
    out = capsys.readouterr()
    assert json.loads(out.out) == doc
    assert out.err == "redline: note: --until is deprecated: use --at\n"


def test_collect_once_is_accepted_with_a_note(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "redline.yaml"
    cfg.write_text("sources:\n  - {name: down, kind: prometheus_scrape, url: 'http://127.0.0.1:1/metrics'}\n")
    assert main(["collect", "--config", str(cfg), "--source", "down", "--once"]) == 1  # the source failed
    err = capsys.readouterr().err
    assert err == "redline: note: --once is deprecated: collect always runs one collection and exits\n"


def listening_socket() -> socket.socket:
    """A socket bound and listening on an ephemeral 127.0.0.1 port: that port is taken."""
    taken = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    return taken


def test_run_on_a_port_in_use_is_one_line_and_exit_code_2(tmp_path: Path) -> None:
    """A real `redline run` process: no traceback, the address, the setting, the file, the fix."""
    with listening_socket() as taken:
        port = taken.getsockname()[1]
        cfg = tmp_path / "redline.yaml"
        cfg.write_text(f"agent: {{data_dir: ./data, listen: '127.0.0.1:{port}'}}\n")
        proc = subprocess.run(
            [sys.executable, "-m", "redline.agent.cli", "--log-level", "warning", "run", "--config", str(cfg)],
            capture_output=True, text=True, timeout=60, cwd=Path(__file__).resolve().parents[2],
        )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr == (
        f"redline: error: 127.0.0.1:{port} is already in use (agent.listen in {cfg.resolve()}): "
        "stop the other process or change agent.listen\n"
    )


def test_run_in_process_on_a_port_in_use_returns_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with listening_socket() as taken:
        port = taken.getsockname()[1]
        cfg = tmp_path / "redline.yaml"
        cfg.write_text(f"agent: {{data_dir: ./data, listen: '127.0.0.1:{port}'}}\n")
        assert main(["run", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"127.0.0.1:{port} is already in use" in err and "Traceback" not in err


def test_dashboard_on_a_port_in_use_is_one_line_and_exit_code_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = write_config(tmp_path)
    with listening_socket() as taken:
        port = taken.getsockname()[1]
        assert main(["dashboard", "--config", str(cfg), "--port", str(port)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""  # stopped before it started anything or printed a URL
    assert captured.err == (
        f"redline: error: 127.0.0.1:{port} is already in use: stop the other process or change --port\n"
    )


def test_a_missing_config_or_history_file_is_one_line_and_exit_code_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.yaml"
    for command in (["run"], ["check"], ["status"], ["dashboard"], ["import", "x.om"]):
        assert main([command[0], "--config", str(missing), *command[1:]]) == 2
        assert capsys.readouterr().err == (
            f"redline: error: {missing}: cannot read config: No such file or directory: "
            "check the path of the file given to --config\n"
        )
    cfg = write_config(tmp_path)
    assert main(["import", "--config", str(cfg), str(tmp_path / "history.om")]) == 2
    assert capsys.readouterr().err == (
        f"redline: error: {tmp_path / 'history.om'}: cannot read history file: No such file or directory: "
        "check the path of the HISTORY file\n"
    )


def test_a_store_that_cannot_be_written_is_one_line_and_exit_code_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "data").write_text("a file where the store's folder should be\n")
    cfg = write_config(tmp_path)
    hist = tmp_path / "history.om"
    write_history(hist)
    assert main(["import", "--config", str(cfg), str(hist)]) == 3
    err = capsys.readouterr().err
    assert err.startswith("redline: error: cannot create the store directory ") and err.count("\n") == 1


def test_rules_to_a_folder_that_does_not_exist_is_one_line_and_exit_code_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = write_config(tmp_path)
    out = tmp_path / "missing" / "rules.yml"
    assert main(["rules", "--config", str(cfg), "-o", str(out)]) == 3
    assert capsys.readouterr().err == (
        f"redline: error: {out}: cannot write rules: No such file or directory: "
        "check the path of the file given to --output\n"
    )


def test_usage_errors_return_2_and_help_returns_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status"]) == 2  # --config is required
    assert "the following arguments are required: --config" in capsys.readouterr().err
    assert main(["frobnicate"]) == 2
    assert main(["--log-level", "chatty", "demo"]) == 2
    assert main(["--help"]) == 0
    assert "Exit codes: 0 ok, 1 a breach or failed check" in capsys.readouterr().out


def test_an_unexpected_error_shows_its_traceback_and_exits_3(
    imported: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr("redline.agent.status.compute_status", broken)
    assert main(["--log-level", "debug", "status", "--config", str(imported)]) == 3
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "RuntimeError: a bug" in err
    assert err.endswith("redline: error: unexpected RuntimeError: please report it with the traceback above\n")


def test_a_port_taken_under_the_demo_is_one_line_and_exit_code_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The demo checks its ports are free, then binds them: another process may take one between."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        def bind_the_taken_port(*args: object, **kwargs: object) -> int:
            return int(port)

        monkeypatch.setattr("redline.agent.demo._port_or_free", bind_the_taken_port)
        argv = ["demo", "--dir", str(tmp_path / "demo"), "--timeline", "fast", "--no-dashboard", "--duration", "5"]
        code = main(argv)
    err = capsys.readouterr().err
    assert code == 2
    assert err.splitlines()[-1] == (
        f"redline: error: 127.0.0.1:{port} is already in use: stop the other process or change the port"
    )
    assert "Traceback" not in err
