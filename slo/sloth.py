"""Load Sloth ``prometheus/v1`` specs into ``SLOSpec`` objectives for the embedded store.

Supported (a field not listed is a ``ConfigError`` naming it, never dropped):

- ``version: prometheus/v1``, ``service``, ``labels``;
- ``slos[]``: ``name`` (the objective is ``<service>-<name>``), ``objective`` (percent),
  ``description``, ``labels``;
- ``sli.events.error_query`` / ``total_query`` (ratio, or latency when the errors are
  ``count - bucket{le=…}``) and ``sli.raw.error_ratio_query`` (only the shapes of
  ``slo.promql_translate.translate_error_ratio``); ``sli.plugin`` is refused. Every query must
  contain ``{{.window}}``;
- ``alerting``: ``labels`` go into the objective's labels; ``annotations.runbook`` (or
  ``runbook_url``) becomes ``runbook_url``; ``name``, the other annotations and
  ``page_alert``/``ticket_alert`` (names, labels, annotations, ``disable``) cannot be held by an
  objective (Redline's alert policy is global), so they are returned as notes for the caller
  to show.

The window is Sloth's default, 30 days (``SLOSpec``'s default too). Loaded with a ``backend``
(a ``promql`` source), the queries are not translated: each becomes a query SLI run on that
source as written, ``{{.window}}`` set to every window (``slo.query_sli``); any PromQL works.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from redline.kernel.errors import ConfigError
from redline.slo.promql_translate import WINDOW_PLACEHOLDER_RE, ratio_measures, translate_error_ratio, translate_ratio
from redline.slo.spec import LatencySLI, QuerySLI, RatioSLI, SLOSpec

__all__ = ["SlothResult", "load_sloth"]

_TOP_KEYS = frozenset({"version", "service", "labels", "slos"})
_SLO_KEYS = frozenset({"name", "objective", "description", "labels", "sli", "alerting"})
_ALERTING_KEYS = frozenset({"name", "labels", "annotations", "page_alert", "ticket_alert"})


_SLI_KEY: dict[type, str] = {RatioSLI: "ratio", LatencySLI: "latency", QuerySLI: "query"}


@dataclass(frozen=True)
class SlothResult:
    """The objectives of one Sloth document, and what of it an objective cannot hold."""

    specs: list[SLOSpec]
    notes: list[str] = field(default_factory=list)


def _fail(source: str, path: str, why: str) -> ConfigError:
    return ConfigError(f"{source}: {path}: {why}")


def _mapping(value: object, source: str, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(source, path, f"expected a mapping, got {type(value).__name__}")
    return value


def _str_map(value: object, source: str, path: str) -> dict[str, str]:
    raw = _mapping(value, source, path) if value is not None else {}
    return {str(k): str(v) for k, v in raw.items()}


def _unknown(raw: dict[str, Any], allowed: frozenset[str], source: str, path: str) -> None:
    extra = sorted(set(raw) - allowed)
    if extra:
        raise _fail(source, f"{path}.{extra[0]}", f"not a Sloth prometheus/v1 field Redline reads (expected one of "
                    f"{', '.join(sorted(allowed))})")


def _query(sli: dict[str, Any], key: str, source: str, path: str) -> str:
    value = sli.get(key)
    if not isinstance(value, str) or not value.strip():
        raise _fail(source, f"{path}.{key}", "required query is missing")
    if not WINDOW_PLACEHOLDER_RE.search(value):
        raise _fail(source, f"{path}.{key}", f"query {value!r} has no {{{{.window}}}} placeholder: "
                    "Sloth substitutes each alert window there")
    return value


def _sli(raw: dict[str, Any], source: str, path: str, backend: str | None) -> RatioSLI | LatencySLI | QuerySLI:
    sli = _mapping(raw.get("sli"), source, f"{path}.sli")
    kinds = sorted(k for k in ("events", "raw", "plugin") if k in sli)
    if len(kinds) != 1 or set(sli) - {"events", "raw", "plugin"}:
        raise _fail(source, f"{path}.sli", f"expected exactly one of events, raw, plugin; got {sorted(sli)}")
    kind = kinds[0]
    if kind == "plugin":
        raise _fail(source, f"{path}.sli.plugin", "SLI plugins are Go code run by Sloth; Redline cannot run them")
    body = _mapping(sli[kind], source, f"{path}.sli.{kind}")
    try:
        if kind == "events":
            _unknown(body, frozenset({"error_query", "total_query"}), source, f"{path}.sli.events")
            errors = _query(body, "error_query", source, f"{path}.sli.events")
            total = _query(body, "total_query", source, f"{path}.sli.events")
            if backend is not None:
                measures = ratio_measures(errors, total, good=False)
                return QuerySLI(source=backend, errors=errors, total=total, measures=measures)
            return translate_ratio(errors, total, good=False)
        _unknown(body, frozenset({"error_ratio_query"}), source, f"{path}.sli.raw")
        ratio = _query(body, "error_ratio_query", source, f"{path}.sli.raw")
        if backend is not None:
            return QuerySLI(source=backend, error_ratio=ratio, measures=ratio_measures(ratio))
        return translate_error_ratio(ratio)
    except ConfigError as exc:
        if str(exc).startswith(source):
            raise
        raise _fail(source, f"{path}.sli.{kind}", str(exc)) from exc


def _alerting(
    raw: object, name: str, source: str, path: str, notes: list[str]
) -> tuple[dict[str, str], str | None]:
    if raw is None:
        return {}, None
    alerting = _mapping(raw, source, path)
    _unknown(alerting, _ALERTING_KEYS, source, path)
    labels = _str_map(alerting.get("labels"), source, f"{path}.labels")
    annotations = _str_map(alerting.get("annotations"), source, f"{path}.annotations")
    runbook = annotations.pop("runbook", None) or annotations.pop("runbook_url", None)
    kept = []
    if "name" in alerting:
        kept.append(f"name {alerting['name']!r}")
    if annotations:
        kept.append(f"annotations {sorted(annotations)}")
    for key in ("page_alert", "ticket_alert"):
        if alerting.get(key):
            kept.append(f"{key} {alerting[key]!r}")
    if kept:
        notes.append(
            f"{source}: {name}: {path}: " + "; ".join(kept)
            + " not applied: Redline's page/ticket alerts come from its own alerting config"
        )
    return labels, runbook


def load_sloth(document: dict[str, Any], source: str, backend: str | None = None) -> SlothResult:
    """Objectives from one Sloth ``prometheus/v1`` document read from ``source`` (a file name).

    With ``backend`` (a ``promql`` source) the queries become query SLIs run there as written;
    without, they are translated into native objectives over the embedded store. Raises
    ``ConfigError`` naming ``source``, the SLO and the field for anything Redline cannot honour:
    another version, a missing ``{{.window}}``, an SLI plugin, a query shape the embedded store
    cannot evaluate (without a backend), an unknown field.
    """
    doc = _mapping(document, source, "(top level)")
    if doc.get("version") != "prometheus/v1":
        raise _fail(source, "version", f"expected 'prometheus/v1', got {doc.get('version')!r}")
    _unknown(doc, _TOP_KEYS, source, "(top level)")
    service = doc.get("service")
    if not isinstance(service, str) or not service:
        raise _fail(source, "service", "required service name is missing")
    common = _str_map(doc.get("labels"), source, "labels")
    slos = doc.get("slos")
    if not isinstance(slos, list) or not slos:
        raise _fail(source, "slos", "expected a non-empty list of SLOs")
    specs: list[SLOSpec] = []
    notes: list[str] = []
    for i, item in enumerate(slos):
        raw = _mapping(item, source, f"slos[{i}]")
        name = raw.get("name")
        path = f"slos[{i}] ({name})" if name else f"slos[{i}]"
        if not isinstance(name, str) or not name:
            raise _fail(source, f"{path}.name", "required SLO name is missing")
        _unknown(raw, _SLO_KEYS, source, path)
        sli = _sli(raw, source, path, backend)
        alert_labels, runbook = _alerting(raw.get("alerting"), f"{service}-{name}", source, f"{path}.alerting", notes)
        labels = {**common, **_str_map(raw.get("labels"), source, f"{path}.labels"), **alert_labels}
        body: dict[str, Any] = {
            "name": f"{service}-{name}",
            "description": str(raw.get("description") or ""),
            "objective": raw.get("objective"),
            "sli": {_SLI_KEY[type(sli)]: sli},
            "labels": labels,
            "runbook_url": runbook,
        }
        try:
            specs.append(SLOSpec.model_validate(body))
        except ValidationError as exc:
            first = exc.errors()[0]
            field_path = ".".join(str(p) for p in first["loc"])
            raise _fail(source, f"{path}.{field_path}", str(first["msg"]).removeprefix("Value error, ")) from exc
    return SlothResult(specs, notes)
