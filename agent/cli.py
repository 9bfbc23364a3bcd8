"""The ``redline`` command line: run, check, status, collect, import, whatif, backtest, rules,
export, dashboard, demo, store verify, alerts test; silence, ack and gate (``redline.agent.alert_commands``).

One grammar for every command:

- a time ("evaluate at T", "replay up to T") is always ``--at``, read by
  ``redline.kernel.times.parse_instant`` (now, Unix seconds, ISO 8601, ``-2h``, ``2h ago``);
- the exit code means the same everywhere (README, "Exit codes"): 0 ok, 1 a breach or failed
  check, 2 a usage or config error (a port in use is the config's to fix), 3 a failure while running;
- an expected error (an invalid config, a missing file, a port in use, permission denied) is one
  line on stderr, ``redline: error: <what>: <what to do>``, never a traceback. Only an
  unexpected exception prints its traceback (and exits 3): that one is a bug to report.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import getpass
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from redline.agent.signals import wait_for_stop
from redline.config import LoadedConfig, load_config
from redline.demo.timeline import TIMELINES
from redline.kernel.errors import ConfigError, RedlineError, SourceError
from redline.kernel.times import INSTANT_FORMS, parse_instant

__all__ = ["EXIT_BROKEN_PIPE", "EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_RUNTIME", "EXIT_USAGE", "main"]

EXIT_OK = 0
"""The command did what it was asked."""
EXIT_FAILED = 1
"""It ran, and what it checks failed: a source that failed in ``collect``, problems ``check`` found."""
EXIT_USAGE = 2
"""A usage or config error: a bad flag or value, an invalid config, a missing or unreadable input
file, a listen port in use or needing privileges, a data directory another agent holds."""
EXIT_RUNTIME = 3
"""A failure while running: the store or an output file cannot be written, an unexpected exception."""
EXIT_INTERRUPTED = 130
"""Ctrl-C where it is not the normal way to stop (128 + SIGINT, as shells report it)."""
EXIT_BROKEN_PIPE = 141
"""The reader of stdout went away (``redline status | head -1``): 128 + SIGPIPE, as shells report
a command that pipe killed; quietly, without a traceback."""

log = logging.getLogger("redline")


class CommandError(Exception):
    """An expected failure, worded for the user: what went wrong, what to do, and the exit code."""

    def __init__(self, what: str, to_do: str, exit_code: int) -> None:
        super().__init__(f"{what}: {to_do}")
        self.exit_code = exit_code


def _file_hint(exc: OSError, what: str) -> str:
    """What to do about a file that could not be read or written, by its errno."""
    if exc.errno == errno.ENOENT:
        return f"check the path of {what}"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return f"give this user access to {what}"
    if exc.errno == errno.EISDIR:
        return f"{what} must be a file, not a folder"
    if exc.errno == errno.ENOSPC:
        return "free some disk space and try again"
    return f"check {what}"


def _listen_hint(errno_: int | None, setting: str) -> str:
    """What to do when an address cannot be bound, by its errno; ``setting`` says where it is set."""
    if errno_ == errno.EADDRINUSE:
        return f"stop the other process or change {setting}"
    if errno_ == errno.EACCES:
        return f"use a port above 1023 or change {setting}"
    return f"change {setting}"


def _load(path: Path) -> LoadedConfig:
    """``load_config``, plus what to do when the file itself cannot be read."""
    try:
        return load_config(path)
    except ConfigError as exc:
        if isinstance(exc.__cause__, OSError):
            hint = _file_hint(exc.__cause__, "the file given to --config")
            raise CommandError(str(exc), hint, EXIT_USAGE) from exc
        raise


def _exit_without_waiting(code: int) -> None:
    """Exit now, not joining worker threads still running (a job the shutdown gave up on)."""
    logging.shutdown()
    with contextlib.suppress(OSError, ValueError):
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


def cmd_run(args: argparse.Namespace) -> int:
    from redline.agent.lock import DataDirLocked
    from redline.agent.runtime import Agent
    from redline.agent.selfmetrics import ListenError

    loaded = _load(args.config)
    agent = Agent(loaded, env=os.environ)
    try:
        agent.start()
    except ListenError as exc:
        agent.shutdown()
        where = f"agent.listen in {loaded.path}"
        raise CommandError(f"{exc} ({where})", _listen_hint(exc.errno, "agent.listen"), EXIT_USAGE) from exc
    except DataDirLocked as exc:
        agent.shutdown()
        to_do = f"stop that agent, or give this one another agent.data_dir in {loaded.path}"
        raise CommandError(str(exc), to_do, EXIT_USAGE) from exc
    except OSError as exc:  # the lock file cannot be created: the data directory is not usable
        agent.shutdown()
        if exc.filename is None:
            raise
        what = f"{exc.filename}: {exc.strerror or exc}"
        raise CommandError(what, _file_hint(exc, "agent.data_dir"), EXIT_RUNTIME) from exc
    log.info("redline agent running: %d sources, %d objectives; Ctrl-C stops",
             len(loaded.config.sources), len(loaded.config.slos))
    try:
        wait_for_stop()
    finally:
        finished = agent.shutdown()
    log.info("redline agent stopped")
    if not finished:
        _exit_without_waiting(EXIT_OK)
    return EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    from redline.config.spec_report import render_spec_reports
    from redline.slo.evaluation import Evaluator
    from redline.slo.groups import group_overflows
    from redline.store.embedded import SampleStore

    loaded = _load(args.config)
    cfg = loaded.config
    import httpx

    from redline.agent.delivery_wiring import build_notifiers

    with httpx.Client() as client:  # every secret a notifier needs is in the environment (ConfigError names it)
        build_notifiers(loaded, os.environ, client)
    problems: list[str] = []
    store = SampleStore(loaded.data_dir, retention_seconds=cfg.agent.retention)
    if loaded.data_dir.exists():
        series = store.series()
        problems = Evaluator(cfg.slos, cfg.guardrails).check_series(series)
        problems += [str(overflow) for overflow in group_overflows(cfg.slos, series)]
    for line in render_spec_reports(loaded.spec_files):  # what each spec file was understood to say
        print(line)
    for note in loaded.notes:
        if not any(note in f.notes for f in loaded.spec_files):
            print(f"note: {note}", file=sys.stderr)
    for p in problems:
        print(f"{loaded.path}: {p}", file=sys.stderr)
    if problems:
        return EXIT_FAILED
    print(f"{loaded.path}: ok — {len(cfg.sources)} sources, {len(cfg.slos)} objectives, "
          f"{len(cfg.guardrails)} guardrails, {len(cfg.alerting.notifiers)} notifiers")
    return EXIT_OK


def cmd_alerts_test(args: argparse.Namespace) -> int:
    import httpx

    from redline.agent.alerts_test import render_results, send_test_notifications

    loaded = _load(args.config)
    with httpx.Client(timeout=10.0, follow_redirects=False) as client:
        results = send_test_notifications(loaded, os.environ, client)
    print(render_results(results))
    return EXIT_OK if all(r.ok for r in results) else EXIT_FAILED


def cmd_status(args: argparse.Namespace) -> int:
    from redline.agent.status import compute_status, render_json, render_text

    loaded = _load(args.config)
    report = compute_status(loaded, args.at)
    print(render_json(report) if args.json else render_text(report, args.dimension))
    return EXIT_OK


def cmd_store_verify(args: argparse.Namespace) -> int:
    from redline.agent.store_verify import render_verify_json, render_verify_text, verify_store

    loaded = _load(args.config)
    report = verify_store(loaded.data_dir, repair=args.repair)
    print(render_verify_json(report) if args.json else render_verify_text(report))
    return EXIT_OK if report.clean else EXIT_FAILED


def cmd_whatif(args: argparse.Namespace) -> int:
    import json

    from redline.agent.analysis import render_whatif_text, run_whatif

    loaded = _load(args.config)
    result = run_whatif(loaded, args.slo, args.at, threshold_s=args.threshold, objective=args.objective)
    print(json.dumps(result.to_json(), indent=2) if args.json else render_whatif_text(result))
    return EXIT_OK


def cmd_backtest(args: argparse.Namespace) -> int:
    import json

    from redline.agent.analysis import load_policy, run_backtest

    loaded = _load(args.config)
    report = run_backtest(
        loaded,
        start_s=args.at - args.since,
        end_s=args.at,
        step_s=args.step,
        policy=load_policy(args.policy) if args.policy else None,
        compare_objective=args.compare_objective,
        only=args.slo,
        hysteresis=not args.no_hysteresis,
    )
    print(json.dumps(report.to_json(), indent=2) if args.json else report.to_text())
    return EXIT_OK


def cmd_rules(args: argparse.Namespace) -> int:
    from redline.slo.rules import render_rules_yaml

    loaded = _load(args.config)
    text = render_rules_yaml(loaded.config.slos, args.format)
    if args.output is None:
        print(text, end="")
    else:
        try:
            args.output.write_text(text, encoding="utf-8")
        except OSError as exc:
            what = f"{args.output}: cannot write rules: {exc.strerror or exc}"
            raise CommandError(what, _file_hint(exc, "the file given to --output"), EXIT_RUNTIME) from exc
        print(f"wrote {args.output}: check with `promtool check rules {args.output}`", file=sys.stderr)
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    from redline.slo.export import render_export

    loaded = _load(args.config)
    text = render_export(loaded.config.slos, args.format)
    if args.output is None:
        print(text, end="")
        return EXIT_OK
    try:
        args.output.write_text(text, encoding="utf-8")
    except OSError as exc:
        what = f"{args.output}: cannot write: {exc.strerror or exc}"
        raise CommandError(what, _file_hint(exc, "the file given to --output"), EXIT_RUNTIME) from exc
    return EXIT_OK


def _positive_int(text: str) -> int:
    """An argparse type: a whole number above 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def cmd_import(args: argparse.Namespace) -> int:
    from redline.agent.importer import import_history, progress_stream
    from redline.agent.wiring import writable_store
    from redline.store.checkpoint_file import remove_checkpoint

    loaded = _load(args.config)
    store = writable_store(loaded)
    # History written behind the evaluator's checkpoint is not in it: the next reader rebuilds.
    remove_checkpoint(loaded.data_dir)
    try:
        bound = {} if args.max_merge_rows is None else {"max_merge_rows": args.max_merge_rows}
        stats = import_history(args.history, store, progress=progress_stream(), **bound)
    except SourceError as exc:  # the file named on the command line: a usage error
        if isinstance(exc.__cause__, OSError):
            raise CommandError(str(exc), _file_hint(exc.__cause__, "the HISTORY file"), EXIT_USAGE) from exc
        raise ConfigError(str(exc)) from exc
    print(stats.summary())
    return EXIT_OK


