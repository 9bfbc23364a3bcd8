"""``redline silence add|list|expire``, ``redline ack`` and ``redline gate``: the on-call's and the
deploy pipeline's commands on the alert database (``<data_dir>/alerts.sqlite``).

They work while the agent runs (SQLite in WAL mode, the agent reads silences at every
evaluation) and before it ever ran. Who did it is recorded (``created_by``, ``expired_by``,
``acked_by``): ``--by``, else the OS user.
``gate`` exits 1 with a one-line reason when an objective's error budget is exhausted or one of
its pages is firing, else 0: a deploy pipeline freezes releases on it.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from redline.config import LoadedConfig, load_config
from redline.kernel.errors import ConfigError
from redline.kernel.times import INSTANT_FORMS

if TYPE_CHECKING:
    from redline.alerts.state import AlertRecord

__all__ = ["GateVerdict", "gate", "register"]

_OK, _FAILED = 0, 1
ALERTS_FILE = "alerts.sqlite"


def _who(args: argparse.Namespace) -> str:
    if args.by:
        return str(args.by)
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no user name in the environment nor the password database
        return "unknown"


def _utc(seconds: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(seconds, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _config(args: argparse.Namespace) -> LoadedConfig:
    return load_config(args.config)


# -- silences ------------------------------------------------------------------------------------


def cmd_silence_add(args: argparse.Namespace) -> int:
    # Imported here, as in every command below: the CLI builds its parser (and imports this module)
    # for every command, and only these need the alert database.
    from redline.alerts.silences import SilenceStore, silence_matchers

    loaded = _config(args)
    try:
        grouped = any(s.name == args.slo and s.group_by for s in loaded.config.slos)
        matchers = silence_matchers(args.matchers, args.slo, grouped=grouped)
    except ValueError as exc:
        raise ConfigError(f"silence: {exc}") from exc
    starts = args.start if args.start is not None else args.now
    ends = args.end if args.end is not None else starts + args.duration
    store = SilenceStore(loaded.data_dir / ALERTS_FILE)
    try:
        silence = store.add(matchers, starts_at=starts, ends_at=ends, by=_who(args), now=args.now,
                            comment=args.comment)
    except ValueError as exc:
        raise ConfigError(f"silence: {exc}") from exc
    finally:
        store.close()
    print(silence.id)
    print(f"silenced {', '.join(str(m) for m in silence.matchers)} from {_utc(starts)} until {_utc(ends)} "
          f"(by {silence.created_by})", file=sys.stderr)
    return _OK


def cmd_silence_list(args: argparse.Namespace) -> int:
    from redline.alerts.silences import SilenceStore

    loaded = _config(args)
    store = SilenceStore(loaded.data_dir / ALERTS_FILE)
    try:
        shown = [s for s in store.silences() if args.all or s.state(args.now) != "expired"]
    finally:
        store.close()
    if args.json:
        print(json.dumps([s.to_json(args.now) for s in shown], indent=2))
        return _OK
    print(f"{'ID':<16}  {'STATE':<7}  {'ENDS (UTC)':<23}  {'BY':<12}  MATCHERS")
    for s in shown:
        print(f"{s.id:<16}  {s.state(args.now):<7}  {_utc(s.ends_at):<23}  {s.created_by:<12}  "
              f"{', '.join(str(m) for m in s.matchers)}" + (f"  # {s.comment}" if s.comment else ""))
    if not shown:
        print("(no silences)")
    return _OK


def cmd_silence_expire(args: argparse.Namespace) -> int:
    from redline.alerts.silences import SilenceStore

    loaded = _config(args)
    store = SilenceStore(loaded.data_dir / ALERTS_FILE)
    try:
        silence = store.expire(args.id, by=_who(args), now=args.now)
    except KeyError as exc:
        raise ConfigError(f"silence expire: {exc.args[0]}: see `redline silence list --all`") from exc
    finally:
        store.close()
    print(f"expired silence {silence.id} (by {silence.expired_by})")
    return _OK


# -- acknowledgements ----------------------------------------------------------------------------


def _firing_records(data_dir: Path) -> list[AlertRecord]:
    from redline.alerts.state import AlertStateStore

    path = data_dir / ALERTS_FILE
    if not path.exists():
        return []
    with AlertStateStore(path) as state:
        return [r for r in state.records() if r.state == "firing"]


def cmd_ack(args: argparse.Namespace) -> int:
    from redline.alerts.silences import SilenceStore

    if not args.key and not args.slo:
        raise ConfigError("ack: name the alert (e.g. api-availability/page) or give --slo NAME")
    loaded = _config(args)
    firing = _firing_records(loaded.data_dir)
    chosen = [r for r in firing if r.key == args.key or (args.slo and r.slo.split("{", 1)[0] == args.slo)]
    if not chosen:
        what = f"alert {args.key!r}" if args.key else f"objective {args.slo!r}"
        keys = ", ".join(r.key for r in firing) or "none"
        raise ConfigError(f"ack: no firing incident for {what} (firing now: {keys})")
    store = SilenceStore(loaded.data_dir / ALERTS_FILE)
    try:
        for r in chosen:
            assert r.started_at is not None  # a firing record has started
            store.acknowledge(r.key, r.started_at, by=_who(args), now=args.now, comment=args.comment)
            print(f"acknowledged {r.key} (firing since {_utc(r.started_at)}): no more repeats of this incident")
    finally:
        store.close()
    return _OK


# -- gate ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GateVerdict:
    """Whether releases of one objective may go ahead, and why."""

    slo: str
    open: bool
    reason: str
    budget_remaining: float | None = None
    pages_firing: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        """One objective in ``gate --json``."""
        return {"slo": self.slo, "open": self.open, "reason": self.reason,
                "budget_remaining": self.budget_remaining, "pages_firing": list(self.pages_firing)}


def gate(loaded: LoadedConfig, names: list[str], at_s: float) -> list[GateVerdict]:
    """The verdict for each configured objective in ``names`` (a ``group_by`` objective: every member)."""
    from redline.agent.status import compute_status
    from redline.slo.ranking import format_age

    report = compute_status(loaded, at_s)
    firing = [r for r in _firing_records(loaded.data_dir) if r.severity == "page"]
    verdicts = []
    for name in names:
        members = [o for o in report.objectives if o.name.split("{", 1)[0] == name]
        pages = [r for r in firing if r.slo.split("{", 1)[0] == name]
        exhausted = [o for o in members if o.budget_remaining is not None and o.budget_remaining <= 0]
        budgets = [o.budget_remaining for o in members if o.budget_remaining is not None]
        left = min(budgets) if budgets else None
        if exhausted:
            worst = min(exhausted, key=lambda o: o.budget_remaining or 0.0)
            assert worst.budget_remaining is not None
            reason = f"error budget exhausted: {(1 - worst.budget_remaining) * 100:.0f}% used ({worst.reason})"
            if worst.name != name:
                reason = f"{worst.name}: {reason}"
        elif pages:
            first = min(pages, key=lambda r: r.started_at or 0.0)
            since = format_age(at_s - first.started_at) if first.started_at is not None else "?"
            summary = first.annotations.get("summary", "")
            reason = f"page firing for {since}: {summary}" if summary else f"page {first.key} firing for {since}"
        elif left is None:
            reason = "no data to judge the budget; no page firing"
        else:
            reason = f"{left * 100:.0f}% of the error budget left; no page firing"
        verdicts.append(GateVerdict(name, not exhausted and not pages, reason, left,
                                    tuple(r.key for r in pages)))
    return verdicts


def cmd_gate(args: argparse.Namespace) -> int:
    loaded = _config(args)
    configured = [s.name for s in loaded.config.slos]
    if args.all:
        names = configured
    else:
        unknown = [n for n in args.slo if n not in configured]
        if unknown:
            raise ConfigError(f"gate: no objective named {', '.join(map(repr, unknown))} in {loaded.path} "
                              f"(objectives: {', '.join(configured) or 'none'})")
        names = list(dict.fromkeys(args.slo))
    verdicts = gate(loaded, names, args.at)
    if args.json:
        print(json.dumps({"open": all(v.open for v in verdicts), "at": args.at,
                          "objectives": [v.to_json() for v in verdicts]}, indent=2))
    else:
        for v in verdicts:
            print(f"{'open' if v.open else 'closed'}: {v.slo}: {v.reason}")
    return _OK if all(v.open for v in verdicts) else _FAILED


# -- grammar -------------------------------------------------------------------------------------


def register(
    sub: Any,
    with_config: Callable[..., argparse.ArgumentParser],
    instant: Callable[[str], Any],
    duration: Callable[[str], Any],
    now_s: float,
) -> None:
    """Add ``silence``, ``ack`` and ``gate`` to the ``redline`` parser's subcommands."""

    def config_flag(p: argparse.ArgumentParser) -> None:
        p.add_argument("--config", "-c", type=Path, required=True, metavar="FILE", help="the Redline YAML config")
        p.set_defaults(now=now_s)

    def by_flag(p: argparse.ArgumentParser) -> None:
        p.add_argument("--by", help="who does it (recorded; default: the OS user)")

    si = sub.add_parser("silence", help="mute alerts by objective, label matchers and time range",
                        description="Mute alerts matching every matcher (Alertmanager syntax) for a time range; "
                        "stored in the alert database and honoured by every notifier.")
    si_sub = si.add_subparsers(dest="silence_command", required=True, metavar="ACTION", help="add, list, expire")
    add = si_sub.add_parser("add", help="add a silence; prints its id",
                            description="Add a silence; prints its id. Matchers: name=value, name!=value, "
                            "name=~regex, name!~regex (regexes anchored), or a braced list {a=\"b\",c=~\"d\"}.")
    config_flag(add)
    add.add_argument("matchers", nargs="*", metavar="MATCHER", help='e.g. severity="page" team=~"ml-.*"')
    add.add_argument("--slo", help="only this objective's alerts (the matcher slo=NAME)")
    add.add_argument("--duration", type=duration, default="2h", metavar="DURATION", help="how long (default 2h)")
    add.add_argument("--start", type=instant, metavar="TIME", help=f"when it starts: {INSTANT_FORMS}; default now")
    add.add_argument("--end", type=instant, metavar="TIME", help="when it ends (instead of --duration)")
    add.add_argument("--comment", default="", help="why (shown by silence list)")
    by_flag(add)
    add.set_defaults(fn=cmd_silence_add)
    ls = si_sub.add_parser("list", help="list pending and active silences",
                           description="List pending and active silences (with --all also expired ones): id, "
                           "state, end, who created it, matchers and comment.")
    config_flag(ls)
    ls.add_argument("--all", action="store_true", help="also expired silences")
    ls.add_argument("--json", action="store_true", help="print a JSON list")
    ls.set_defaults(fn=cmd_silence_list)
    ex = si_sub.add_parser("expire", help="end a silence now",
                           description="End a silence now; who expired it is recorded (--by, else the OS user).")
    config_flag(ex)
    ex.add_argument("id", help="the silence's id (silence list)")
    by_flag(ex)
    ex.set_defaults(fn=cmd_silence_expire)

    ack = with_config("ack", "acknowledge a firing incident: its repeats stop",
                      "Acknowledge a firing incident (by alert key <slo>/<severity>, or every firing alert of "
                      "--slo): its repeat notifications stop; its resolve is still sent; a new incident is not "
                      "acknowledged.")
    ack.add_argument("key", nargs="?", help="the alert key, e.g. api-availability/page")
    ack.add_argument("--slo", help="every firing alert of this objective")
    ack.add_argument("--comment", default="", help="a note kept with the acknowledgement")
    by_flag(ack)
    ack.set_defaults(fn=cmd_ack, now=now_s)

    ga = with_config("gate", "exit 1 if an objective's budget is exhausted or a page fires (release gate)",
                     "A release gate: exit code 1 with a one-line reason when the objective's error budget is "
                     "exhausted or one of its pages is firing, 0 otherwise.")
    which = ga.add_mutually_exclusive_group(required=True)
    which.add_argument("--slo", action="append", default=[], help="the objective (repeat for several)")
    which.add_argument("--all", action="store_true", help="every configured objective")
    ga.add_argument("--at", type=instant, default="now", metavar="TIME", help=f"judge at this time: {INSTANT_FORMS}")
    ga.add_argument("--json", action="store_true", help='print {"open", "at", "objectives": [...]}')
    ga.set_defaults(fn=cmd_gate)
