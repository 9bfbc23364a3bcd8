"""Objectives from OpenSLO v1 or Sloth ``prometheus/v1`` documents named by a config's ``slo_files``.

Pure: callers read the files (the agent and the dashboard both do) and pass the parsed YAML
documents here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from slo.openslo import load_openslo
from slo.sloth import load_sloth
from slo.spec import SLOSpec

__all__ = ["SpecFile", "specs_from_documents"]


class SpecFile(BaseModel):
    """One entry of ``slo_files``: a path (relative to the config file) and its format."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: Path
    format: Literal["openslo", "sloth"]


def specs_from_documents(
    fmt: Literal["openslo", "sloth"], documents: list[Any], source: str
) -> tuple[list[SLOSpec], list[str]]:
    """The objectives in ``documents`` and the notes on what was read but not applied; raises
    ``ConfigError`` naming ``source`` and the field for anything Redline cannot honour."""
    notes: list[str] = []
    if fmt == "openslo":
        return load_openslo(documents, source, notes), notes
    specs: list[SLOSpec] = []
    for document in documents:
        result = load_sloth(document, source)
        specs += result.specs
        notes += result.notes
    return specs, notes