def cmd_collect(args: argparse.Namespace) -> int:
    import httpx

    from redline.agent.collect_once import collect_once, render_collect_json, render_collect_text

    loaded = _load(args.config)
    with httpx.Client() as client:
        result = collect_once(loaded, args.source, client)
    print(render_collect_json(result) if args.json else render_collect_text(result))
    return EXIT_OK if result.health.ok else EXIT_FAILED


def _check_can_listen(address: str, port: int, setting: str) -> None:
    """Bind ``address:port`` once and let go, so a taken port is one clear line here rather than
    a child process's traceback later."""
    from redline.agent.selfmetrics import ListenError

    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    try:
        with socket.create_server((address, port), family=family):
            pass
    except OSError as exc:
        failure = ListenError(address, port, exc)
        raise CommandError(str(failure), _listen_hint(failure.errno, setting), EXIT_USAGE) from exc


def cmd_report(args: argparse.Namespace) -> int:
    from redline.dashboard.report import render_report

    if args.out is None and args.pdf is None:
        raise CommandError("report: nowhere to write", "give --out FILE.html, --pdf FILE.pdf or both", EXIT_USAGE)
    loaded = _load(args.config)
    page = render_report(loaded, int(args.at * 1000), period_s=args.period)
    outputs: list[tuple[Path, bytes, str]] = []
    if args.out is not None:
        outputs.append((args.out, page.encode("utf-8"), "self-contained"))
    if args.pdf is not None:
        from redline.dashboard.report_pdf import PdfUnavailable, render_pdf

        try:
            outputs.append((args.pdf, render_pdf(page), "PDF"))
        except PdfUnavailable as exc:
            raise CommandError(f"cannot write {args.pdf}", str(exc), EXIT_USAGE) from exc
    for path, data, what in outputs:
        try:
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_bytes(data)
            tmp.replace(path)
        except OSError as exc:
            raise CommandError(f"cannot write {path}: {exc.strerror or exc}", "check the path", EXIT_RUNTIME) from exc
        print(f"{path}: report as of {args.at:.0f} written ({len(data):,} bytes, {what})")
    return EXIT_OK


