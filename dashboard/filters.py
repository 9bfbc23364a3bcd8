"""The overview's filters (service, team, dimension, status), read from and written to the URL.

Pure: no Streamlit. An objective's service is its ``service`` label, else the value its selectors
all match ``service="…"`` on (``http_requests_total{service="api"}``), else a grouped member's
``service`` label; its team is its ``team`` label, else its ``owner`` label. In the URL each
filter is repeated or comma-separated (``?status=breached&status=warning``, ``?team=ml,data``);
a status may be written as shown (``no data``) or as ``status --json`` has it (``no_data``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from redline.config import LoadedConfig
from redline.kernel.labels import parse_labels
from redline.slo.groups import sli_selectors
from redline.slo.results import ObjectiveResult
from redline.slo.spec import GuardrailSpec, SLOSpec

__all__ = ["FILTERS", "Facets", "facet", "facets_of", "matches", "options", "wanted_from_query"]

FILTERS: Final = ("service", "team", "dimension", "status")
"""The overview's filters, in the order they are shown; each is a URL parameter of that name."""


@dataclass(frozen=True)
class Facets:
    """What an objective is filtered by, besides its dimension and status (empty when unknown)."""

    service: str = ""
    team: str = ""


def _service_of(spec: SLOSpec | GuardrailSpec) -> str:
    if spec.labels.get("service"):
        return spec.labels["service"]
    if isinstance(spec, GuardrailSpec):
        return ""
    found: set[str] = set()
    for selector in sli_selectors(spec):
        values = {m.value for m in selector.matchers if m.name == "service" and m.op == "="}
        if len(values) != 1:
            return ""  # a selector without one service: the objective spans several
        found |= values
    return found.pop() if len(found) == 1 else ""


def facets_of(config: LoadedConfig) -> dict[str, Facets]:
    """Each configured objective's and guardrail's facets by name (a grouped objective's members
    are looked up by ``facet``)."""
    specs: list[SLOSpec | GuardrailSpec] = [*config.config.slos, *config.config.guardrails]
    return {s.name: Facets(_service_of(s), s.labels.get("team") or s.labels.get("owner") or "") for s in specs}


def facet(result: ObjectiveResult, facets: Mapping[str, Facets]) -> Facets:
    """``result``'s facets: its objective's, or for a grouped member (``name{service="x"}``) its
    group's, with the member's own ``service`` and ``team`` labels taking precedence."""
    found = facets.get(result.name)
    if found is not None:
        return found
    base, brace, rest = result.name.partition("{")
    parent = facets.get(base, Facets())
    if not brace:
        return parent
    try:
        labels = parse_labels(rest.removesuffix("}"))
    except ValueError:
        return parent
    return Facets(labels.get("service", parent.service), labels.get("team", parent.team))


def _value(result: ObjectiveResult, facets: Mapping[str, Facets], name: str) -> str:
    if name == "dimension":
        return result.dimension
    if name == "status":
        return result.status
    found = facet(result, facets)
    return found.service if name == "service" else found.team


def options(results: Iterable[ObjectiveResult], facets: Mapping[str, Facets], name: str) -> list[str]:
    """The values filter ``name`` can take among ``results`` (sorted; unknown ones left out)."""
    return sorted({v for r in results if (v := _value(r, facets, name))})


def wanted_from_query(query: Mapping[str, Sequence[str]]) -> dict[str, tuple[str, ...]]:
    """Each filter's wanted values from the URL's parameters (repeated or comma-separated, blanks
    dropped, order kept, statuses as ``status --json`` spells them)."""
    out: dict[str, tuple[str, ...]] = {}
    for name in FILTERS:
        values = [v.strip() for raw in query.get(name, ()) for v in raw.split(",")]
        if name == "status":
            values = [v.lower().replace(" ", "_") for v in values]
        out[name] = tuple(dict.fromkeys(v for v in values if v))
    return out


def matches(result: ObjectiveResult, facets: Mapping[str, Facets], wanted: Mapping[str, Sequence[str]]) -> bool:
    """Whether ``result`` passes every filter (an empty filter passes everything)."""
    return all(not values or _value(result, facets, name) in values for name, values in wanted.items())
