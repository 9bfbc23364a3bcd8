"""The ``redline`` command line: run, check, status, import, dashboard, demo.

Every error Redline raises on purpose (``RedlineError``) is printed as one clear message on
stderr with exit code 2; no traceback for a bad config or a bad file.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from redline.agent.config import load_config
from redline.demo.timeline import TIMELINES
from redline.kernel.errors import ConfigError, RedlineError

__all__ = ["main"]

log = logging.getLogger("redline")


def _wait_for_signal() -> None:
    """Block until SIGINT or SIGTERM."""
    stop = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    while not stop.wait(1.0):
        pass


def cmd_run(args: argparse.Namespace) -> int:
    from redline.agent.runtime import Agent

    loaded = load_config(args.config)
    agent = Agent(loaded, env=os.environ)
    agent.start()
    log.info("redline agent running: %d sources, %d objectives; Ctrl-C stops",
             len(loaded.config.sources), len(loaded.config.slos))
    try:
        _wait_for_signal()
    finally:
        agent.shutdown()
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from redline.slo.evaluation import Evaluator
    from redline.store.embedded import SampleStore

    loaded = load_config(args.config)
    cfg = loaded.config
    problems: list[str] = []
    store = SampleStore(loaded.data_dir, retention_seconds=cfg.agent.retention)
    if loaded.data_dir.exists():
        problems = Evaluator(cfg.slos, cfg.guardrails).check_series(store.series())
    for note in loaded.notes:
        print(f"note: {note}", file=sys.stderr)
    for p in problems:
        print(f"{loaded.path}: {p}", file=sys.stderr)
    if problems:
        return 2
    print(f"{loaded.path}: ok — {len(cfg.sources)} sources, {len(cfg.slos)} objectives, "
          f"{len(cfg.guardrails)} guardrails, {len(cfg.alerting.notifiers)} notifiers")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from redline.agent.status import compute_status, parse_at, render_json, render_text

    loaded = load_config(args.config)
    at = parse_at(args.at) if args.at else time.time()
    report = compute_status(loaded, at)
    print(render_json(report) if args.json else render_text(report, args.dimension))
    return 0


def cmd_whatif(args: argparse.Namespace) -> int:
    import json

    from redline.agent.analysis import render_whatif_text, run_whatif
    from redline.agent.status import parse_at
    from redline.kernel.units import parse_duration

    loaded = load_config(args.config)
    try:
        threshold = parse_duration(args.threshold) if args.threshold else None
    except ValueError as exc:
        raise ConfigError(f"--threshold: {exc}") from exc
    at = parse_at(args.at) if args.at else time.time()
    result = run_whatif(loaded, args.slo, at, threshold_s=threshold, objective=args.objective)
    print(json.dumps(result.to_json(), indent=2) if args.json else render_whatif_text(result))
    return 0


def cmd_backtest(args: argparse.Namespace) -> int:
    import json

    from redline.agent.analysis import load_policy, run_backtest
    from redline.agent.status import parse_at
    from redline.alerts.policy import DEFAULT_POLICY
    from redline.kernel.units import parse_duration

    loaded = load_config(args.config)
    try:
        since, step = parse_duration(args.since), parse_duration(args.step)
    except ValueError as exc:
        raise ConfigError(f"--since/--step: {exc}") from exc
    end = parse_at(args.until) if args.until else time.time()
    report = run_backtest(
        loaded,
        start_s=end - since,
        end_s=end,
        step_s=step,
        policy=load_policy(args.policy) if args.policy else DEFAULT_POLICY,
        compare_objective=args.compare_objective,
        only=args.slo,
    )
    print(json.dumps(report.to_json(), indent=2) if args.json else report.to_text())
    return 0


def cmd_rules(args: argparse.Namespace) -> int:
    from redline.slo.rules import render_rules_yaml

    loaded = load_config(args.config)
    text = render_rules_yaml(loaded.config.slos)
    if args.output is None:
        print(text, end="")
    else:
        args.output.write_text(text, encoding="utf-8")
        print(f"wrote {args.output}: check with `promtool check rules {args.output}`", file=sys.stderr)
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from redline.agent.importer import import_history
    from redline.store.embedded import SampleStore

    loaded = load_config(args.config)
    store = SampleStore(loaded.data_dir, retention_seconds=loaded.config.agent.retention)
    stats = import_history(args.history, store)
    print(stats.summary())
    return 0


def cmd_collect(args: argparse.Namespace) -> int:
    import httpx

    from redline.agent.collect_once import collect_once, render_collect_json, render_collect_text

    loaded = load_config(args.config)
    with httpx.Client() as client:
        result = collect_once(loaded, args.source, client)
    print(render_collect_json(result) if args.json else render_collect_text(result))
    return 0 if result.health.ok else 1


def cmd_dashboard(args: argparse.Namespace) -> int:
    from redline.dashboard.launch import dashboard_command

    load_config(args.config)  # fail here, clearly, rather than inside the browser
    cmd = dashboard_command(args.config.resolve(), port=args.port, address=args.address)
    print(f"dashboard: http://{args.address}:{args.port}/", flush=True)
    proc = subprocess.Popen(cmd)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        return proc.wait(timeout=10)


def cmd_demo(args: argparse.Namespace) -> int:
    from redline.agent.demo import run_demo

    return run_demo(
        workdir=args.dir,
        duration_s=args.duration,
        with_dashboard=not args.no_dashboard,
        timeline=TIMELINES[args.timeline],
    )


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="redline", description="Error budgets, burn-rate alerts and cost guardrails.")
    p.add_argument("--log-level", default=os.environ.get("REDLINE_LOG_LEVEL", "INFO"))
    sub = p.add_subparsers(dest="command", required=True)

    def with_config(name: str, help_text: str) -> argparse.ArgumentParser:
        sp = sub.add_parser(name, help=help_text)
        sp.add_argument("--config", "-c", type=Path, required=True, help="the Redline YAML config")
        return sp

    with_config("run", "run the agent: collect, store, evaluate, alert, serve /metrics").set_defaults(fn=cmd_run)
    with_config("check", "validate a config (and objectives against stored series)").set_defaults(fn=cmd_check)
    st = with_config("status", "print dimensions and objectives, nearest to breaking first")
    st.add_argument("--at", help="evaluate at this time (Unix seconds or ISO 8601); default now")
    st.add_argument("--json", action="store_true", help="print the status --json document")
    st.add_argument("--dimension", choices=["data", "users", "model", "cost"], help="only this dimension")
    st.set_defaults(fn=cmd_status)
    co = with_config("collect", "run one source once and print what it collected and its health")
    co.add_argument("--source", required=True, help="the source's name in the config")
    co.add_argument("--once", action="store_true", help="collect once (the only mode; for clarity in scripts)")
    co.add_argument("--json", action="store_true", help="print {source, health, samples} as JSON")
    co.set_defaults(fn=cmd_collect)
    wi = with_config("whatif", "an objective under another latency threshold and/or objective, same history")
    wi.add_argument("--slo", required=True, help="the objective's name")
    wi.add_argument("--threshold", help="alternative latency threshold, e.g. 250ms (interpolated between buckets)")
    wi.add_argument("--objective", type=float, help="alternative objective in percent, e.g. 99.5")
    wi.add_argument("--at", help="evaluate at this time (Unix seconds or ISO 8601); default now")
    wi.add_argument("--json", action="store_true", help="the objective as status --json prints it, plus curve")
    wi.set_defaults(fn=cmd_whatif)
    bt = with_config("backtest", "replay the alert policy over stored history: every page and ticket it would send")
    bt.add_argument("--since", default="30d", help="how far back to start (default 30d)")
    bt.add_argument("--until", help="end of the replay (Unix seconds or ISO 8601); default now")
    bt.add_argument("--step", default="1m", help="evaluation step (default 1m)")
    bt.add_argument("--policy", type=Path, help="YAML list of {severity, long_window, short_window, budget_share}")
    bt.add_argument("--compare-objective", type=float, help="also replay with every objective at this percentage")
    bt.add_argument("--slo", help="only this objective")
    bt.add_argument("--json", action="store_true")
    bt.set_defaults(fn=cmd_backtest)
    ru = with_config("rules", "write Prometheus recording and alerting rules for the objectives")
    ru.add_argument("--output", "-o", type=Path, help="write to this file instead of stdout")
    ru.set_defaults(fn=cmd_rules)
    im = with_config("import", "backfill history from an OpenMetrics file with timestamps")
    im.add_argument("history", type=Path, help="OpenMetrics text with explicit timestamps (as promtool reads)")
    im.set_defaults(fn=cmd_import)
    db = with_config("dashboard", "start the Streamlit dashboard alone")
    db.add_argument("--port", type=int, default=8501)
    db.add_argument("--address", default="127.0.0.1")
    db.set_defaults(fn=cmd_dashboard)
    de = sub.add_parser("demo", help="start a simulated fleet, the agent and the dashboard on 127.0.0.1")
    de.add_argument("--dir", type=Path, default=Path("redline-demo"), help="working folder for the demo's data")
    de.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    de.add_argument("--no-dashboard", action="store_true", help="do not start the dashboard")
    de.add_argument(
        "--timeline", choices=sorted(TIMELINES), default="real",
        help="real (default): incident at +40 s, page within two minutes, 30 days of history; "
        "fast: the same story 8x faster on 3 days of history, scraped every second (for tests)",
    )
    de.set_defaults(fn=cmd_demo)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``redline`` console script."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, str(args.log_level).upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for chatty in ("apscheduler", "httpx", "httpcore"):  # one line per job run or request
        logging.getLogger(chatty).setLevel(max(logging.WARNING, logging.getLogger().level))
    try:
        return int(args.fn(args))
    except RedlineError as exc:
        print(f"redline: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