def cmd_hash_password(args: argparse.Namespace) -> int:
    from redline.dashboard.passwords import hash_password

    if sys.stdin.isatty():
        password = getpass.getpass("dashboard password: ")
        if getpass.getpass("again: ") != password:
            raise CommandError("the two passwords differ", "run it again", EXIT_USAGE)
    else:
        password = sys.stdin.readline().rstrip("\n")
    if not password:
        raise CommandError("an empty password", "type one, or pipe it in on one line", EXIT_USAGE)
    print(hash_password(password))
    return EXIT_OK


def cmd_dashboard(args: argparse.Namespace) -> int:
    from redline.dashboard.launch import dashboard_command, is_loopback, oidc_secrets_toml

    loaded = _load(args.config)  # fail here, clearly, rather than inside the browser
    auth = loaded.config.dashboard.auth
    if auth is None and not is_loopback(args.address):
        if not args.insecure_no_auth:
            raise CommandError(
                f"the dashboard would listen on {args.address} with no authentication",
                f"configure dashboard.auth (password, oidc or trusted_header) in {args.config}, or pass "
                "--insecure-no-auth",
                EXIT_USAGE,
            )
        print(f"redline: warning: the dashboard listens on {args.address} with NO authentication "
              "(--insecure-no-auth): anyone who can reach it sees every objective", file=sys.stderr, flush=True)
    _check_can_listen(args.address, args.port, "--port")
    cmd = dashboard_command(args.config.resolve(), port=args.port, address=args.address)
    workdir = None
    if auth is not None and auth.oidc is not None:
        # st.login reads [auth] from .streamlit/secrets.toml in the working directory: a private one
        try:
            secrets = oidc_secrets_toml(auth.oidc, os.environ)
        except ConfigError as exc:
            raise CommandError(str(exc), "set it in the dashboard's environment", EXIT_USAGE) from exc
        workdir = tempfile.TemporaryDirectory(prefix="redline-dashboard-")
        folder = Path(workdir.name) / ".streamlit"
        folder.mkdir(mode=0o700)
        (folder / "secrets.toml").touch(mode=0o600)
        (folder / "secrets.toml").write_text(secrets, encoding="utf-8")
    print(f"dashboard: http://{args.address}:{args.port}/", flush=True)
    # Its own process group, so stopping it stops whatever Streamlit itself started.
    try:
        return _run_dashboard(cmd, None if workdir is None else workdir.name)
    finally:
        if workdir is not None:
            workdir.cleanup()


