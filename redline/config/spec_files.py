"""The peer spec files a config names (``slo_files``): read, detected by format, imported together.

```yaml
slo_files:
  - slos/                                   # a folder: every .yaml/.yml file in it and below
  - {path: "teams/*/slo.yaml"}              # a glob
  - {path: slos/sloth.yaml, backend: prom}  # queries run on promql source prom as written
  - {path: legacy.yaml, format: openslo}    # a format, checked against each document
```

Each document's format is detected from its ``apiVersion``/``kind`` (``slo.spec_formats``);
OpenSLO documents of every file are imported together, so an SLO may reference an SLI,
DataSource, Service or AlertPolicy defined in another file. This module is the only I/O: it
reads the files, keeps their YAML nodes, and places every problem and note of the importers at
its file and line with the value exactly as written there (``file:line: path = value: why``).
"""

from __future__ import annotations

import glob
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from redline.kernel.config_types import DurationSeconds
from redline.kernel.errors import ConfigError
from redline.slo.spec import SLOSpec
from redline.slo.spec_source import NO_VALUE, ImportResult, Loc, SpecDocument, SpecMessage, SpecProblems, loc_path

if TYPE_CHECKING:
    from redline.slo.spec_formats import SpecGroup

__all__ = [
    "FileReport",
    "SpecFile",
    "SpecFileUnreadable",
    "SpecImport",
    "expand_paths",
    "line_of",
    "load_spec_files",
    "read_documents",
]

SpecFormat = Literal["openslo", "sloth", "pyrra", "slo-generator"]


def _path_alone(value: object) -> object:
    return {"path": value} if isinstance(value, str) else value


class _SpecFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str = Field(min_length=1)
    """A file, a folder (every ``.yaml``/``.yml`` in it and below) or a glob, relative to the config."""
    format: SpecFormat | None = None
    """Unset: detected per document from ``apiVersion``/``kind`` (``version`` for Sloth)."""
    backend: str | None = Field(default=None, min_length=1)
    """A ``promql`` source that runs the files' queries as written (``{{.window}}`` set to each
    window); unset, the queries are translated into objectives over the embedded store."""
    window: DurationSeconds | None = None
    """The window of formats whose files have none: Sloth's ``--default-slo-period`` (30d unset)
    and slo-generator's (28d unset)."""


SpecFile = Annotated[_SpecFile, BeforeValidator(_path_alone)]
"""One entry of ``slo_files``: a path alone, or ``{path, format, backend}``."""


class SpecFileUnreadable(ConfigError):
    """A spec file that cannot be read as YAML at all (missing, not UTF-8, broken YAML), or a path
    that matches no file: the config loader names the ``slo_files`` entry."""


