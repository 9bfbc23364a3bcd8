"""The pydantic models of a Redline config file: the agent's settings, sources, objectives,
guardrails and alerting, validated once at load so business code never reads raw dicts.

Pure models: no file is read here (``redline.config.load`` reads and locates errors), and
nothing of the agent's runtime or of Streamlit is imported, so the dashboard and tools use the
same models the agent runs on.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from redline.collectors.limits import ByteCount
from redline.collectors.receiver_configs import OTLPReceiverConfig, RemoteWriteReceiverConfig
from redline.collectors.registry import SourceConfig
from redline.config.dashboard import DashboardSettings
from redline.config.notifiers import (
    AlertmanagerNotifierConfig,
    FileNotifierConfig,
    LogNotifierConfig,
    NotifierConfig,
    PagerDutyNotifierConfig,
    RouteConfig,
    SlackNotifierConfig,
    WebhookNotifierConfig,
)
from redline.config.spec_files import FileReport, SpecFile
from redline.kernel.config_types import DurationSeconds
from redline.kernel.units import format_duration
from redline.slo.spec import GuardrailSpec, SLOSpec

__all__ = [
    "AgentSettings",
    "AlertingConfig",
    "AlertmanagerNotifierConfig",
    "CompactionSettings",
    "FileNotifierConfig",
    "LoadedConfig",
    "LogNotifierConfig",
    "NotifierConfig",
    "PagerDutyNotifierConfig",
    "ReceiverConfig",
    "RedlineConfig",
    "RemoteWriteOutConfig",
    "RouteConfig",
    "SlackNotifierConfig",
    "WebhookNotifierConfig",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CompactionSettings(_Strict):
    """The store's compaction knobs (``redline.store.embedded.CompactionPolicy``): the memory of a
    compaction cycle, and so of an import, is bounded by ``max_merge_rows``."""

    max_merge_rows: Annotated[int, Field(ge=1)] = 10_000_000
    """The largest merge: no cycle reads more rows than this at once (about 160 bytes a row in
    memory); a closed day with more stays in several files."""
    small_run_rows: Annotated[int, Field(ge=0)] = 100_000
    """Runs that together hold fewer rows are merged at once."""
    merge_fanout: Annotated[int, Field(ge=2)] = 4
    """How many runs of a similar size make a merge (more: fewer rewrites, more files a day)."""


class AgentSettings(_Strict):
    """Where data lives, how often the agent works, and where it listens."""

    data_dir: Path = Path("./redline-data")
    evaluate_interval: DurationSeconds = 30.0
    compact_interval: DurationSeconds = 300.0
    checkpoint_interval: DurationSeconds = 600.0
    """How often the evaluator's state is written to ``data_dir/checkpoint/``, so a
    restart, ``redline status`` and the dashboard read it plus the samples since, not the window."""
    retention: DurationSeconds = 35 * 86400.0
    compaction: CompactionSettings = CompactionSettings()
    write_buffer_samples: Annotated[int, Field(ge=1)] = 1_000_000
    """Samples held in memory while the store cannot be written (full disk); then oldest dropped."""
    listen: Annotated[str, Field(pattern=r"^[^\s:]+:\d{1,5}$")] = "127.0.0.1:9464"

    @property
    def listen_host(self) -> str:
        """Host part of ``listen``."""
        return self.listen.rsplit(":", 1)[0]

    @property
    def listen_port(self) -> int:
        """Port part of ``listen``."""
        return int(self.listen.rsplit(":", 1)[1])


class AlertingConfig(_Strict):
    """Who is told, and how often a still-firing alert is repeated.

    ``routes`` send alerts to notifiers by their labels (first match, or ``continue``); an alert
    no route matches goes to ``default_notifiers`` (all notifiers when unset). ``queue_size``
    bounds each notifier's outbox: past it only repeats are dropped, never a state change.
    """

    notifiers: list[NotifierConfig] = Field(default_factory=list)
    routes: list[RouteConfig] = Field(default_factory=list)
    default_notifiers: list[str] | None = None
    repeat_interval: DurationSeconds = 4 * 3600.0
    external_url: str = "http://127.0.0.1:8501"
    dark_after: DurationSeconds = 900.0
    """An objective reading no data this long alerts that its SLI has gone dark."""
    source_down_for: DurationSeconds = 300.0
    """A source failing every collection this long raises a meta-alert."""
    watchdog_interval: DurationSeconds | None = None
    """Send the always-firing ``Watchdog`` heartbeat this often (off when unset)."""
    queue_size: Annotated[int, Field(ge=1)] = 10_000

    @model_validator(mode="after")
    def _routes_name_notifiers(self) -> AlertingConfig:
        known = {n.name for n in self.notifiers}
        named = [(f"routes[{i}].notifiers", r.notifiers) for i, r in enumerate(self.routes)]
        named.append(("default_notifiers", self.default_notifiers or []))
        for where, names in named:
            unknown = [n for n in names if n not in known]
            if unknown:
                raise ValueError(f"{where}: no notifier named {', '.join(map(repr, unknown))}")
        return self


class RemoteWriteOutConfig(_Strict):
    """``remote_write:``: push Redline's computed series to a Prometheus-compatible store
    (``redline.agent.remote_write_out``), e.g. one agent per cluster into one Mimir or Thanos."""

    name: Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9_.:-]+$")]
    url: Annotated[str, Field(pattern=r"^https?://")]
    headers_env: dict[str, str] = Field(default_factory=dict)
    """Header name → the environment variable holding its value (``Authorization``, ``X-Scope-OrgID``)."""
    external_labels: dict[str, str] = Field(default_factory=dict)
    """Added to every series pushed (``cluster: eu-1``), so the agents of a fleet stay apart."""
    timeout: DurationSeconds = 30.0
    max_samples_per_send: Annotated[int, Field(ge=1)] = 2000
    min_backoff: DurationSeconds = 0.03
    max_backoff: DurationSeconds = 5.0
    buffer_max_bytes: ByteCount = 64 * 1024 * 1024
    """The on-disk buffer: beyond, the oldest records are dropped (and counted)."""


ReceiverConfig = Annotated[OTLPReceiverConfig | RemoteWriteReceiverConfig, Field(discriminator="kind")]
"""A push receiver (``receivers:``), told apart by its ``kind``: ``otlp`` or ``remote_write``."""


class RedlineConfig(_Strict):
    """The whole file."""

    agent: AgentSettings = Field(default_factory=AgentSettings)
    sources: list[SourceConfig] = Field(default_factory=list)
    slos: list[SLOSpec] = Field(default_factory=list)
    slo_files: list[SpecFile] = Field(default_factory=list)
    """OpenSLO or Sloth files whose objectives join ``slos`` at load (see redline/config/spec_files.py)."""
    guardrails: list[GuardrailSpec] = Field(default_factory=list)
    alerting: AlertingConfig = Field(default_factory=AlertingConfig)
    receivers: list[ReceiverConfig] = Field(default_factory=list)
    """Push receivers (OTLP/HTTP metrics, Prometheus remote write): their samples take the path a
    source's do."""
    remote_write: list[RemoteWriteOutConfig] = Field(default_factory=list)
    """Stores Redline's computed series are pushed to (remote write 1.0)."""
    dashboard: DashboardSettings = Field(default_factory=DashboardSettings)
    """Who may see the dashboard (redline/config/dashboard.py)."""

    @model_validator(mode="after")
    def _names_are_unique(self) -> RedlineConfig:
        for section, names in (
            ("sources and receivers", [s.name for s in self.sources] + [r.name for r in self.receivers]),
            ("slos and guardrails", [s.name for s in self.slos] + [g.name for g in self.guardrails]),
            ("alerting.notifiers", [n.name for n in self.alerting.notifiers]),
            ("remote_write", [r.name for r in self.remote_write]),
        ):
            seen: set[str] = set()
            for name in names:
                if name in seen:
                    raise ValueError(f"{section}: the name {name!r} is used twice")
                seen.add(name)
        return self

    @property
    def longest_window_s(self) -> float:
        """The longest history any objective or guardrail reads (a budget's whole period)."""
        return max(
            [s.window for s in self.slos] + [g.history_seconds for g in self.guardrails],
            default=0.0,
        )

    @model_validator(mode="after")
    def _retention_covers_windows(self) -> RedlineConfig:
        longest = self.longest_window_s
        if longest > self.agent.retention:
            raise ValueError(
                f"agent.retention ({format_duration(self.agent.retention)}) is shorter than the longest "
                f"objective window or budget period ({format_duration(longest)}): old samples would be "
                "deleted while still needed"
            )
        return self


@dataclass(frozen=True)
class LoadedConfig:
    """A validated config plus where it came from; ``data_dir`` is resolved against its folder.

    ``notes`` holds what spec files said that Redline read but does not apply; ``spec_files`` what
    was understood from each spec file (``redline check`` prints it).
    """

    config: RedlineConfig
    path: Path
    notes: tuple[str, ...] = ()
    spec_files: tuple[FileReport, ...] = ()

    @property
    def data_dir(self) -> Path:
        """The data directory (``~`` expanded), relative paths taken from the config file's folder."""
        d = self.config.agent.data_dir.expanduser()
        return d if d.is_absolute() else (self.path.parent / d).resolve()
