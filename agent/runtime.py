"""The running agent: collect → store → evaluate → alert, on apscheduler jobs.

Every job runs inside one try/except that logs the traceback and counts the failure in
Redline's own metrics, so one bad source or one failing notifier never stops the loop.
The evaluator's state is rebuilt from the store at start (cold start), then fed each scrape
as it lands, so an evaluation tick never rescans raw samples.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import httpx
import polars as pl
from apscheduler.schedulers.background import BackgroundScheduler

from redline.agent.collectors import build_collectors
from redline.agent.selfmetrics import AgentMetrics, SelfMetricsServer
from redline.alerts.log_notifier import LogNotifier
from redline.alerts.manager import AlertManager
from redline.alerts.notifiers import Notifier
from redline.alerts.state import AlertStateStore
from redline.alerts.webhook import WebhookNotifier
from redline.collectors.base import Collector, CollectorContext, SourceHealth
from redline.config import LoadedConfig, LogNotifierConfig, WebhookNotifierConfig
from redline.kernel.errors import StoreError
from redline.kernel.secrets import secret_from_env
from redline.slo.evaluation import Evaluator, read_start_ms
from redline.slo.groups import expand_groups, has_new_members
from redline.slo.results import StatusReport
from redline.store.embedded import SampleStore

__all__ = ["Agent", "build_notifiers"]

log = logging.getLogger("redline.agent")


def build_notifiers(
    loaded: LoadedConfig, env: Mapping[str, str], client: httpx.Client
) -> list[Notifier]:
    """Notifiers from config; a webhook whose env variable is unset is a ``ConfigError``."""
    out: list[Notifier] = []
    for i, cfg in enumerate(loaded.config.alerting.notifiers):
        if isinstance(cfg, WebhookNotifierConfig):
            url = secret_from_env(cfg.url_env, env, where=f"{loaded.path}: alerting.notifiers[{i}].url_env")
            out.append(WebhookNotifier(url, client, name=cfg.name, retries=cfg.retries, timeout_s=cfg.timeout))
        elif isinstance(cfg, LogNotifierConfig):
            out.append(LogNotifier(logging.getLogger("redline.alerts"), name=cfg.name))
    return out


class Agent:
    """One agent: owns the store, the collectors, the evaluator, the alert manager and the jobs."""

    def __init__(
        self,
        loaded: LoadedConfig,
        *,
        env: Mapping[str, str],
        clock: Callable[[], float] = time.time,
        client: httpx.Client | None = None,
        serve_metrics: bool = True,
    ) -> None:
        self.loaded = loaded
        cfg = loaded.config
        self._clock = clock
        self._client = client or httpx.Client(follow_redirects=False)
        self.store = SampleStore(loaded.data_dir, retention_seconds=cfg.agent.retention)
        self.evaluator = Evaluator(cfg.slos, cfg.guardrails)
        self.collectors: dict[str, Collector] = build_collectors(
            cfg, CollectorContext(clock=clock, env=env, http=self._client)
        )
        self._alert_state = AlertStateStore(loaded.data_dir / "alerts.sqlite")
        self.alerts = AlertManager(
            self._alert_state,
            build_notifiers(loaded, env, self._client),
            clock=clock,
            repeat_interval_s=cfg.alerting.repeat_interval,
            specs=cfg.slos,
            external_url=cfg.alerting.external_url,
        )
        self._lock = threading.Lock()  # guards the evaluator (ingest vs evaluate from job threads)
        self._health: dict[str, SourceHealth] = {}
        self._report: StatusReport | None = None
        self.metrics = AgentMetrics(lambda: self._report, lambda: dict(self._health))
        self._server = (
            SelfMetricsServer(
                self.metrics.registry, self.healthz, cfg.agent.listen_host, cfg.agent.listen_port
            )
            if serve_metrics
            else None
        )
        self._scheduler: BackgroundScheduler | None = None

    # -- state ---------------------------------------------------------------------------------

    @property
    def report(self) -> StatusReport | None:
        """The latest evaluation, or None before the first."""
        return self._report

    @property
    def health(self) -> dict[str, SourceHealth]:
        """The latest health of every source that has been collected."""
        return dict(self._health)

    @property
    def metrics_port(self) -> int | None:
        """The port /metrics listens on, once started."""
        return self._server.port if self._server is not None else None

    def healthz(self) -> dict[str, Any]:
        """What /healthz answers: the agent is up; each source's last result."""
        return {
            "ok": True,
            "sources": {
                n: {"ok": h.ok, "error": h.error, "duration_seconds": h.duration_seconds}
                for n, h in sorted(self._health.items())
            },
            "evaluated_at": self._report.at if self._report else None,
        }

    # -- jobs ----------------------------------------------------------------------------------

    def load_history(self) -> int:
        """Cold start: expand grouped objectives over the stored series, then feed the evaluator
        the stored samples its windows need. Returns the count of samples read."""
        cfg = self.loaded.config
        if any(s.group_by for s in cfg.slos):
            evaluator = Evaluator(expand_groups(cfg.slos, self.store.series()), cfg.guardrails)
        else:
            evaluator = Evaluator(cfg.slos, cfg.guardrails)
        # Under the lock: a batch another source appends meanwhile is ingested into the new
        # evaluator after the swap (samples it already read are ignored as not newer).
        with self._lock:
            now_ms = int(self._clock() * 1000)
            start_ms = read_start_ms(evaluator.history_seconds, now_ms)
            frame = self.store.read(evaluator.selectors(), start_ms, now_ms)
            evaluator.ingest(frame)
            self.evaluator = evaluator
        return frame.height

    def _has_new_group_members(self, samples: pl.DataFrame) -> bool:
        """Whether ``samples`` hold a member of a grouped objective the evaluator does not know."""
        grouped = [s for s in self.loaded.config.slos if s.group_by]
        if not grouped:
            return False
        known = set(self.evaluator.names)
        pairs = list(samples.select("metric", "labels").unique().iter_rows())
        return has_new_members(grouped, known, pairs)

    def collect(self, source: str) -> SourceHealth:
        """Collect one source once, store the batch, feed the evaluator."""
        result = self.collectors[source].collect()
        health = result.health
        self.metrics.collect_duration.labels(source).observe(health.duration_seconds)
        if not health.ok:
            self.metrics.collect_failures.labels(source).inc()
            log.warning("source %s: %s", source, health.error)
        for problem in health.problems[:5]:
            log.warning("source %s: %s", source, problem)
        if result.samples.height:
            try:
                self.store.append(result.samples)
            except StoreError as exc:
                self.metrics.store_write_failures.inc()
                log.error("source %s: batch not stored: %s", source, exc)
            self.metrics.collect_samples.labels(source).inc(result.samples.height)
            if self._has_new_group_members(result.samples):
                log.info("source %s: a new member of a grouped objective; rebuilding from the store", source)
                self.load_history()  # the new member gets its own budget, from its stored history
            else:
                with self._lock:
                    self.evaluator.ingest(result.samples)
        self._health[source] = health
        return health

    def evaluate(self) -> StatusReport:
        """Evaluate every objective now, publish the report, process alerts."""
        started = time.perf_counter()
        with self._lock:
            report = self.evaluator.evaluate(int(self._clock() * 1000))
        self.metrics.evaluate_duration.observe(time.perf_counter() - started)
        self._report = report
        self.alerts.process(report)
        return report

    def compact(self) -> None:
        """Merge batch files into segments, apply retention, prune the notification log."""
        stats = self.store.compact()
        pruned = self._alert_state.prune(self._clock() - self.loaded.config.agent.retention)
        log.debug("compacted: %s; %d old notification log entries pruned", stats, pruned)

    def _guarded(self, job: str, fn: Callable[[], object]) -> Callable[[], None]:
        def run() -> None:
            try:
                fn()
            except Exception:
                self.metrics.job_failures.labels(job).inc()
                log.exception("job %s failed; the agent keeps running", job)

        return run

    # -- lifecycle -----------------------------------------------------------------------------

    def start_server(self) -> None:
        """Start serving /metrics and /healthz (when enabled)."""
        if self._server is not None:
            self._server.start()
            log.info("metrics on http://%s:%d/metrics", self.loaded.config.agent.listen_host, self._server.port)

    def start(self) -> None:
        """Cold start from the store, start /metrics, schedule every job (first runs at once)."""
        loaded = self.load_history()
        cfg = self.loaded.config
        log.info(
            "cold start: %d stored samples loaded for %d objectives and %d guardrails",
            loaded, len(cfg.slos), len(cfg.guardrails),
        )
        self.start_server()
        sched = BackgroundScheduler(timezone="UTC")
        now = datetime.now(UTC)
        for src in self.loaded.config.sources:
            sched.add_job(
                self._guarded(f"collect:{src.name}", functools.partial(self.collect, src.name)),
                "interval",
                seconds=src.interval,
                next_run_time=now,
                id=f"collect:{src.name}",
                max_instances=1,
                coalesce=True,
                misfire_grace_time=None,
            )
        agent_cfg = self.loaded.config.agent
        sched.add_job(
            self._guarded("evaluate", self.evaluate),
            "interval",
            seconds=agent_cfg.evaluate_interval,
            next_run_time=now,
            id="evaluate",
            max_instances=1,
            coalesce=True,
        )
        sched.add_job(
            self._guarded("compact", self.compact),
            "interval",
            seconds=agent_cfg.compact_interval,
            id="compact",
            max_instances=1,
            coalesce=True,
        )
        sched.start()
        self._scheduler = sched

    def shutdown(self) -> None:
        """Stop the jobs (waiting for running ones), the server and the notifiers."""
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=True)
            self._scheduler = None
        if self._server is not None:
            self._server.shutdown()
        self.alerts.shutdown()
        self._alert_state.close()
        self._client.close()