_FAST_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's safe loader where PyYAML was built with it: a 1,000-objective config loads in 0.39
CPU s instead of 1.44 s, with the same documents and node marks."""


def compose_and_load(text: str) -> tuple[yaml.Node | None, Any]:
    """The YAML node tree (for locating problems) and the document of ``text``. Broken YAML is
    read again by the pure-Python loader, whose ``YAMLError`` is raised: its wording is the one
    ``yaml_where`` puts on one line (libyaml's says the same less clearly)."""
    try:
        return yaml.compose(text, Loader=_FAST_LOADER), yaml.load(text, Loader=_FAST_LOADER)
    except yaml.YAMLError:
        return yaml.compose(text, Loader=yaml.SafeLoader), yaml.load(text, Loader=yaml.SafeLoader)


def compose_and_load_all(text: str) -> tuple[list[yaml.Node], list[Any]]:
    """``compose_and_load`` for a stream of documents."""
    try:
        return list(yaml.compose_all(text, Loader=_FAST_LOADER)), list(yaml.load_all(text, Loader=_FAST_LOADER))
    except yaml.YAMLError:
        return list(yaml.compose_all(text, Loader=yaml.SafeLoader)), list(yaml.load_all(text, Loader=yaml.SafeLoader))


def yaml_where(exc: yaml.YAMLError) -> str:
    """`` at line 3, column 4: expected <block end>…``: where the YAML broke and why, on one line
    (``str(exc)`` spans several and quotes ``<unicode string>``)."""
    mark = getattr(exc, "problem_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return f"{where}: {getattr(exc, 'problem', None) or exc}"


def not_utf8(path: Path, exc: UnicodeDecodeError) -> str:
    """The one line for a file that is not UTF-8 text: where the first bad byte is, and what to do."""
    return f"{path}: not UTF-8 text (byte {exc.start} is {exc.object[exc.start]:#04x}): save it as UTF-8"


@dataclass(frozen=True)
class _Parsed:
    """One file's text, its non-empty documents and their YAML nodes (same order)."""

    path: Path
    text: str
    documents: list[Any]
    nodes: list[yaml.Node]


def _parse(path: Path) -> _Parsed:
    try:
        text = path.read_text(encoding="utf-8")
        nodes, documents = compose_and_load_all(text)
    except OSError as exc:
        raise SpecFileUnreadable(f"{path}: cannot read spec file: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise SpecFileUnreadable(not_utf8(path, exc)) from exc
    except yaml.YAMLError as exc:
        raise SpecFileUnreadable(f"{path}: not valid YAML{yaml_where(exc)}") from exc
    kept = [(d, n) for d, n in zip(documents, nodes, strict=True) if d is not None]
    return _Parsed(path, text, [d for d, _ in kept], [n for _, n in kept])


def read_documents(path: Path) -> list[Any]:
    """Every non-empty YAML document in ``path``; ``SpecFileUnreadable`` naming the file when it cannot be read."""
    return _parse(path).documents


def node_at(root: yaml.Node | None, loc: Loc) -> tuple[yaml.Node | None, bool]:
    """The YAML node at ``loc`` (or the deepest one found on the way), and whether it is exactly there."""
    node = root
    for part in loc:
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            found = next((v for k, v in node.value if getattr(k, "value", None) == part), None)
            if found is None:
                key = next((k for k, _ in node.value if getattr(k, "value", None) == part), None)
                return (key, False) if key is not None else (node, False)
            node = found
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            return node, False
    return node, True


def line_of(root: yaml.Node | None, loc: Loc) -> int | None:
    """The 1-based line of the node at ``loc`` (of the deepest one on the way)."""
    node, _ = node_at(root, loc)
    return node.start_mark.line + 1 if node is not None else None


def _written(text: str, node: yaml.Node) -> str:
    """A scalar exactly as the file writes it, on one line, at most 120 characters."""
    raw = " ".join(text[node.start_mark.index : node.end_mark.index].split())
    return raw if len(raw) <= 120 else raw[:119] + "…"


@dataclass
class _Located:
    """Renders importers' messages at their file and line with the value as written."""

    parsed: dict[str, _Parsed] = field(default_factory=dict)

    def render(self, message: SpecMessage) -> str:
        found = self.parsed.get(message.source)
        if found is None or message.document >= len(found.nodes):
            return str(message)
        node, exact = node_at(found.nodes[message.document], message.loc)
        where = f"{found.path}:{node.start_mark.line + 1}" if node is not None else str(found.path)
        shown = ""
        if message.value is not NO_VALUE and exact and isinstance(node, yaml.ScalarNode):
            shown = f" = {_written(found.text, node)}"
        return f"{where}: {loc_path(message.loc)}{shown}: {message.text}"


@dataclass(frozen=True)
class FileReport:
    """What was understood from one spec file: its objectives and notes (rendered lines)."""

    path: str
    formats: tuple[str, ...]
    objectives: tuple[SLOSpec, ...]
    notes: tuple[str, ...]


@dataclass(frozen=True)
class SpecImport:
    """The objectives of every spec file (``sources``: the file of each), the notes (rendered),
    and a report per file."""

    specs: list[SLOSpec]
    sources: list[str]
    notes: list[str]
    files: list[FileReport]


def _full(pattern: str, base: Path) -> Path:
    path = Path(pattern).expanduser()
    return path if path.is_absolute() else base / path


def _is_pattern(pattern: str, base: Path) -> bool:
    """Whether a ``slo_files`` path names files by a folder or a glob (not one file by name)."""
    return glob.has_magic(pattern) or _full(pattern, base).is_dir()


def expand_paths(pattern: str, base: Path) -> list[Path]:
    """The files a ``slo_files`` path names: itself, every YAML file under a folder, or a glob's matches."""
    full = _full(pattern, base)
    if glob.has_magic(pattern):
        return sorted(Path(p) for p in glob.glob(str(full), recursive=True) if Path(p).is_file())
    if full.is_dir():
        return sorted(p for p in full.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
    return [full]


def load_spec_files(entries: list[_SpecFile], base: Path) -> SpecImport:
    """Read, detect and import every file the ``entries`` name (relative to ``base``).

    Raises ``SpecFileUnreadable`` for the first file that cannot be read (its ``.entry`` is the
    index of the ``slo_files`` entry), and ``ConfigError`` listing every problem of every file,
    each at its file and line.
    """
    # The importers (OpenSLO, Sloth, Pyrra, slo-generator and their PromQL reader) load here, when a
    # config names spec files, not with every config.
    from redline.slo.spec_formats import SpecGroup, import_documents

    located = _Located()
    groups: list[SpecGroup] = []
    by_pattern: set[str] = set()
    for j, entry in enumerate(entries):
        paths = expand_paths(entry.path, base)
        if not paths:
            err = SpecFileUnreadable(f"{entry.path}: matches no file under {base}")
            err.entry = j  # type: ignore[attr-defined]
            raise err
        docs: list[SpecDocument] = []
        for path in paths:
            try:
                parsed = _parse(path)
            except SpecFileUnreadable as exc:
                exc.entry = j  # type: ignore[attr-defined]
                raise
            located.parsed[str(path)] = parsed
            if _is_pattern(entry.path, base):
                by_pattern.add(str(path))
            docs += [SpecDocument(str(path), i, d) for i, d in enumerate(parsed.documents)]
        groups.append(SpecGroup(docs, entry.format, entry.backend, entry.window))
    try:
        result, formats = import_documents(groups, frozenset(by_pattern))
    except SpecProblems as exc:
        raise ConfigError("\n".join(located.render(p) for p in exc.problems)) from exc
    return _report(result, formats, located)


def _report(result: ImportResult, formats: dict[str, set[str]], located: _Located) -> SpecImport:
    files: list[FileReport] = []
    for source in located.parsed:
        files.append(FileReport(
            path=source,
            formats=tuple(sorted(formats.get(source, set()))),
            objectives=tuple(o.spec for o in result.objectives if o.source == source),
            notes=tuple(located.render(n) for n in result.notes if n.source == source),
        ))
    notes = [located.render(n) for n in result.notes]
    return SpecImport(result.specs, [o.source for o in result.objectives], notes, files)

