"""Objectives kept in OpenSLO v1 or Sloth ``prometheus/v1`` files, named from the Redline config.

```yaml
slo_files:
  - {path: slos/openslo.yaml, format: openslo}
  - {path: slos/sloth.yaml, format: sloth}
```

Paths are relative to the config file. What Redline cannot honour is a ``ConfigError`` naming
the file and the field (raised by the loaders); what it reads but does not apply (alert policy
names, annotations) comes back as notes for ``redline check`` to print.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict

from slo.openslo import load_openslo
from slo.sloth import load_sloth
from slo.spec import SLOSpec
from store.errors import ConfigError

__all__ = ["SpecFile", "load_spec_files"]


class SpecFile(BaseModel):
    """One spec file named by the config's ``slo_files``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: Path
    format: Literal["openslo", "sloth"]


def _documents(path: Path) -> list[Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read spec file: {exc.strerror or exc}") from exc
    try:
        return [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc


def load_spec_files(files: list[SpecFile], base: Path) -> tuple[list[SLOSpec], list[str]]:
    """The objectives of every file (relative paths from ``base``), and the loaders' notes."""
    specs: list[SLOSpec] = []
    notes: list[str] = []
    for entry in files:
        path = entry.path if entry.path.is_absolute() else base / entry.path
        documents = _documents(path)
        if entry.format == "openslo":
            specs += load_openslo(documents, str(path), notes)
            continue
        for document in documents:
            result = load_sloth(document, str(path))
            specs += result.specs
            notes += result.notes
    return specs, notes