def _run_dashboard(cmd: list[str], cwd: str | None) -> int:
    """Run Streamlit in its own process group until it exits, Ctrl-C or SIGTERM."""
    from redline.agent.children import stop_later, stop_process_group

    proc = subprocess.Popen(cmd, start_new_session=True, cwd=cwd)
    stopped = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        stopped.set()
        stop_later(proc)  # the wait below returns when it has stopped

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        code = proc.wait()
    except KeyboardInterrupt:  # Ctrl-C is how the dashboard is stopped
        stop_process_group(proc)
        return EXIT_OK
    finally:
        signal.signal(signal.SIGTERM, previous)
        if proc.poll() is None:
            stop_process_group(proc)
    if stopped.is_set():
        return EXIT_OK
    if code != 0:
        raise CommandError(f"the dashboard (streamlit) exited with code {code}", "see its output above", EXIT_RUNTIME)
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from redline.agent.demo import run_demo

    return run_demo(
        workdir=args.dir,
        duration_s=args.duration,
        with_dashboard=not args.no_dashboard,
        timeline=TIMELINES[args.timeline],
    )


# ---------------------------------------------------------------------------------------------
# The grammar


class _Deprecated(argparse.Action):
    """A former spelling, still accepted so old scripts keep working: hidden from ``--help``,
    it says on stderr what to use instead, then stores its value (if it takes one) under
    ``dest``, as the new spelling would."""

    def __init__(self, option_strings: Sequence[str], dest: str, *, note: str, **kwargs: Any) -> None:
        kwargs.update(help=argparse.SUPPRESS, default=argparse.SUPPRESS)
        super().__init__(option_strings, dest, **kwargs)
        self.note = note

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        print(f"redline: note: {option_string} is deprecated: {self.note}", file=sys.stderr)
        if self.nargs != 0:
            setattr(namespace, self.dest, values)


