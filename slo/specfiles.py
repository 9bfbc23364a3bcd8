"""Objectives from OpenSLO v1 or Sloth ``prometheus/v1`` documents named by a config's ``slo_files``.

Pure: callers read the files (the agent and the dashboard both do) and pass the parsed YAML
documents here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from redline.slo.openslo import load_openslo
from redline.slo.sloth import load_sloth
from redline.slo.spec import SLOSpec

__all__ = ["SpecFile", "specs_from_documents"]


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
