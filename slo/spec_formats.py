"""Which peer format a loaded YAML document is, and importing documents of every format together.

Detected from the document itself: Sloth by ``version: prometheus/v1`` or ``apiVersion:
sloth.slok.dev/v1`` + ``kind: PrometheusServiceLevel``; OpenSLO by ``apiVersion: openslo/…``
(or a top-level list of such objects); Pyrra by ``apiVersion: pyrra.dev/…`` + ``kind:
ServiceLevelObjective``; slo-generator by ``apiVersion: sre.google.com/v2`` or its v1 keys
(``service_name``, ``slo_name``, ``backend``). OpenSLO documents of all files are imported in
one pass, so references resolve across files.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from redline.slo.openslo import load_openslo
from redline.slo.promql_translate import syntax_problem
from redline.slo.pyrra import load_pyrra
from redline.slo.slo_generator import load_slo_generator
from redline.slo.sloth import is_sloth, load_sloth
from redline.slo.spec_source import Imported, ImportResult, Problems, SpecDocument, SpecMessage, SpecProblems

__all__ = ["FORMATS", "SpecGroup", "detect_format", "import_documents"]

FORMATS: Final = ("openslo", "sloth", "pyrra", "slo-generator")


def detect_format(data: object) -> str | None:
    """The format of one loaded document (see the module docstring), ``None`` when none fits."""
    if isinstance(data, list):
        return "openslo" if data and all(detect_format(item) == "openslo" for item in data) else None
    if not isinstance(data, dict):
        return None
    if is_sloth(data):
        return "sloth"
    api = data.get("apiVersion")
    if isinstance(api, str):
        if api.startswith("openslo/"):
            return "openslo"
        if api.startswith("pyrra.dev/"):
            return "pyrra"
        if api.startswith("sre.google.com/"):
            return "slo-generator"
    if {"service_name", "slo_name", "backend"} <= set(data):
        return "slo-generator"
    return None


_EXPECTED = (
    "expected a Sloth spec (version: prometheus/v1, or apiVersion: sloth.slok.dev/v1 kind: "
    "PrometheusServiceLevel), OpenSLO (apiVersion: openslo/v1), Pyrra (apiVersion: pyrra.dev/v1alpha1) "
    "or slo-generator (apiVersion: sre.google.com/v2)"
)

@dataclass(frozen=True)
class SpecGroup:
    """The documents of one ``slo_files`` entry, with its ``format`` (``None``: detect), its
    ``backend``, and the window of formats whose files have none (Sloth, slo-generator)."""

    documents: Sequence[SpecDocument]
    format: str | None = None
    backend: str | None = None
    window_s: float | None = None


def import_documents(
    groups: Sequence[SpecGroup], found_by_pattern: frozenset[str] = frozenset()
) -> tuple[ImportResult, dict[str, set[str]]]:
    """The objectives and notes of every document, and the formats found in each source.

    A document of no known format is a problem, except in a source found by a folder or glob
    (``found_by_pattern``), where it is skipped with a note (a Kubernetes manifest beside the
    specs). Raises ``SpecProblems`` with every problem of every document.
    """
    problems = Problems()
    result = ImportResult()
    formats: dict[str, set[str]] = {}
    openslo: list[SpecDocument] = []
    backends: dict[str, str | None] = {}
    for group in groups:
        wanted, backend = group.format, group.backend
        for doc in group.documents:
            found = detect_format(doc.data)
            if found is None and doc.source in found_by_pattern:
                result.note(doc, _where(doc.data), "skipped: not a spec Redline reads (found in a folder or by a glob)")
                continue
            if found is None:
                problems.add(doc, _where(doc.data), f"not a spec Redline reads: {_EXPECTED}")
                continue
            if wanted is not None and found != wanted:
                problems.add(doc, _where(doc.data), f"this is a {found} document; the slo_files entry says "
                             f"format {wanted} (leave format out to detect it)")
                continue
            formats.setdefault(doc.source, set()).add(found)
            if found == "openslo":
                openslo.append(doc)
                backends[doc.source] = backend
                continue
            try:
                result.merge(_IMPORTERS[found](doc, group))
            except SpecProblems as exc:
                problems.extend(exc.problems)
    if openslo:
        try:
            result.merge(load_openslo(openslo, backends=backends))
        except SpecProblems as exc:
            problems.extend(exc.problems)
    first: dict[str, Imported] = {}
    for o in result.objectives:
        _note_dialect(o, result)
        if o.spec.name in first:
            was = first[o.spec.name]
            problems.found.append(SpecMessage(o.source, o.document, o.loc, f"a second objective named {o.spec.name} "
                                              f"(the first is in {was.source}): objective names are unique"))
        first.setdefault(o.spec.name, o)
    problems.raise_if_any()
    return result, formats


def _note_dialect(o: Imported, result: ImportResult) -> None:
    """A query run as written that is not PromQL (MetricsQL for VictoriaMetrics, say) runs on its
    backend, which may read it; ``redline rules`` leaves the objective out (``slo.rules``)."""
    sli = o.spec.sli.query
    if sli is None:
        return
    for side, query in sli.queries().items():
        problem = syntax_problem(query)
        if problem is not None:
            result.notes.append(SpecMessage(o.source, o.document, o.loc, (
                f"{o.spec.name}: its {side} query is not PromQL ({problem}): it runs as written on backend "
                f"{sli.source}; `redline rules` leaves this objective out")))
            return


def _where(data: object) -> tuple[str, ...]:
    if isinstance(data, dict):
        for key in ("apiVersion", "version"):
            if key in data:
                return (key,)
    return ()


def _sloth(doc: SpecDocument, group: SpecGroup) -> ImportResult:
    return load_sloth(doc.data, doc.source, group.backend, index=doc.index, window_s=group.window_s)


def _pyrra(doc: SpecDocument, group: SpecGroup) -> ImportResult:
    return load_pyrra(doc.data, doc.source, group.backend, index=doc.index)


def _slo_generator(doc: SpecDocument, group: SpecGroup) -> ImportResult:
    return load_slo_generator(doc.data, doc.source, group.backend, index=doc.index, window_s=group.window_s)


_IMPORTERS = {"sloth": _sloth, "pyrra": _pyrra, "slo-generator": _slo_generator}
