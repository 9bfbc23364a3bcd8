"""Load Sloth specs, both forms, into ``SLOSpec`` objectives.

- ``version: prometheus/v1`` (snake_case keys: ``error_query``, ``page_alert``, ``slo_plugins``);
- the Kubernetes CRD ``apiVersion: sloth.slok.dev/v1``, ``kind: PrometheusServiceLevel`` (the same
  spec under ``spec:``, camelCase keys: ``errorQuery``, ``pageAlert``, ``sloPlugins``).

Each SLO becomes the objective ``<service>-<name>`` (Sloth's ``sloth_id``) over Sloth's default
30-day window. ``labels`` (the service's, then the SLO's) go on the objective, so on every record
and alert; ``alerting`` becomes ``SLOSpec.alerting``: its ``name`` (the alert's name),
``labels`` and ``annotations`` (alerts only), and the page/ticket roles with ``disable``,
``labels``, ``annotations``. An ``annotations.runbook``/``runbook_url`` is also the objective's
``runbook_url``.

SLIs: ``events`` (errors over total) and ``raw`` (an error ratio). Without a backend the queries
are translated into native objectives (``slo.promql_translate``); with one (a ``promql`` source)
they run there as written. An SLI ``plugin`` is Go code only Sloth runs: refused, naming the
plugin and showing the ``events`` form to write instead. SLO plugins (``slo_plugins``,
``plugins.chain``) load; each is named in a note as applied (Redline does what it does) or not,
with the reason.

Every problem of a document is collected (``slo.spec_source.Problems``) and raised together.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from redline.kernel.errors import ConfigError
from redline.slo.promql_translate import WINDOW_PLACEHOLDER_RE, ratio_measures, translate_error_ratio, translate_ratio
from redline.slo.spec import AlertingSpec, AlertRoleSpec, LatencySLI, QuerySLI, RatioSLI, SLOSpec
from redline.slo.spec_source import Imported, ImportResult, Loc, Problems, SpecDocument

__all__ = ["CRD_API_VERSION", "CRD_KIND", "SLOTH_VERSION", "is_sloth", "load_sloth"]

SLOTH_VERSION = "prometheus/v1"
CRD_API_VERSION = "sloth.slok.dev/v1"
CRD_KIND = "PrometheusServiceLevel"

_SNAKE = {
    "error_query": "error_query", "total_query": "total_query", "error_ratio_query": "error_ratio_query",
    "page_alert": "page_alert", "ticket_alert": "ticket_alert", "slo_plugins": "slo_plugins",
    "override_previous": "overridePrevious",
}
_CAMEL = {
    "error_query": "errorQuery", "total_query": "totalQuery", "error_ratio_query": "errorRatioQuery",
    "page_alert": "pageAlert", "ticket_alert": "ticketAlert", "slo_plugins": "sloPlugins",
    "override_previous": "overridePrevious",
}

_SLOTH_WINDOW_S = 30 * 86400.0
"""Sloth's default SLO period (its ``--default-slo-period``)."""

_PLUGINS: dict[str, tuple[bool, str]] = {
    "sloth.dev/core/validate/v1": (True, "Redline validates every spec when it loads it"),
    "sloth.dev/core/sli_rules/v1": (True, "`redline rules` records the SLI error ratios for every window"),
    "sloth.dev/core/metadata_rules/v1": (True, "`redline rules` records the objective and the budget left"),
    "sloth.dev/core/alert_rules/v1": (True, "Redline pages and tickets on multiwindow burn rates"),
    "sloth.dev/core/noop/v1": (True, "it does nothing"),
    "sloth.dev/core/debug/v1": (True, "it only logs in Sloth"),
    "sloth.dev/contrib/info_labels/v1": (False, "Redline writes no sloth_slo_info series to add labels to"),
    "sloth.dev/contrib/rule_intervals/v1": (False, "Redline's rule groups use the ruler's evaluation interval"),
    "sloth.dev/contrib/remove_labels/v1": (False, "Redline keeps the objective's labels on every record"),
    "sloth.dev/contrib/denominator_corrected_rules/v1": (
        False, "Redline records plain error ratios per window, not denominator-corrected ones"),
    "sloth.dev/contrib/error_budget_exhausted_alert/v1": (
        False, "Redline has no budget-exhausted alert; the burn-rate alerts page first"),
    "sloth.dev/contrib/validate_victoria_metrics/v1": (
        False, "Redline reads PromQL; MetricsQL-only queries run as written on a backend source"),
}


def is_sloth(data: object) -> bool:
    """Whether a loaded YAML document is a Sloth spec (either form)."""
    if not isinstance(data, dict):
        return False
    return data.get("version") == SLOTH_VERSION or (
        data.get("apiVersion") == CRD_API_VERSION and data.get("kind") == CRD_KIND
    )


