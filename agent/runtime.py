"""The running agent: collect → store → evaluate → alert, on apscheduler jobs.

Every job runs inside one try/except that counts the failure in Redline's own metrics and logs
its traceback once (the same failure again on the next tick is counted, not logged), so one bad
source or one failing notifier never stops the loop nor floods the log. What makes the agent's
answers untrustworthy (the alert database, the data directory, a failed or late evaluation, a
broken notifier) is a readiness condition (``redline.agent.readiness``): ``/readyz`` answers
503 naming it, and the log has one line when it starts and one when it clears.
The evaluator's state is rebuilt from the store at start (cold start), then fed each scrape
as it lands, so an evaluation tick never rescans raw samples.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import polars as pl
from apscheduler.schedulers.background import BackgroundScheduler

from redline import __version__
from redline.agent.delivery_metrics import NotifierCollector
from redline.agent.delivery_wiring import build_delivery, build_notifiers, build_outbox
from redline.agent.group_overflow import (
    GroupOverflowCollector,
    beyond_max_groups,
    expand_and_report,
    overflow_json,
)
from redline.agent.last_evaluation import LastEvaluationWriter
from redline.agent.lock import DataDirLock
from redline.agent.readiness import STARTING, Readiness
from redline.agent.receivers import ReceiverMetricsCollector, build_receivers
from redline.agent.remote_write_out import RemoteWriteQueueCollector, build_queues, push_report
from redline.agent.selfmetrics import AgentMetrics, SelfMetricsServer, StoreUsageCollector
from redline.agent.source_log import SourceLog
from redline.agent.store_verify import StoreIntegrityCollector, store_corrupt_files
from redline.agent.telemetry import Telemetry
from redline.agent.wiring import build_collectors, writable_store
from redline.agent.write_buffer import WRITE_LINGER_S, WriteBuffer, WriteBufferCollector, WriteOutcome
from redline.alerts.alert_policy import AlertPolicy
from redline.alerts.conditions import ConditionPolicy, SelfHealth, objective_context
from redline.alerts.health import HealthRegistry, NotifierEvent
from redline.alerts.hysteresis_store import HysteresisStore
from redline.alerts.manager import AlertManager
from redline.alerts.silences import SilenceStore
from redline.alerts.state import AlertStateStore
from redline.alerts.suppression import Suppressor
from redline.checkpoints.resume import resume
from redline.collectors.base import Collector, CollectorContext, CollectResult, SourceHealth
from redline.config import LoadedConfig
from redline.kernel.errors import StoreError
from redline.slo.checkpoint import fingerprints, snapshot
from redline.slo.evaluation import Evaluator
from redline.slo.evaluator_parts import EvaluatorParts
from redline.slo.groups import GroupOverflow, group_overflows, has_new_members
from redline.slo.results import StatusReport
from redline.slo.spec import GuardrailSpec, SLOSpec
from redline.store.checkpoint_file import write_checkpoint

__all__ = ["Agent", "build_notifiers"]  # build_notifiers: re-exported from delivery_wiring

log = logging.getLogger("redline.agent")

OVERFLOW_RECOUNT_S = 60.0
"""How often, at most, the overflow of a full grouped objective is counted again while its label grows."""
STALE_AFTER_INTERVALS = 3
CHECKPOINT_AFTER_REBUILD_S = 60.0
"""After a cold start that rebuilt from raw samples, the first checkpoint is written this soon."""
"""The agent is not ready when its last evaluation is older than this many evaluate intervals."""


def distinct_series(batches: Mapping[str, pl.DataFrame]) -> dict[str, int]:
    """Distinct series of each source's last collection (``redline_source_last_series``)."""
    return {source: frame.select("metric", "labels").n_unique() if frame.height else 0
            for source, frame in batches.items()}


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
        # The agent is the store's writer: a damaged file it meets (cold start, compaction) is
        # moved to quarantine/; readers such as status and the dashboard only report.
        self.store = writable_store(loaded)
        # Batches the store refuses (full disk, read-only mount) wait here, bounded, in order.
        self.write_buffer = WriteBuffer(self.store.append, cfg.agent.write_buffer_samples)
        self.evaluator: Evaluator | EvaluatorParts = Evaluator(cfg.slos, cfg.guardrails)
        self._evaluator_specs: tuple[list[SLOSpec], list[GuardrailSpec]] = (list(cfg.slos), list(cfg.guardrails))
        """What ``evaluator`` was built for (grouped objectives expanded): the checkpoint's key."""
        self.resumed_from: str = "rebuild"
        """How the last ``load_history`` built the evaluator: ``checkpoint`` or ``rebuild``."""
        self.collectors: dict[str, Collector] = build_collectors(
            cfg, CollectorContext(clock=clock, env=env, http=self._client)
        )
        if len(self.collectors) > 1:  # sources scraped on the same ticks share a batch file
            self.write_buffer.linger_s = WRITE_LINGER_S
        self._alert_state = AlertStateStore(loaded.data_dir / "alerts.sqlite")
        delivery = build_delivery(loaded, env, self._client)
        # Hook for meta-alerts: ``notifier_health.listen(callback)`` hears of broken notifiers,
        # give-ups and drops (``redline.alerts.health``).
        self.notifier_health = HealthRegistry()
        # Tier hysteresis (for:, resolve delay) and inhibition: redline.alerts.alert_policy.
        # One connection for every table of alerts.sqlite (the alert state's): in memory together
        # while the file cannot be written, written back together once it can.
        self._hysteresis = HysteresisStore(loaded.data_dir / "alerts.sqlite", state=self._alert_state)
        # redline silence / ack write here
        self._silences = SilenceStore(loaded.data_dir / "alerts.sqlite", state=self._alert_state)
        self._condition_states = HysteresisStore(
            loaded.data_dir / "alerts.sqlite", scope="conditions", state=self._alert_state
        )
        self._notifier_names = tuple(n.name for n in delivery.notifiers)
        self.alerts = AlertManager(
            self._alert_state,
            delivery.router,
            clock=clock,
            repeat_interval_s=cfg.alerting.repeat_interval,
            specs=cfg.slos,
            external_url=cfg.alerting.external_url,
            queue_size=cfg.alerting.queue_size,
            on_dropped=lambda name, count: self.notifier_health.dropped(name, count, self._clock()),
            alert_policy=AlertPolicy(cfg.slos, self._hysteresis),
            suppressor=Suppressor(self._silences),
            conditions=ConditionPolicy(
                self._condition_states, health=self._self_health, dark_after_s=cfg.alerting.dark_after,
                source_down_for_s=cfg.alerting.source_down_for, watchdog_interval_s=cfg.alerting.watchdog_interval,
                band_for_s={s.name: s.sli.gpu.for_ for s in cfg.slos if s.sli.gpu is not None and s.sli.gpu.for_},
                context=objective_context(cfg.slos, cfg.guardrails),
            ),
        )
        self.outbox = build_outbox(delivery, self._alert_state, self.notifier_health, self.alerts.firing_for)
        self.alerts.notify_on_commit(self.outbox.wake)
        self._lock = threading.Lock()  # guards the evaluator (ingest vs evaluate from job threads)
        self._health: dict[str, SourceHealth] = {}
        self._store_refusing: str | None = None  # why the last write failed, until the buffer is written
        self._report: StatusReport | None = None
        self._data_lock = DataDirLock(loaded.data_dir)
        self._started_at: float | None = None  # time.monotonic() of start()
        self._evaluated_at: float | None = None  # time.monotonic() of the last successful evaluation
        self.readiness = Readiness(self._evaluation_age, clock=clock)
        for notifier in delivery.notifiers:
            self.readiness.know(f"notifier:{notifier.name}")
        self.notifier_health.listen(self._note_notifier)
        # source -> its last collection; its distinct series are counted when /metrics is read,
        # not on every scrape (the frames share their strings with the parser's series cache).
        self._last_batches: dict[str, pl.DataFrame] = {}
        self.metrics = AgentMetrics(
            lambda: self._report, lambda: dict(self._health), self.readiness,
            series=lambda: distinct_series(dict(self._last_batches)),
        )
        self.metrics.registry.register(StoreIntegrityCollector(self.store))
        self.metrics.registry.register(StoreUsageCollector(self.store.disk_bytes))
        self.group_overflows: list[GroupOverflow] = []
        """Grouped objectives the latest expansion capped at ``max_groups`` (see ``agent.group_overflow``)."""
        self.metrics.registry.register(GroupOverflowCollector(lambda: self.group_overflows))
        self._overflows_counted_at = float("-inf")
        self.metrics.registry.register(WriteBufferCollector(self.write_buffer))
        self.metrics.registry.register(NotifierCollector(self.notifier_health, self._alert_state.pending_counts))
        self._server = (
            SelfMetricsServer(
                self.metrics.registry,
                self.healthz,
                cfg.agent.listen_host,
                cfg.agent.listen_port,
                ready=self.readiness.as_json,
            )
            if serve_metrics
            else None
        )
        self.telemetry = Telemetry(env, __version__)  # exports only when OTEL_EXPORTER_OTLP_* say where
        self.receivers = build_receivers(cfg, self, clock)
        self.metrics.registry.register(ReceiverMetricsCollector(self.receivers))
        self.remote_write = build_queues(loaded, env, self._client)
        self.metrics.registry.register(RemoteWriteQueueCollector(self.remote_write))
        self.telemetry.bridge(self.metrics.registry)  # every self-metric through the SDK too, when exporting
        self._scheduler: BackgroundScheduler | None = None
        self._jobs_idle = threading.Condition()
        self._running_jobs = 0
        self._last_failure: dict[str, str] = {}  # job -> the failure last logged with its traceback
        self._source_log = SourceLog(self.readiness, self.metrics.limit_failures)
        self._last_evaluation = LastEvaluationWriter(loaded, self.store)  # what the dashboard paints from

    # -- state ---------------------------------------------------------------------------------

    def _self_health(self) -> SelfHealth:
        """What the meta-alerts read: each source's last error, and the readiness reasons."""
        sources = {name: (None if h.ok else (h.error or "failed")) for name, h in dict(self._health).items()}
        return SelfHealth(sources, self.readiness.reasons(), self._notifier_names)

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

    @property
    def alive(self) -> bool:
        """Whether the process loop runs: started, not shut down, its scheduler running."""
        return self._scheduler is not None and self._scheduler.running

    def healthz(self) -> dict[str, Any]:
        """What /healthz answers (liveness): the loop runs; each source's last result.

        Whether the answers can be trusted is ``/readyz`` (``ready`` here says the same).
        """
        return {
            "ok": self.alive,
            "ready": not self.readiness.reasons(),
            "sources": {
                n: {"ok": h.ok, "error": h.error, "duration_seconds": h.duration_seconds}
                for n, h in sorted(self._health.items())
            },
            "evaluated_at": self._report.at if self._report else None,
            "store": {"corrupt_files": [c.to_json() for c in store_corrupt_files(self.store)]},
            "group_overflows": [overflow_json(o) for o in self.group_overflows],
        }

    # -- jobs ----------------------------------------------------------------------------------

    def load_history(self) -> int:
        """Cold start: expand grouped objectives over the stored series, then build the evaluator
        from the checkpoint plus the samples stored since, or from every stored sample its windows
        need when the checkpoint does not fit (``redline.checkpoints.resume``). Returns the count
        of samples read."""
        cfg = self.loaded.config
        slos: list[SLOSpec] = list(cfg.slos)
        if any(s.group_by for s in cfg.slos):
            slos, self.group_overflows = expand_and_report(cfg.slos, self.store.series())
        # Under the lock: a batch another source appends meanwhile is ingested into the new
        # evaluator after the swap (samples it already read are ignored as not newer).
        with self._lock:
            resumed = resume(
                self.store, slos, cfg.guardrails, int(self._clock() * 1000), pending=self.write_buffer.pending()
            )
            self.evaluator = resumed.evaluator
            self._evaluator_specs = (slos, list(cfg.guardrails))
        self.resumed_from = resumed.source
        return resumed.samples_read

    def checkpoint(self) -> int:
        """Write the evaluator's state as the data directory's checkpoint (the ``checkpoint`` job,
        every ``agent.checkpoint_interval``); its size in bytes. The state is copied under the lock
        (a memory copy) and written after it, so ingest and evaluation wait only for the copy."""
        with self._lock:
            through_ms = int(self._clock() * 1000)
            head, buffers = snapshot(
                self.evaluator, fingerprints(*self._evaluator_specs), through_ms, copy=True
            )
        started = time.perf_counter()
        size = write_checkpoint(self.loaded.data_dir, head, buffers)
        log.debug("checkpoint written: %d bytes in %.2f s", size, time.perf_counter() - started)
        return size

    def _has_new_group_members(self, samples: pl.DataFrame) -> bool:
        """Whether ``samples`` hold a member of a grouped objective the evaluator does not know."""
        grouped = [s for s in self.loaded.config.slos if s.group_by]
        if not grouped:
            return False
        known = set(self.evaluator.names)
        pairs = list(samples.select("metric", "labels").unique().iter_rows())
        if has_new_members(grouped, known, pairs):
            return True
        if beyond_max_groups(grouped, known, pairs):
            self._recount_group_overflows(grouped)
        return False

    def _recount_group_overflows(self, grouped: list[SLOSpec]) -> None:
        """Count the overflow of full grouped objectives again over the stored series (at most
        once per ``OVERFLOW_RECOUNT_S``: a label that keeps growing is not a scan per batch);
        a changed overflow is logged."""
        now = self._clock()
        if now - self._overflows_counted_at < OVERFLOW_RECOUNT_S:
            return
        self._overflows_counted_at = now
        before = {str(o) for o in self.group_overflows}
        self.group_overflows = group_overflows(grouped, self.store.series())
        for overflow in self.group_overflows:
            if str(overflow) not in before:
                log.warning("%s", overflow)

    def collect(self, source: str) -> SourceHealth:
        """Collect one source once, store the batch, feed the evaluator."""
        with self.telemetry.span("redline.collect", source=source) as span:
            result = self.collectors[source].collect()
            span.set_attribute("samples", result.samples.height)
            span.set_attribute("ok", result.health.ok)
        for problem in result.health.problems[:5]:
            log.warning("source %s: %s", source, problem)
        return self.accept(source, result)

    def behind(self) -> str | None:
        """Why a receiver should not take samples now (``collectors.receiver.SampleSink``): the
        store refuses writes (full disk, read-only) and samples wait in memory; the sender keeps
        its samples and retries. Batches queued a moment behind a concurrent write are not that."""
        if self._store_refusing is not None:
            waiting = self.write_buffer.buffered_samples
            return f"the store cannot be written ({waiting} samples wait in memory): {self._store_refusing}"
        return None

    def accept(self, source: str, result: CollectResult) -> SourceHealth:
        """One batch of ``source`` (collected, or received from a push), down the one path: health
        and its metrics, the write buffer and the store, the evaluator."""
        health = result.health
        self.metrics.collect_duration.labels(source).observe(health.duration_seconds)
        if not health.ok:
            self.metrics.collect_failures.labels(source).inc()
        self._source_log.note(source, health)
        self._last_batches[source] = result.samples
        if result.samples.height:
            self.telemetry.samples_collected.add(result.samples.height, {"source": source})
            with self.telemetry.span("redline.store", source=source, samples=result.samples.height) as span:
                outcome = self.write_buffer.submit(result.samples)
                span.set_attribute("written", outcome.written)
                span.set_attribute("dropped", outcome.dropped)
            self._note_write(outcome)
            self.metrics.collect_samples.labels(source).inc(result.samples.height)
            if self._has_new_group_members(result.samples):
                log.info("source %s: a new member of a grouped objective; rebuilding from the store", source)
                self.load_history()  # the new member gets its own budget, from its stored history
            else:
                with self._lock:
                    self.evaluator.ingest(result.samples)
        self._health[source] = health
        return health

    def _note_write(self, outcome: WriteOutcome) -> None:
        """Readiness from a write attempt: down (naming what waits in memory) while the store
        refuses writes, up once everything buffered is stored."""
        if outcome.error is not None:
            self._store_refusing = str(outcome.error)
            self.metrics.store_write_failures.inc()
            buffered = self.write_buffer.buffered_samples
            self.readiness.set_down(
                "store_writes",
                f"samples are held in memory ({buffered} of at most {self.write_buffer.max_samples}; "
                f"oldest dropped beyond) until the store can be written: {outcome.error}",
            )
        elif not self.write_buffer.buffered_samples:
            self._store_refusing = None
            self.readiness.set_up("store_writes")

    def flush_write_buffer(self) -> None:
        """Write what the buffer holds, if anything (each evaluate tick: resumes on its own once
        space returns, even when no source brings a new batch)."""
        if self.write_buffer.buffered_samples:
            outcome = self.write_buffer.flush()
            if outcome.written and self._store_refusing is not None:  # a recovery, not a routine flush
                log.info("%d buffered samples stored", outcome.written)
            self._note_write(outcome)

    def evaluate(self) -> StatusReport:
        """One evaluate tick: evaluate every objective, publish the report, check the alert
        database and process alerts, check the data directory can be written."""
        started = time.perf_counter()
        try:
            with self._lock, self.telemetry.span("redline.evaluate") as span:
                report = self.evaluator.evaluate(int(self._clock() * 1000))
                span.set_attribute("objectives", len(report.objectives))
        except Exception as exc:
            self.readiness.set_down("evaluation", f"the last evaluation failed: {type(exc).__name__}: {exc}")
            raise
        self.metrics.evaluate_duration.observe(time.perf_counter() - started)
        try:
            self._process_alerts(report)
            if self.remote_write:
                with self.telemetry.span("redline.remote_write", targets=len(self.remote_write)):
                    self._push_remote(report)
        finally:
            # Published once its alerts are processed: a reader that sees this evaluation (on
            # /healthz, evaluated_at) sees its pages sent or queued too.
            self._report = report
            self._evaluated_at = time.monotonic()
            self.readiness.set_up("evaluation")
        self.telemetry.refresh_bridge()  # the objectives' gauges exist from the first report on
        self._last_evaluation.write(report)
        self.check_data_dir()
        self.flush_write_buffer()
        self.metrics.tick_duration.observe(time.perf_counter() - started)
        return report

    def _push_remote(self, report: StatusReport) -> None:
        """Queue the report's series for every remote write target (alert series as far as the
        alert database can be read; its failure is readiness's to report)."""
        try:
            alerts = self._alert_state.records()
        except StoreError:
            alerts = []
        push_report(self.remote_write, report, {s.name: s for s in self.loaded.config.slos}, alerts)

    def _process_alerts(self, report: StatusReport) -> None:
        """Alerts for ``report``. An alert database that fails its check is not ready, and the
        alerts go on in memory meanwhile (``AlertStateStore.in_memory``), written back once it
        can be written again."""
        self.outbox.start()  # idempotent: jobs run by hand (tests, tools) deliver too
        with self.telemetry.span("redline.alert") as span:
            down: str | None = None
            try:
                self._alert_state.check()
            except StoreError as exc:
                down = str(exc)
            try:
                events = self.alerts.process(report)
            except StoreError as exc:  # the file failed and could not be left for memory
                self.readiness.set_down("alert_database", str(exc))
                return
            span.set_attribute("events", len(events))
            span.set_attribute("intents", sum(len(e.owed_to) for e in events))
        if down is None and self._alert_state.in_memory is not None:
            down = self._alert_state.in_memory  # a write failed after the check passed
        if down is not None:
            self.readiness.set_down("alert_database", down)
        else:
            self.readiness.set_up("alert_database")

    def _note_notifier(self, event: NotifierEvent) -> None:
        """A notifier is not ready after a permanent failure, a give-up, or ``FAILING_AFTER``
        transient failures in a row, until it delivers again."""
        component = f"notifier:{event.notifier}"
        if event.kind == "recovered":
            self.readiness.set_up(component)
        elif event.kind == "broken":
            self.readiness.set_down(component, f"failed permanently: {event.reason}")
        elif event.kind in ("failing", "gave_up"):
            self.readiness.set_down(component, event.reason)

    def check_data_dir(self) -> None:
        """Write, fsync and remove a small file in the data directory: a full disk, a read-only
        mount or lost permissions show here before a batch is lost to them."""
        data_dir = self.loaded.data_dir
        probe = data_dir / f".probe-{os.getpid()}"
        try:
            fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                os.write(fd, b"redline write probe\n")
                os.fsync(fd)
            finally:
                os.close(fd)
            probe.unlink()
        except OSError as exc:
            with contextlib.suppress(OSError):
                probe.unlink()
            self.readiness.set_down("data_directory", f"cannot write {data_dir}: {exc.strerror or exc}")
        else:
            self.readiness.set_up("data_directory")

    def _evaluation_age(self) -> dict[str, str]:
        """The late-evaluation condition, computed when readiness is read."""
        if self._started_at is None:
            return {}
        interval = self.loaded.config.agent.evaluate_interval
        limit = STALE_AFTER_INTERVALS * interval
        age = time.monotonic() - (self._evaluated_at or self._started_at)
        if age <= limit:
            return {} if self._evaluated_at is not None else {"evaluation_age": f"{STARTING} no evaluation yet"}
        return {
            "evaluation_age": f"the last evaluation was {age:.0f} s ago, more than {STALE_AFTER_INTERVALS} "
            f"evaluate intervals ({interval:g} s)"
        }

    def compact(self) -> None:
        """Merge batch files into segments, apply retention, prune the notification log."""
        stats = self.store.compact()
        self.metrics.compaction_duration.observe(stats.seconds)
        self.metrics.compaction_rows_read.inc(stats.rows_read)
        self.metrics.compaction_bytes_written.inc(stats.bytes)
        pruned = self._alert_state.prune(self._clock() - self.loaded.config.agent.retention)
        log.debug("compacted: %s; %d old notification log entries pruned", stats, pruned)

    def _guarded(self, job: str, fn: Callable[[], object]) -> Callable[[], None]:
        """``fn`` as a job: counted while it runs (shutdown waits for it), its failure counted,
        and logged with its traceback once until it fails differently or succeeds."""

        def run() -> None:
            with self._jobs_idle:
                self._running_jobs += 1
            try:
                fn()
            except Exception as exc:
                self.metrics.job_failures.labels(job).inc()
                failure = f"{type(exc).__name__}: {exc}"
                if self._last_failure.get(job) != failure:
                    self._last_failure[job] = failure
                    log.exception("job %s failed; the agent keeps running (the same failure again is counted, "
                                  "not logged)", job)
            else:
                if self._last_failure.pop(job, None) is not None:
                    log.warning("job %s succeeded again", job)
            finally:
                with self._jobs_idle:
                    self._running_jobs -= 1
                    self._jobs_idle.notify_all()

        return run

    # -- lifecycle -----------------------------------------------------------------------------

    def start_server(self) -> None:
        """Start serving /metrics and /healthz (when enabled), and the push receivers."""
        if self._server is not None:
            self._server.start()
            log.info("metrics on http://%s:%d/metrics", self.loaded.config.agent.listen_host, self._server.port)
        self.receivers.start()
        for queue in self.remote_write:
            queue.start()
        for server, _ in self.receivers.servers:
            log.info("receiver %s on http://%s:%d", server.settings.name, server.settings.host, server.port)

    def start(self) -> None:
        """Take the data directory's lock (``DataDirLocked`` names the holder), cold start from
        the store, start /metrics, schedule every job (first runs at once)."""
        self._data_lock.acquire()
        self._started_at = time.monotonic()
        loaded = self.load_history()
        cfg = self.loaded.config
        log.info(
            "cold start (%s): %d stored samples loaded for %d objectives and %d guardrails",
            "from the checkpoint" if self.resumed_from == "checkpoint" else "from the stored samples",
            loaded, len(cfg.slos), len(cfg.guardrails),
        )
        self.start_server()
        self.outbox.start()  # intents left pending by the last run go out first
        sched = BackgroundScheduler(timezone="UTC")
        now = datetime.now(UTC)

        def every(job: str, seconds: float, fn: Callable[[], object], **options: Any) -> None:
            """``fn`` every ``seconds`` as job ``job``: never two at once, missed runs coalesced;
            ``options``: apscheduler's (a ``next_run_time`` for the first run, else one interval in)."""
            sched.add_job(self._guarded(job, fn), "interval", seconds=seconds, id=job, max_instances=1,
                          coalesce=True, **options)

        for src in self.loaded.config.sources:
            every(f"collect:{src.name}", src.interval, functools.partial(self.collect, src.name),
                  next_run_time=now, misfire_grace_time=None)
        agent_cfg = self.loaded.config.agent
        every("evaluate", agent_cfg.evaluate_interval, self.evaluate, next_run_time=now)
        every("compact", agent_cfg.compact_interval, self.compact)
        # After a rebuild, the first checkpoint comes a minute in (a restart soon after reads it),
        # else one interval after the start.
        # (apscheduler: a next_run_time of None would pause the job, so it is passed only then)
        first_s = min(CHECKPOINT_AFTER_REBUILD_S, agent_cfg.checkpoint_interval)
        soon = {"next_run_time": now + timedelta(seconds=first_s)}
        every("checkpoint", agent_cfg.checkpoint_interval, self.checkpoint,
              **(soon if self.resumed_from == "rebuild" else {}))
        every("readiness", agent_cfg.evaluate_interval, self.readiness.reasons)  # logs a late evaluation
        sched.start()
        self._scheduler = sched

    def shutdown(self, timeout_s: float = 3.0) -> bool:
        """Stop: no new job runs, notifiers cut their backoff waits, running jobs get up to
        ``timeout_s`` to finish; then the server, the alert database and the lock are closed.

        Returns whether every job finished in time. When one did not (a long compaction, a
        scrape waiting on its timeout), the caller should exit without waiting for its thread:
        every store write is atomic, so the job's work is simply not there after a restart.
        """
        deadline = time.monotonic() + timeout_s
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None
        self.receivers.shutdown()  # before the last flush: nothing arrives after it
        for queue in self.remote_write:
            queue.shutdown(timeout_s)  # what is not sent stays on disk for the next run
        self.outbox.shutdown(min(timeout_s, 2.0))
        with self._jobs_idle:
            finished = self._jobs_idle.wait_for(
                lambda: self._running_jobs == 0, timeout=max(0.0, deadline - time.monotonic())
            )
        self.flush_write_buffer()  # thread-safe, even beside a collect job still running
        if self.write_buffer.buffered_samples:
            log.warning("stopping with %d samples not stored (the store cannot be written)",
                        self.write_buffer.buffered_samples)
        if self._server is not None:
            self._server.shutdown()
        self._alert_state.close()
        self._hysteresis.close()
        self._silences.close()
        self._condition_states.close()
        self.telemetry.shutdown()
        self._client.close()
        self._data_lock.release()
        if not finished:
            log.warning("stopping with a job still running; its work is not kept")
        return finished
