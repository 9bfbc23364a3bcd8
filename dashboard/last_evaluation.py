"""The agent's last evaluation as a file in the data directory, so the dashboard paints from it
instead of evaluating every objective again.

The agent writes it after each evaluation (``redline.agent.last_evaluation``, atomically: a temp
file renamed over the old one); the dashboard reads it. Both sides use this module, so the format
lives once: ``{"format": FORMAT, "evaluated_at": s, "config_fingerprint": hex, "store_generation":
int | null, "newest_sample_ms": int | null, "report": <status --json>}``, where each objective
also carries its ``window_seconds`` (which ``status --json`` leaves out).

The file is only a shortcut: one that is missing, stale, written for another config, or unreadable
is ignored (``read_last_evaluation`` says why) and the dashboard evaluates by itself.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from redline.config import LoadedConfig
from redline.slo.checkpoint import fingerprints
from redline.slo.results import StatusReport

__all__ = [
    "FILE_NAME",
    "FORMAT",
    "FRESH_INTERVALS",
    "LastEvaluation",
    "Reading",
    "config_fingerprint",
    "decode",
    "encode",
    "judge",
    "load",
    "read_last_evaluation",
]

FILE_NAME: Final = "last-evaluation.json"
FORMAT: Final = "redline.last-evaluation/1"
FRESH_INTERVALS: Final = 2
"""A file older than this many evaluate intervals is stale: the agent is late or stopped."""


def config_fingerprint(config: LoadedConfig) -> str:
    """A hash of what changes an evaluation's answer: every objective and guardrail as validated
    (the per-definition hashes the engine's checkpoints are keyed by, ``slo.checkpoint``). The same
    config loaded by the agent and by the dashboard gives the same fingerprint."""
    each = fingerprints(config.config.slos, config.config.guardrails)
    return hashlib.sha256(json.dumps(each, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class LastEvaluation:
    """What the file holds: the report, when it was evaluated (Unix seconds) and for which config."""

    report: StatusReport
    evaluated_at: float
    config_fingerprint: str
    store_generation: int | None = None
    newest_sample_ms: int | None = None


def encode(last: LastEvaluation) -> bytes:
    """The file's bytes for ``last``."""
    report = last.report.to_json()
    for item, result in zip(report["objectives"], last.report.objectives, strict=True):
        item["window_seconds"] = result.window_seconds
    return json.dumps(
        {
            "format": FORMAT,
            "evaluated_at": last.evaluated_at,
            "config_fingerprint": last.config_fingerprint,
            "store_generation": last.store_generation,
            "newest_sample_ms": last.newest_sample_ms,
            "report": report,
        }
    ).encode()


class _File(BaseModel):
    """The file's shape; the report is validated straight into ``slo.results``' dataclasses (the
    extra keys of ``status --json``, such as ``unit`` and ``sli``, are derived there, so ignored)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    format: Literal["redline.last-evaluation/1"]
    evaluated_at: float
    config_fingerprint: str
    store_generation: int | None = None
    newest_sample_ms: int | None = None
    report: StatusReport


def decode(raw: bytes) -> LastEvaluation:
    """The evaluation ``raw`` holds; ``ValueError`` saying what is wrong with anything else."""
    try:
        found = _File.model_validate(json.loads(raw))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not JSON ({exc})") from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "the top level"
        raise ValueError(f"not a {FORMAT} file: {where}: {first['msg']}") from exc
    report = found.report
    report = StatusReport(report.at, tuple(report.dimensions), tuple(report.objectives))
    return LastEvaluation(
        report, found.evaluated_at, found.config_fingerprint, found.store_generation, found.newest_sample_ms
    )


Verdict = Literal["fresh", "missing", "stale", "other_config", "unreadable"]


@dataclass(frozen=True)
class Reading:
    """What ``read_last_evaluation`` found: the evaluation when it can be shown, else why not."""

    verdict: Verdict
    last: LastEvaluation | None = None
    why: str = ""


def judge(last: LastEvaluation, fingerprint: str, now_s: float, evaluate_interval_s: float, path: Path) -> Reading:
    """``last`` (read from ``path``) as the dashboard may use it: fresh (younger than
    ``FRESH_INTERVALS`` evaluate intervals at ``now_s``, either way: clocks differ) and written
    for the config whose fingerprint is ``fingerprint``; otherwise the verdict and why."""
    if last.config_fingerprint != fingerprint:
        return Reading("other_config", last, f"{path} was written for another config (its objectives differ)")
    age_s = now_s - last.evaluated_at
    limit_s = FRESH_INTERVALS * evaluate_interval_s
    if not math.isfinite(age_s) or abs(age_s) > limit_s:
        return Reading(
            "stale", last, f"the agent's last evaluation is {age_s:.0f} s old, more than {FRESH_INTERVALS} "
            f"evaluate intervals ({evaluate_interval_s:g} s)",
        )
    return Reading("fresh", last)


def load(path: Path) -> LastEvaluation | Reading:
    """The evaluation in ``path``, or a ``missing``/``unreadable`` reading saying why not. Never
    raises for the file's content or its absence."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return Reading("missing", why="the agent has not written an evaluation here")
    except OSError as exc:
        return Reading("unreadable", why=f"{path} cannot be read: {exc.strerror or exc}")
    try:
        return decode(raw)
    except ValueError as exc:
        return Reading("unreadable", why=f"{path} is {exc}")


def read_last_evaluation(path: Path, fingerprint: str, now_s: float, evaluate_interval_s: float) -> Reading:
    """``load`` then ``judge``: the evaluation in ``path`` when the dashboard may paint from it."""
    found = load(path)
    return found if isinstance(found, Reading) else judge(found, fingerprint, now_s, evaluate_interval_s, path)