class _Reader:
    """One Sloth document being read: its form's key names and the problems found so far."""

    def __init__(self, doc: SpecDocument, crd: bool, backend: str | None, window_s: float) -> None:
        self.doc = doc
        self.window_s = window_s
        self.crd = crd
        self.keys = _CAMEL if crd else _SNAKE
        self.backend = backend
        self.problems = Problems()
        self.result = ImportResult()

    def key(self, name: str, raw: dict[str, Any] | None = None) -> str:
        """The key for ``name`` in this form; in ``raw``, the other form's spelling when only it is
        there (Sloth's own CRD examples write ``page_alert``: both are read, in both forms)."""
        own = self.keys.get(name, name)
        other = (_SNAKE if self.crd else _CAMEL).get(name, name)
        return other if raw is not None and own not in raw and other in raw else own

    def keys_of(self, *names: str) -> set[str]:
        """Every accepted spelling of ``names``."""
        return {k for n in names for k in (_SNAKE.get(n, n), _CAMEL.get(n, n))}

    def fail(self, loc: Loc, text: str, value: object = None, *, show: bool = True) -> None:
        if show:
            self.problems.add(self.doc, loc, text, value)
        else:
            self.problems.add(self.doc, loc, text)

    def mapping(self, parent: dict[str, Any], key: str, loc: Loc, *, required: bool = False) -> dict[str, Any] | None:
        value = parent.get(key)
        if value is None:
            if required:
                self.fail((*loc, key), "required mapping is missing", show=False)
            return None
        if not isinstance(value, dict):
            self.fail((*loc, key), "expected a mapping", value)
            return None
        return value

    def unknown(self, raw: dict[str, Any], allowed: set[str], loc: Loc) -> None:
        form = f"{CRD_KIND} ({CRD_API_VERSION})" if self.crd else SLOTH_VERSION
        for extra in sorted(set(raw) - allowed, key=str):
            self.fail((*loc, extra), f"not a field of Sloth {form} (expected one of {', '.join(sorted(allowed))})",
                      show=False)

    def str_map(self, parent: dict[str, Any], key: str, loc: Loc) -> dict[str, str]:
        raw = self.mapping(parent, key, loc)
        out: dict[str, str] = {}
        for k, v in (raw or {}).items():
            if isinstance(v, dict | list) or v is None:
                self.fail((*loc, key, k), "expected a text value", v)
            else:
                out[str(k)] = "true" if v is True else "false" if v is False else str(v)
        return out


def load_sloth(
    data: object, source: str, backend: str | None = None, *, index: int = 0, window_s: float | None = None
) -> ImportResult:
    """Objectives from one Sloth document (either form) read from ``source`` (a file name).

    With ``backend`` (a ``promql`` source) the queries become query SLIs run there as written;
    without, they are translated into native objectives over the embedded store. ``window_s`` is
    Sloth's ``--default-slo-period`` (30 days unset). Raises
    ``SpecProblems`` listing every problem of the document (each with its path and value).
    """
    doc = SpecDocument(source, index, data)
    crd = isinstance(data, dict) and data.get("apiVersion") == CRD_API_VERSION
    r = _Reader(doc, crd, backend, window_s or _SLOTH_WINDOW_S)
    if not isinstance(data, dict):
        r.fail((), "expected a mapping", data)
        r.problems.raise_if_any()
        return r.result
    base: Loc = ()
    body: dict[str, Any] | None = data
    if crd:
        if data.get("kind") != CRD_KIND:
            r.fail(("kind",), f"expected {CRD_KIND} for apiVersion {CRD_API_VERSION}", data.get("kind"))
        r.unknown(data, {"apiVersion", "kind", "metadata", "spec", "status"}, ())
        base = ("spec",)
        body = r.mapping(data, "spec", (), required=True)
        top = {"service", "labels", "sloPlugins", "slo_plugins", "slos"}
    else:
        if data.get("version") != SLOTH_VERSION:
            r.fail(("version",), f"expected {SLOTH_VERSION} (or apiVersion {CRD_API_VERSION})", data.get("version"))
        top = {"version", "service", "labels", "slo_plugins", "sloPlugins", "slos"}
    if body is not None:
        r.unknown(body, top, base)
        _document(r, body, base)
    r.problems.raise_if_any()
    return r.result


