"""The pydantic models of a Redline config file: the agent's settings, sources, objectives,
guardrails and alerting, validated once at load so business code never reads raw dicts.

Pure models: no file is read here (``redline.config.load`` reads and locates errors), and
nothing of the agent's runtime or of Streamlit is imported, so the dashboard and tools use the
same models the agent runs on.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from redline.collectors.registry import SourceConfig
from redline.config.dashboard import DashboardSettings
from redline.config.spec_files import SpecFile
from redline.kernel.config_types import DurationSeconds
from redline.kernel.units import format_duration
from redline.slo.spec import GuardrailSpec, SLOSpec

__all__ = [
    "AgentSettings",
    "AlertingConfig",
    "CompactionSettings",
    "LoadedConfig",
    "LogNotifierConfig",
    "NotifierConfig",
    "RedlineConfig",
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


class WebhookNotifierConfig(_Strict):
    """Posts Alertmanager's webhook JSON to the URL held in the environment variable ``url_env``."""

    name: str
    kind: Literal["webhook"]
    url_env: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
    timeout: DurationSeconds = 10.0
    retries: Annotated[int, Field(ge=0, le=10)] = 3


class LogNotifierConfig(_Strict):
    """Writes one log line per notification."""

    name: str
    kind: Literal["log"]


NotifierConfig = Annotated[WebhookNotifierConfig | LogNotifierConfig, Field(discriminator="kind")]


class AlertingConfig(_Strict):
    """Who is told, and how often a still-firing alert is repeated."""

    notifiers: list[NotifierConfig] = Field(default_factory=list)
    repeat_interval: DurationSeconds = 4 * 3600.0
    external_url: str = "http://127.0.0.1:8501"


class RedlineConfig(_Strict):
    """The whole file."""

    agent: AgentSettings = Field(default_factory=AgentSettings)
    sources: list[SourceConfig] = Field(default_factory=list)
    slos: list[SLOSpec] = Field(default_factory=list)
    slo_files: list[SpecFile] = Field(default_factory=list)
    """OpenSLO or Sloth files whose objectives join ``slos`` at load (see redline/config/spec_files.py)."""
    guardrails: list[GuardrailSpec] = Field(default_factory=list)
    alerting: AlertingConfig = Field(default_factory=AlertingConfig)
    dashboard: DashboardSettings = Field(default_factory=DashboardSettings)
    """Who may see the dashboard (redline/config/dashboard.py)."""

    @model_validator(mode="after")
    def _names_are_unique(self) -> RedlineConfig:
        for section, names in (
            ("sources", [s.name for s in self.sources]),
            ("slos and guardrails", [s.name for s in self.slos] + [g.name for g in self.guardrails]),
            ("alerting.notifiers", [n.name for n in self.alerting.notifiers]),
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

    ``notes`` holds what spec files said that Redline read but does not apply.
    """

    config: RedlineConfig
    path: Path
    notes: tuple[str, ...] = ()

    @property
    def data_dir(self) -> Path:
        """The data directory (``~`` expanded), relative paths taken from the config file's folder."""
        d = self.config.agent.data_dir.expanduser()
        return d if d.is_absolute() else (self.path.parent / d).resolve()
