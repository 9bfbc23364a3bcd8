"""Helpers for the tests of the peer-spec importers: the published examples and the problems an
importer lists."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from redline.slo.spec_source import ImportResult, SpecProblems

PEER = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "peer-specs"


def peer_doc(path: Path) -> dict[str, Any]:
    """The one YAML document of a published example."""
    doc = yaml.safe_load(path.read_text())
    assert isinstance(doc, dict)
    return doc


def problems_of(load: Callable[..., ImportResult], doc: Any, source: str, **kwargs: Any) -> list[str]:
    """Every problem ``load`` lists for ``doc``, one string each (it must raise)."""
    with pytest.raises(SpecProblems) as err:
        load(doc, source, **kwargs)
    return [str(p) for p in err.value.problems]
