"""The OpenSLO v1 and Sloth ``prometheus/v1`` files a config names (``slo_files``), relative to the config.

```yaml
slo_files:
  - {path: slos/openslo.yaml, format: openslo}
  - {path: slos/sloth.yaml, format: sloth, backend: prom}   # queries run on source prom as written
```

``read_documents`` is the only I/O; ``specs_from_documents`` turns parsed documents into
objectives (the translators themselves live in ``redline.slo.openslo`` and ``redline.slo.sloth``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from redline.kernel.errors import ConfigError
from redline.slo.openslo import load_openslo
from redline.slo.sloth import load_sloth
from redline.slo.spec import SLOSpec

__all__ = ["SpecFile", "load_spec_files", "read_documents", "specs_from_documents"]


class SpecFile(BaseModel):
    """One entry of ``slo_files``: a path (relative to the config file) and its format."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: Path
    format: Literal["openslo", "sloth"]
    backend: str | None = Field(default=None, min_length=1)
    """A ``promql`` source that runs the file's queries as written (``{{.window}}`` set to each
    window); unset, the queries are translated into objectives over the embedded store."""


def specs_from_documents(
    fmt: Literal["openslo", "sloth"], documents: list[Any], source: str, backend: str | None = None
) -> tuple[list[SLOSpec], list[str]]:
    """The objectives in ``documents`` and the notes on what was read but not applied; raises
    ``ConfigError`` naming ``source`` and the field for anything Redline cannot honour. With
    ``backend``, every query is a query SLI run on that source as written."""
    notes: list[str] = []
    if fmt == "openslo":
        return load_openslo(documents, source, notes, backend), notes
    specs: list[SLOSpec] = []
    for document in documents:
        result = load_sloth(document, source, backend)
        specs += result.specs
        notes += result.notes
    return specs, notes


class SpecFileUnreadable(ConfigError):
    """A spec file that cannot be read as YAML at all (missing, not UTF-8, broken YAML): the
    config loader names the ``slo_files`` entry that points at it."""


def yaml_where(exc: yaml.YAMLError) -> str:
    """`` at line 3, column 4: expected <block end>…``: where the YAML broke and why, on one line
    (``str(exc)`` spans several and quotes ``<unicode string>``)."""
    mark = getattr(exc, "problem_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return f"{where}: {getattr(exc, 'problem', None) or exc}"


def not_utf8(path: Path, exc: UnicodeDecodeError) -> str:
    """The one line for a file that is not UTF-8 text: where the first bad byte is, and what to do."""
    return f"{path}: not UTF-8 text (byte {exc.start} is {exc.object[exc.start]:#04x}): save it as UTF-8"


def read_documents(path: Path) -> list[Any]:
    """Every YAML document in ``path``; ``SpecFileUnreadable`` naming the file when it cannot be read."""
    try:
        return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]
    except OSError as exc:
        raise SpecFileUnreadable(f"{path}: cannot read spec file: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise SpecFileUnreadable(not_utf8(path, exc)) from exc
    except yaml.YAMLError as exc:
        raise SpecFileUnreadable(f"{path}: not valid YAML{yaml_where(exc)}") from exc


def load_spec_files(files: list[SpecFile], base: Path) -> tuple[list[SLOSpec], list[str]]:
    """The objectives of every file (relative paths from ``base``), and the loaders' notes."""
    specs: list[SLOSpec] = []
    notes: list[str] = []
    for entry in files:
        path = entry.path if entry.path.is_absolute() else base / entry.path
        found, said = specs_from_documents(entry.format, read_documents(path), str(path), entry.backend)
        specs += found
        notes += said
    return specs, notes
