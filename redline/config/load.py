"""Reading a Redline config file: one YAML document validated once, at load, into typed models.

A bad file fails with ``ConfigError`` naming the file, the line, the path inside it
(``slos[2].sli.ratio.total``) and what was expected. The agent, the dashboard and tools all
load through here.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import TypeAdapter, ValidationError

from redline.collectors.promql import PromQLConfig
from redline.collectors.registry import SOURCE_KINDS
from redline.config.models import LoadedConfig, RedlineConfig
from redline.config.spec_files import (
    FileReport,
    SpecFile,
    SpecFileUnreadable,
    compose_and_load,
    expand_paths,
    load_spec_files,
    not_utf8,
    yaml_where,
)
from redline.kernel.errors import ConfigError
from redline.kernel.units import format_duration
from redline.slo.alert_tiers import tier_problems

__all__ = ["load_config", "parse_config"]


_DISCRIMINATOR_TAGS = frozenset(SOURCE_KINDS) | {"webhook", "log"}


def _user_loc(loc: Sequence[int | str]) -> list[int | str]:
    """A pydantic error location without discriminator tags and validator names."""
    return [
        p for p in loc if isinstance(p, int) or (p not in _DISCRIMINATOR_TAGS and not p.startswith("function-"))
    ]


def _loc_to_path(loc: Sequence[int | str]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def _line_of(root: yaml.Node | None, loc: Sequence[int | str]) -> int | None:
    """The 1-based line of the deepest YAML node along ``loc`` (best effort)."""
    node = root
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            nxt = next((v for k, v in node.value if getattr(k, "value", None) == part), None)
            if nxt is None:
                key = next((k for k, _ in node.value if getattr(k, "value", None) == part), None)
                return key.start_mark.line + 1 if key is not None else line
            node = nxt
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            continue
        line = node.start_mark.line + 1
    return line


def _describe(error: Any) -> str:
    kind, msg = error["type"], error["msg"]
    if kind == "extra_forbidden":
        return "unknown key (not expected here)"
    if kind == "missing":
        return "required key is missing"
    if kind == "union_tag_invalid":
        return f"unknown kind {error['input'].get('kind')!r}: expected one of {error['ctx']['expected_tags']}"
    return str(msg).removeprefix("Value error, ")


def parse_config(
    text: str, path: Path, notes: list[str] | None = None, reports: list[FileReport] | None = None
) -> RedlineConfig:
    """Validate YAML ``text`` read from ``path``; raises ``ConfigError`` listing every problem.

    Objectives from ``slo_files`` (relative to ``path``'s folder) join ``slos`` before the
    checks that span them (unique names, retention); ``notes`` receives what those files said
    that Redline does not apply, and ``reports`` what was understood from each file.
    """
    try:
        root, raw = compose_and_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML{yaml_where(exc)}") from exc
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping with agent, sources, slos, alerting at the top")
    file_of: dict[int, int] = {}
    """Index in ``slos`` → index in ``slo_files`` of the objectives a spec file gave."""
    if raw.get("slo_files"):
        try:
            files = TypeAdapter(list[SpecFile]).validate_python(raw["slo_files"])
        except ValidationError as exc:
            raise ConfigError(_error_lines(exc, root, path, prefix=("slo_files",))) from exc
        try:
            imported = load_spec_files(files, path.parent)
        except SpecFileUnreadable as exc:
            loc = ["slo_files", getattr(exc, "entry", 0), "path"]
            raise ConfigError(_located(root, path, loc, str(exc))) from exc
        except ConfigError as exc:  # the spec files' problems, and then the config's own, all listed
            own_problems = ""
            try:
                RedlineConfig.model_validate({**raw, "slo_files": []})
            except ValidationError as invalid:
                own_problems = "\n" + _error_lines(invalid, root, path)
            raise ConfigError(f"{exc}{own_problems}") from exc
        own = list(raw.get("slos") or [])
        entry_of = {str(p): j for j, f in enumerate(files) for p in _paths_of(f, path.parent)}
        for k, source in enumerate(imported.sources):
            file_of[len(own) + k] = entry_of.get(source, 0)
        raw = {**raw, "slos": own + imported.specs}
        if notes is not None:
            notes += imported.notes
        if reports is not None:
            reports += imported.files
    try:
        config = RedlineConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_error_lines(exc, root, path)) from exc
    warnings: list[tuple[list[int | str], str]] = []
    problems = _query_sli_problems(config, file_of, warnings) + _alert_tier_problems(config, file_of)
    if notes is not None:
        notes += [_located(root, path, loc, why) for loc, why in warnings]
    if problems:
        raise ConfigError("\n".join(_located(root, path, loc, why) for loc, why in problems))
    return config


def _alert_tier_problems(config: RedlineConfig, file_of: dict[int, int]) -> list[tuple[list[int | str], str]]:
    """Custom alert tiers that make no burn-rate condition (a factor spending more than the budget,
    a short window not shorter than the long one), found at load rather than at the first alert."""
    return [
        (["slo_files", file_of[i]] if i in file_of else ["slos", i, "alerting", "tiers", j], why)
        for i, spec in enumerate(config.slos)
        for j, why in tier_problems(spec)
    ]


def _query_sli_problems(
    config: RedlineConfig, file_of: dict[int, int], warnings: list[tuple[list[int | str], str]]
) -> list[tuple[list[int | str], str]]:
    """Where and why a query SLI cannot run: it names a ``promql`` source (for an objective from a
    spec file: the file's ``backend``) that collects often enough for its staleness and whose
    labels leave the answers' labels alone. A ``promql`` source with neither queries nor a query
    SLI that runs on it is allowed (a spec file may use it later) and goes to ``warnings``."""
    sources = {s.name: s for s in config.sources}
    used: set[str] = set()
    problems: list[tuple[list[int | str], str]] = []
    for i, spec in enumerate(config.slos):
        sli = spec.sli.query
        if sli is None:
            continue
        source = sources.get(sli.source)
        if source is None or source.kind != "promql":
            promql = sorted(n for n, s in sources.items() if s.kind == "promql")
            found = "no source of that name" if source is None else f"a {source.kind!r} source"
            loc: list[int | str] = ["slo_files", file_of[i], "backend"] if i in file_of else [
                "slos", i, "sli", "query", "source"
            ]
            if any(loc == seen for seen, _ in problems):
                continue  # a spec file's backend: said once for all its objectives
            problems.append((loc, (
                f"{sli.source!r} is {found}; objective {spec.name!r} runs on a promql source "
                f"(promql sources: {', '.join(promql) or 'none'})"
            )))
            continue
        used.add(source.name)
        if sli.staleness is not None and sli.staleness < 2 * source.interval:
            problems.append((["slos", i, "sli", "query", "staleness"], (
                f"{format_duration(sli.staleness)} is shorter than twice the interval of source {source.name!r} "
                f"({format_duration(source.interval)}): the answers for objective {spec.name!r} would go stale "
                f"between collections; set staleness to at least {format_duration(2 * source.interval)}"
            )))
    misnamed = any(loc[-1] in ("source", "backend") for loc, _ in problems)
    for i, src in enumerate(config.sources):
        if not isinstance(src, PromQLConfig):
            continue
        if not src.queries and src.name not in used and not misnamed:
            warnings.append((["sources", i, "queries"], (
                f"warning: source {src.name} has no queries, and no objective's query SLI runs on it, so it "
                "collects nothing: give it queries to record, or name it as a spec file's backend"
            )))
        clash = sorted({"slo", "side", "window"} & set(src.labels))
        if clash and src.name in used:
            problems.append((["sources", i, "labels"], (
                f"{', '.join(clash)}: source {src.name!r} answers query SLIs, whose recorded answers carry "
                "these labels; rename the source's labels"
            )))
    return problems


def _error_lines(exc: ValidationError, root: yaml.Node | None, path: Path, prefix: tuple[str, ...] = ()) -> str:
    """One line per problem: ``file:line: path.inside: what was expected``."""
    return "\n".join(
        _located(root, path, [*prefix, *_user_loc(err["loc"])], _describe(err)) for err in exc.errors()
    )


def _located(root: yaml.Node | None, path: Path, loc: Sequence[int | str], why: str) -> str:
    """``file:line: path.inside: why``."""
    line = _line_of(root, loc)
    return f"{f'{path}:{line}' if line else path}: {_loc_to_path(loc) or '(top level)'}: {why}"


def load_config(path: Path) -> LoadedConfig:
    """Read and validate a config file; raises ``ConfigError`` on any problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(not_utf8(path, exc)) from exc
    notes: list[str] = []
    reports: list[FileReport] = []
    config = parse_config(text, path, notes, reports)
    return LoadedConfig(config, path.resolve(), tuple(notes), tuple(reports))


def _paths_of(entry: Any, base: Path) -> list[Path]:
    return expand_paths(entry.path, base)