def _document(r: _Reader, body: dict[str, Any], base: Loc) -> None:
    service = body.get("service")
    if not isinstance(service, str) or not service:
        r.fail((*base, "service"), "required service name is missing", service, show=service is not None)
        service = "service"
    common = r.str_map(body, "labels", base)
    group_plugins = _plugin_chain(r, body, r.key("slo_plugins", body), base)
    slos = body.get("slos")
    if not isinstance(slos, list) or not slos:
        r.fail((*base, "slos"), "expected a non-empty list of SLOs", slos, show=slos is not None)
        return
    for i, item in enumerate(slos):
        loc = (*base, "slos", i)
        if not isinstance(item, dict):
            r.fail(loc, "expected a mapping (one SLO)", item)
            continue
        _slo(r, item, loc, service, common, group_plugins)


def _slo(
    r: _Reader, raw: dict[str, Any], loc: Loc, service: str, common: dict[str, str],
    group_plugins: list[tuple[Loc, str]],
) -> None:
    before = len(r.problems.found)
    r.unknown(raw, {"name", "objective", "description", "labels", "sli", "alerting", "plugins"}, loc)
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        r.fail((*loc, "name"), "required SLO name is missing", name, show=name is not None)
        name = f"slo{loc[-1]}"
    objective = raw.get("objective")
    if isinstance(objective, bool) or not isinstance(objective, int | float) or not 0 < objective < 100:
        r.fail((*loc, "objective"), "expected a percentage above 0 and below 100 (99.9 for 99.9%)", objective,
               show=objective is not None)
    sli = _sli(r, raw, loc)
    alerting, runbook = _alerting(r, raw, loc)
    labels = {**common, **r.str_map(raw, "labels", loc)}
    plugins = _plugin_chain(r, raw, "plugins", loc)
    if len(r.problems.found) > before or sli is None:
        return
    full = f"{service}-{name}"
    key = {RatioSLI: "ratio", LatencySLI: "latency", QuerySLI: "query"}[type(sli)]
    body: dict[str, Any] = {
        "name": full, "description": str(raw.get("description") or ""), "objective": objective,
        "sli": {key: sli}, "labels": labels, "runbook_url": runbook, "alerting": alerting, "window": r.window_s,
    }
    try:
        spec = SLOSpec.model_validate(body)
    except ValidationError as exc:
        for err in exc.errors():
            field = err["loc"][0] if err["loc"] else "name"
            r.fail((*loc, "name" if field == "name" else str(field)),
                   str(err["msg"]).removeprefix("Value error, "), err.get("input"))
        return
    r.result.objectives.append(Imported(r.doc.source, r.doc.index, spec, (*loc, "name")))
    for ploc, pid in _effective_plugins(r, group_plugins, plugins, raw):
        applied, why = _PLUGINS.get(pid, (False, "a plugin of your own is Go code only Sloth runs"))
        r.result.note(r.doc, ploc, f"{full}: SLO plugin {pid} {'applied' if applied else 'not applied'}: {why}")


def _plugin_chain(r: _Reader, parent: dict[str, Any], key: str, loc: Loc) -> list[tuple[Loc, str]]:
    """The ids of a ``plugins``/``slo_plugins`` chain, each with its place."""
    block = r.mapping(parent, key, loc)
    if block is None:
        return []
    r.unknown(block, {"chain", *r.keys_of("override_previous")}, (*loc, key))
    chain = block.get("chain") or []
    if not isinstance(chain, list):
        r.fail((*loc, key, "chain"), "expected a list of plugins", chain)
        return []
    out: list[tuple[Loc, str]] = []
    for j, plugin in enumerate(chain):
        ploc = (*loc, key, "chain", j)
        if not isinstance(plugin, dict) or not isinstance(plugin.get("id"), str):
            r.fail(ploc, "expected a plugin {id: ..., config: ..., priority: ...}", plugin)
            continue
        r.unknown(plugin, {"id", "config", "priority"}, ploc)
        out.append(((*ploc, "id"), plugin["id"]))
    return out


def _effective_plugins(
    r: _Reader, group: list[tuple[Loc, str]], own: list[tuple[Loc, str]], raw: dict[str, Any]
) -> list[tuple[Loc, str]]:
    """The plugins applied to one SLO: the group's then its own, or its own alone when it
    overrides the previous ones (as Sloth chains them)."""
    block = raw.get("plugins")
    if isinstance(block, dict) and block.get(r.key("override_previous", block)):
        return own
    return group + own


def _query(r: _Reader, body: dict[str, Any], name: str, loc: Loc) -> str | None:
    key = r.key(name, body)
    value = body.get(key)
    if not isinstance(value, str) or not value.strip():
        r.fail((*loc, key), "required query is missing", value, show=value is not None)
        return None
    if not WINDOW_PLACEHOLDER_RE.search(value):
        r.fail((*loc, key), "the query has no {{.window}} placeholder: Sloth puts each alert window there, "
               "as in rate(x[{{.window}}])", value)
        return None
    return value