def _typed(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """An argparse ``type`` from a parser raising ``ValueError``, keeping its message (argparse
    would otherwise replace it with ``invalid <function name> value``)."""

    def convert(text: str) -> Any:
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from exc

    return convert


_TIME_FLAGS = ("--at", "--until")


def _join_time_values(argv: Sequence[str]) -> list[str]:
    """``--at -2h`` → ``--at=-2h``: argparse takes a value starting with ``-`` for an option."""
    out: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        following = argv[i + 1] if i + 1 < len(argv) else ""
        if arg in _TIME_FLAGS and following[:1] == "-" and (following[1:2].isdigit() or following[1:2] == " "):
            out.append(f"{arg}={following}")
            i += 2
        else:
            out.append(arg)
            i += 1
    return out


def _parser(now_s: float) -> argparse.ArgumentParser:
    """The whole grammar; ``now_s`` is "now" for every relative time in one invocation."""
    from redline.kernel.units import parse_duration

    instant = _typed(lambda text: parse_instant(text, now_s))
    duration = _typed(parse_duration)
    at_help = f"{INSTANT_FORMS}; default now"

    p = argparse.ArgumentParser(
        prog="redline",
        description="Error budgets, burn-rate alerts and cost guardrails.",
        epilog="Exit codes: 0 ok, 1 a breach or failed check, 2 usage or config error (also a port in use), "
        "3 failure while running.",
    )
    p.add_argument(
        "--log-level",
        type=str.upper,
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        default=os.environ.get("REDLINE_LOG_LEVEL", "INFO"),
        help="how much the agent logs on stderr (default INFO, or $REDLINE_LOG_LEVEL)",
    )
    sub = p.add_subparsers(
        dest="command", required=True, metavar="COMMAND", help="what to do (COMMAND -h for its flags)"
    )

    def command(name: str, help_text: str, description: str | None = None) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help_text, description=description or help_text)

    def with_config(name: str, help_text: str, description: str | None = None) -> argparse.ArgumentParser:
        sp = command(name, help_text, description)
        sp.add_argument("--config", "-c", type=Path, required=True, metavar="FILE", help="the Redline YAML config")
        return sp

    with_config("run", "run the agent: collect, store, evaluate, alert, serve /metrics").set_defaults(fn=cmd_run)
    al = command("alerts", "work with alert delivery", "Work with alert delivery.")
    al_sub = al.add_subparsers(dest="alerts_command", required=True, metavar="ACTION", help="test")
    alt = al_sub.add_parser(
        "test", help="send a labelled test notification through each route and report each result",
        description="Send one clearly labelled test notification through each route (and the default "
        "route) to each of its notifiers, once, and print each result. Exit code 1 if any failed, 2 on "
        "a config error (such as a secret's environment variable not set).",
    )
    alt.add_argument("--config", "-c", type=Path, required=True, metavar="FILE", help="the Redline YAML config")
    alt.set_defaults(fn=cmd_alerts_test)
    with_config(
        "check", "validate a config (and objectives against stored series)",
        "Validate a config and, with stored data, its objectives against the stored series; "
        "exit code 1 when the series show a problem.",
    ).set_defaults(fn=cmd_check)
    st = with_config("status", "print dimensions and objectives, nearest to breaking first")
    st.add_argument("--at", type=instant, default="now", metavar="TIME", help=f"evaluate at this time: {at_help}")
    st.add_argument("--json", action="store_true", help="print the status --json document")
    st.add_argument("--dimension", choices=["data", "users", "model", "cost"], help="only this dimension")
    st.set_defaults(fn=cmd_status)
    co = with_config(
        "collect", "run one source once and print what it collected and its health",
        "Run one source once (one collection, then exit), nothing stored; exit code 1 when it "
        "failed. The former --once flag is accepted and ignored.",
    )
    co.add_argument("--source", required=True, help="the source's name in the config")
    co.add_argument("--once", action=_Deprecated, nargs=0, note="collect always runs one collection and exits")
    co.add_argument("--json", action="store_true", help="print {source, health, samples} as JSON")
    co.set_defaults(fn=cmd_collect)
    sto = command("store", "inspect the data directory's files", "Inspect the data directory's files.")
    sto_sub = sto.add_subparsers(dest="store_command", required=True, metavar="ACTION", help="verify")
    sv = sto_sub.add_parser(
        "verify", help="read every store file, report damaged ones and the time range each covered",
        description="Read every batch and segment in full (lengths, checksums, Parquet pages) and "
        "print what is damaged and what time range it covered. Exit code 1 if anything is damaged, "
        "0 if clean, 2 on a config error.",
    )
    sv.add_argument("--config", "-c", type=Path, required=True, metavar="FILE", help="the Redline YAML config")
    sv.add_argument("--repair", action="store_true", help="move damaged files to data_dir/quarantine/")
    sv.add_argument("--json", action="store_true", help="print {damaged, foreign, quarantined, ...} as JSON")
    sv.set_defaults(fn=cmd_store_verify)
    wi = with_config("whatif", "an objective under another latency threshold and/or objective, same history")
    wi.add_argument("--slo", required=True, help="the objective's name")
    wi.add_argument(
        "--threshold", type=duration, help="alternative latency threshold, e.g. 250ms (interpolated between buckets)"
    )
    wi.add_argument("--objective", type=float, help="alternative objective in percent, e.g. 99.5")
    wi.add_argument("--at", type=instant, default="now", metavar="TIME", help=f"evaluate at this time: {at_help}")
    wi.add_argument("--json", action="store_true", help="the objective as status --json prints it, plus curve")
    wi.set_defaults(fn=cmd_whatif)
    bt = with_config(
        "backtest", "replay the alert policy over stored history: every page and ticket it would send",
        "Replay the alert policy over stored history, from --since before --at up to --at: every "
        "page and ticket it would have sent. (--until is a deprecated spelling of --at.)",
    )
    bt.add_argument(
        "--since", type=duration, default="30d", metavar="DURATION",
        help="how long before --at the replay starts (default 30d)",
    )
    bt.add_argument("--at", type=instant, default="now", metavar="TIME", help=f"end of the replay: {at_help}")
    bt.add_argument("--until", dest="at", type=instant, action=_Deprecated, note="use --at")
    bt.add_argument("--step", type=duration, default="1m", metavar="DURATION", help="evaluation step (default 1m)")
    bt.add_argument(
        "--policy", type=Path,
        help="YAML list of {severity, long_window, short_window, budget_share} "
        "(default: each objective's tiers, from its period)",
    )
    bt.add_argument(
        "--no-hysteresis", action="store_true",
        help="replay the bare conditions: no for:, no resolve delay, tickets not inhibited by pages",
    )
    bt.add_argument("--compare-objective", type=float, help="also replay with every objective at this percentage")
    bt.add_argument("--slo", help="only this objective")
    bt.add_argument("--json", action="store_true", help="print {start, end, step_seconds, policy, episodes, summary}")
    bt.set_defaults(fn=cmd_backtest)
    ru = with_config("rules", "write Prometheus recording and alerting rules for the objectives")
    ru.add_argument("--output", "-o", type=Path, help="write to this file instead of stdout")
    ru.add_argument(
        "--format", choices=("redline", "sloth"), default="redline",
        help="redline (default), or sloth: also Sloth's labels (sloth_id, sloth_service, sloth_slo, "
        "sloth_window, sloth_severity) and sloth_slo_info, which Sloth's Grafana dashboards read",
    )
    ru.set_defaults(fn=cmd_rules)
    ex = with_config("export", "write the objectives as OpenSLO, Sloth or Pyrra specs")
    ex.add_argument("--format", required=True, choices=["openslo", "sloth", "pyrra"], help="the spec format")
    ex.add_argument("--output", "-o", type=Path, help="write to this file instead of stdout")
    ex.set_defaults(fn=cmd_export)
    im = with_config("import", "backfill history from an OpenMetrics file with timestamps")
    im.add_argument("history", type=Path, help="OpenMetrics text with explicit timestamps (as promtool reads)")
    im.add_argument(
        "--max-merge-rows", type=_positive_int, metavar="N",
        help="the largest merge while importing, in rows, which bounds its memory (about 100 bytes a row; "
        "default 1,000,000, never above agent.compaction.max_merge_rows)",
    )
    im.set_defaults(fn=cmd_import)
    db = with_config("dashboard", "start the Streamlit dashboard alone")
    db.add_argument("--port", type=int, default=8501, help="the port the dashboard listens on (default 8501)")
    db.add_argument(
        "--address", default="127.0.0.1",
        help="the address it listens on (default 127.0.0.1; any other needs dashboard.auth in the config, "
        "or --insecure-no-auth)",
    )
    db.add_argument(
        "--insecure-no-auth", action="store_true",
        help="listen on a non-loopback --address without authentication (prints a warning)",
    )
    db.set_defaults(fn=cmd_dashboard)
    rp = with_config(
        "report", "write the monthly review as one self-contained HTML page (and/or a PDF of it)",
        "Write one HTML page, with no external requests (inline SVG): per dimension the objectives, "
        "budgets used, incidents, spend against budget and cost per 1k. --pdf writes the same page as "
        "PDF (needs the pdf extra: pip install 'redline[pdf]').",
    )
    rp.add_argument("--out", "-o", type=Path, metavar="FILE.html", help="where to write the page")
    rp.add_argument("--pdf", type=Path, metavar="FILE.pdf",
                    help="also (or only) write the report as PDF, charts as vector graphics (the pdf extra)")
    rp.add_argument("--at", type=instant, default="now", metavar="TIME", help=f"as of this time: {at_help}")
    rp.add_argument("--period", type=duration, default="30d", metavar="DURATION",
                    help="how far back incidents are listed (default 30d)")
    rp.set_defaults(fn=cmd_report)
    hp = command(
        "hash-password", "print the scrypt hash of a dashboard password (read from the terminal or stdin)",
        "Print the scrypt hash of a dashboard password, for the environment variable named by "
        "dashboard.auth.password.hash_env (default REDLINE_DASHBOARD_PASSWORD_HASH).",
    )
    hp.set_defaults(fn=cmd_hash_password)
    de = command("demo", "start a simulated fleet, the agent and the dashboard on 127.0.0.1")
    de.add_argument("--dir", type=Path, default=Path("redline-demo"), help="working folder for the demo's data")
    de.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    de.add_argument("--no-dashboard", action="store_true", help="do not start the dashboard")
    de.add_argument(
        "--timeline", choices=sorted(TIMELINES), default="real",
        help="real (default): incident at +40 s, page within two minutes, 30 days of history; "
        "fast: the same story 8x faster on 3 days of history, scraped every second (for tests)",
    )
    de.set_defaults(fn=cmd_demo)
    from redline.agent.alert_commands import register as register_alert_commands  # silence, ack, gate

    register_alert_commands(sub, with_config, instant, duration, now_s)
    return p


