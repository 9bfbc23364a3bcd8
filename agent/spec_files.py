"""Reading the OpenSLO and Sloth files a config names (``slo_files``), relative to the config.

```yaml
slo_files:
  - {path: slos/openslo.yaml, format: openslo}
  - {path: slos/sloth.yaml, format: sloth, backend: prom}   # queries run on source prom as written
```
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from redline.kernel.errors import ConfigError
from redline.slo.spec import SLOSpec
from redline.slo.specfiles import SpecFile, specs_from_documents

__all__ = ["load_spec_files", "read_documents"]


def read_documents(path: Path) -> list[Any]:
    """Every YAML document in ``path``; ``ConfigError`` naming the file when it cannot be read."""
    try:
        return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read spec file: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc


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
