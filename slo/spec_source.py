"""Where a peer spec's objectives and problems come from: documents, messages, and the error.

Importers (``slo.sloth``, ``slo.openslo``, ``slo.pyrra``…) take already-loaded YAML data and say
what they found as ``SpecMessage``s: the file, the document, the path inside it
(``slos[0].sli.events.errorQuery``), and the value as loaded. They collect every problem of a
file before raising one ``SpecProblems`` (a ``ConfigError``), so a user fixes a file in one pass.
``redline.config.spec_files`` knows the YAML text and adds the line and the value exactly as
written; ``str()`` here is the fallback without the text (tests, library use).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Final

from redline.kernel.errors import ConfigError
from redline.slo.spec import SLOSpec

__all__ = [
    "NO_VALUE",
    "ImportResult",
    "Imported",
    "Loc",
    "Problems",
    "SpecDocument",
    "SpecMessage",
    "SpecProblems",
    "documents",
    "loc_path",
    "shown_value",
]

Loc = tuple[str | int, ...]


class _NoValue:
    def __repr__(self) -> str:
        return "NO_VALUE"


NO_VALUE: Final = _NoValue()
"""A message about a key as a whole (missing, or a mapping): no value to show."""


@dataclass(frozen=True)
class SpecDocument:
    """One YAML document of a spec file: ``index`` counts the file's non-empty documents from 0."""

    source: str
    index: int
    data: Any


def loc_path(loc: Loc) -> str:
    """``("slos", 0, "sli")`` → ``slos[0].sli``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def shown_value(value: object, limit: int = 120) -> str:
    """A loaded value as YAML would write it (``null``, ``true``, ``2022-01-01 12:00:00``), on one
    line and at most ``limit`` characters: never a Python repr."""
    if value is None:
        text = "null"
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, datetime):
        text = value.isoformat(sep=" ")
    elif isinstance(value, date | int | float | str):
        text = str(value)
    elif isinstance(value, dict):
        text = "{" + ", ".join(f"{k}: {shown_value(v, limit)}" for k, v in value.items()) + "}"
    elif isinstance(value, list | tuple):
        text = "[" + ", ".join(shown_value(v, limit) for v in value) + "]"
    else:
        text = str(value)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class SpecMessage:
    """A problem or a note about one place of one document: ``text`` says why, without the value,
    which the renderer shows as written (``value`` is the loaded one, for ``str()``)."""

    source: str
    document: int
    loc: Loc
    text: str
    value: object = field(default=NO_VALUE, compare=False)

    def __str__(self) -> str:
        doc = f"document {self.document + 1}: " if self.document else ""
        shown = "" if self.value is NO_VALUE else f" = {shown_value(self.value)}"
        return f"{self.source}: {doc}{loc_path(self.loc)}{shown}: {self.text}"


class SpecProblems(ConfigError):
    """Everything wrong in the spec files read together, one message a line (see ``SpecMessage``)."""

    def __init__(self, problems: Sequence[SpecMessage]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class Problems:
    """Collects the problems of one import, so that every one is reported, not just the first."""

    def __init__(self) -> None:
        self.found: list[SpecMessage] = []

    def add(self, doc: SpecDocument, loc: Loc, text: str, value: object = NO_VALUE) -> None:
        """Record a problem at ``loc`` of ``doc``; ``value`` is the loaded value there, if any."""
        self.found.append(SpecMessage(doc.source, doc.index, loc, text, value))

    def extend(self, messages: Iterable[SpecMessage]) -> None:
        """Record problems found elsewhere (a nested import)."""
        self.found.extend(messages)

    def raise_if_any(self) -> None:
        """``SpecProblems`` with every problem recorded, if there is one."""
        if self.found:
            raise SpecProblems(self.found)


@dataclass(frozen=True)
class Imported:
    """One objective, the document it came from and where in it (the SLO's name)."""

    source: str
    document: int
    spec: SLOSpec
    loc: Loc = ()


@dataclass
class ImportResult:
    """What an importer understood: objectives with their origin, and notes on what it read but
    did not apply (each at its place in the file)."""

    objectives: list[Imported] = field(default_factory=list)
    notes: list[SpecMessage] = field(default_factory=list)

    @property
    def specs(self) -> list[SLOSpec]:
        """The objectives alone."""
        return [o.spec for o in self.objectives]

    def note(self, doc: SpecDocument, loc: Loc, text: str, value: object = NO_VALUE) -> None:
        """Record a note at ``loc`` of ``doc``."""
        self.notes.append(SpecMessage(doc.source, doc.index, loc, text, value))

    def merge(self, other: ImportResult) -> None:
        """Add ``other``'s objectives and notes to these."""
        self.objectives += other.objectives
        self.notes += other.notes


def documents(datas: Iterable[Any], source: str) -> list[SpecDocument]:
    """Loaded YAML documents of one file as ``SpecDocument``s (empty ones skipped, as a reader does)."""
    return [SpecDocument(source, i, d) for i, d in enumerate(d for d in datas if d is not None)]