def _run(args: argparse.Namespace) -> int:
    """Run the command; turn every expected error into one line and its exit code."""
    try:
        return int(args.fn(args))
    except CommandError as exc:
        print(f"redline: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except ConfigError as exc:
        print(f"redline: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except RedlineError as exc:  # the store, a notifier: a failure while running
        print(f"redline: error: {exc}", file=sys.stderr)
        return EXIT_RUNTIME
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except OSError as exc:
        from redline.agent.selfmetrics import ListenError

        if isinstance(exc, ListenError):  # a port the demo's agent wanted was taken meanwhile
            print(f"redline: error: {exc}: {_listen_hint(exc.errno, 'the port')}", file=sys.stderr)
            return EXIT_USAGE
        if exc.filename is None:
            raise
        what = f"{exc.filename}: {exc.strerror or exc}"
        print(f"redline: error: {what}: {_file_hint(exc, str(exc.filename))}", file=sys.stderr)
        return EXIT_RUNTIME


def _quiet_stdout() -> None:
    """Point stdout at /dev/null: the reader is gone, and Python's own flush at exit would
    otherwise print a second BrokenPipeError (the recipe in Python's ``signal`` documentation)."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def main(argv: Sequence[str] | None = None, *, clock: Callable[[], float] = time.time) -> int:
    """Entry point of the ``redline`` console script; returns the exit code (see ``EXIT_*``).

    ``clock`` is "now" for the relative times in ``argv`` (``--at -2h``), read once.
    """
    try:
        args = _parser(clock()).parse_args(_join_time_values(sys.argv[1:] if argv is None else argv))
    except SystemExit as exc:  # a usage error (argparse printed it) or --help
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    logging.basicConfig(
        level=getattr(logging, str(args.log_level).upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for chatty in ("apscheduler", "httpx", "httpcore"):  # one line per job run or request
        logging.getLogger(chatty).setLevel(max(logging.WARNING, logging.getLogger().level))
    try:
        code = _run(args)
        sys.stdout.flush()  # here, where a closed pipe can be caught, not at interpreter exit
        return code
    except BrokenPipeError:
        _quiet_stdout()
        return EXIT_BROKEN_PIPE
    except Exception as exc:  # a bug: the traceback is what a report needs
        traceback.print_exc()
        print(f"redline: error: unexpected {type(exc).__name__}: please report it with the traceback above",
              file=sys.stderr)
        return EXIT_RUNTIME


if __name__ == "__main__":
    sys.exit(main())