def _sli(r: _Reader, raw: dict[str, Any], loc: Loc) -> RatioSLI | LatencySLI | QuerySLI | None:
    sli = r.mapping(raw, "sli", loc, required=True)
    if sli is None:
        return None
    sloc = (*loc, "sli")
    kinds = [k for k in ("events", "raw", "plugin") if k in sli]
    r.unknown(sli, {"events", "raw", "plugin"}, sloc)
    if len(kinds) != 1:
        r.fail(sloc, f"expected exactly one of events, raw, plugin (found {', '.join(kinds) or 'none'})", show=False)
        return None
    kind = kinds[0]
    body = r.mapping(sli, kind, sloc, required=True)
    if body is None:
        return None
    kloc = (*sloc, kind)
    if kind == "plugin":
        _plugin_sli(r, body, kloc)
        return None
    if kind == "events":
        r.unknown(body, r.keys_of("error_query", "total_query"), kloc)
        errors, total = _query(r, body, "error_query", kloc), _query(r, body, "total_query", kloc)
        if errors is None or total is None:
            return None
        if r.backend is not None:
            return QuerySLI(source=r.backend, errors=errors, total=total, measures=ratio_measures(errors, total))
        return _translated(r, kloc, lambda: translate_ratio(errors, total, good=False))
    r.unknown(body, r.keys_of("error_ratio_query"), kloc)
    ratio = _query(r, body, "error_ratio_query", kloc)
    if ratio is None:
        return None
    if r.backend is not None:
        return QuerySLI(source=r.backend, error_ratio=ratio, measures=ratio_measures(ratio))
    return _translated(r, (*kloc, r.key("error_ratio_query", body)), lambda: translate_error_ratio(ratio))


def _translated(
    r: _Reader, loc: Loc, translate: Callable[[], RatioSLI | LatencySLI]
) -> RatioSLI | LatencySLI | None:
    try:
        return translate()
    except ConfigError as exc:
        r.fail(loc, f"{exc}; or give this file a `backend:` (a promql source) to run the queries there as written",
               show=False)
        return None


def _plugin_sli(r: _Reader, body: dict[str, Any], loc: Loc) -> None:
    pid = body.get("id")
    options = body.get("options") or {}
    given = ", ".join(f"{k}={v}" for k, v in options.items()) if isinstance(options, dict) else ""
    ek, tk = r.key("error_query"), r.key("total_query")
    r.fail(
        (*loc, "id"),
        f"SLI plugin {pid}{f' (options {given})' if given else ''} is Go code only Sloth runs; write the queries "
        f"it generates as an events SLI instead: sli: {{events: {{{ek}: 'sum(rate(ERRORS[{{{{.window}}}}]))', "
        f"{tk}: 'sum(rate(TOTAL[{{{{.window}}}}]))'}}}}",
        pid, show=pid is not None,
    )


def _role(r: _Reader, alerting: dict[str, Any], name: str, loc: Loc) -> AlertRoleSpec:
    key = r.key(name, alerting)
    raw = r.mapping(alerting, key, loc)
    if raw is None:
        return AlertRoleSpec()
    rloc = (*loc, key)
    r.unknown(raw, {"disable", "labels", "annotations"}, rloc)
    disable = raw.get("disable", False)
    if not isinstance(disable, bool):
        r.fail((*rloc, "disable"), "expected true or false", disable)
        disable = False
    return AlertRoleSpec(
        disable=disable, labels=r.str_map(raw, "labels", rloc), annotations=r.str_map(raw, "annotations", rloc)
    )


def _alerting(r: _Reader, raw: dict[str, Any], loc: Loc) -> tuple[AlertingSpec, str | None]:
    alerting = r.mapping(raw, "alerting", loc)
    if alerting is None:
        return AlertingSpec(), None
    aloc = (*loc, "alerting")
    r.unknown(alerting, {"name", "labels", "annotations", *r.keys_of("page_alert", "ticket_alert")}, aloc)
    name = alerting.get("name")
    if name is not None and (not isinstance(name, str) or not name):
        r.fail((*aloc, "name"), "expected an alert name", name)
        name = None
    annotations = r.str_map(alerting, "annotations", aloc)
    spec = AlertingSpec(
        name=name, labels=r.str_map(alerting, "labels", aloc), annotations=annotations,
        page=_role(r, alerting, "page_alert", aloc), ticket=_role(r, alerting, "ticket_alert", aloc),
    )
    return spec, annotations.get("runbook_url") or annotations.get("runbook")
