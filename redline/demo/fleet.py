"""The demo fleet: simulated services on 127.0.0.1 driven along a scripted scenario.

``InferenceAPI`` and ``BatchPipeline`` (``redline.demo.services``) serve ``/metrics``. Traffic is
not real: a ``FleetSimulator`` advances both by ticks of a clock the caller owns (the demo's
``FleetDriver`` thread calls it every second with ``time.time``; tests call it directly with a
fake clock), following a ``Scenario`` (``redline.demo.traffic``: data, not code branches).
``start_demo_fleet`` wires all of it together the way ``redline demo`` runs it.
"""

from __future__ import annotations

import errno
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from redline.demo.counts import InferenceCounts, InferenceStep, PipelineCounts
from redline.demo.gpus import DEFAULT_DCGM_PORT, DcgmExporter
from redline.demo.services import DEFAULT_INFERENCE_PORT, DEFAULT_PIPELINE_PORT, BatchPipeline, InferenceAPI
from redline.demo.traffic import DEMO_SCENARIO, PIPELINE_PERIOD_S, Phase, Scenario, TrafficModel, TrafficProfile

__all__ = [
    "DEFAULT_INFERENCE_PORT",
    "DEFAULT_PIPELINE_PORT",
    "DEMO_SCENARIO",
    "BatchPipeline",
    "DemoFleet",
    "FleetDriver",
    "FleetSimulator",
    "GpuSink",
    "InferenceAPI",
    "InferenceCounts",
    "InferenceSink",
    "Phase",
    "PipelineCounts",
    "PipelineSink",
    "Scenario",
    "TrafficProfile",
    "start_demo_fleet",
]

logger = logging.getLogger(__name__)


class InferenceSink(Protocol):
    """Where inference traffic goes: an ``InferenceAPI`` or a bare ``InferenceTally``."""

    def record(self, step: InferenceStep) -> None: ...
    def restart(self) -> None: ...


class PipelineSink(Protocol):
    """Where pipeline runs go: a ``BatchPipeline`` or a bare ``PipelineTally``."""

    def record_run(self, at_s: float, rows: int) -> None: ...
    def restart(self) -> None: ...


class GpuSink(Protocol):
    """Where the GPUs' load goes: a ``DcgmExporter`` or a bare ``GpuTally``."""

    def record_rate(self, request_rate_per_s: float) -> None: ...


class FleetSimulator:
    """Advances the fleet along a scenario by the caller's clock; deterministic given the seed
    and the sequence of ``advance`` times. Not thread-safe: drive it from one thread.

    Time is cut into steps of at most ``max_step_s``, also cut at phase boundaries, so each step
    runs under one profile. The pipeline succeeds at every multiple of ``PIPELINE_PERIOD_S``
    (Unix time; shifted to fall on the scenario's ``pipeline_run_at_s``) while its profile says it
    is running. ``gpus``, when given, learns the request rate of every step. Every scripted event
    is logged as it happens (phase starts, ends and restarts; with ``stale_after_s``, the moment a
    stalled pipeline's data grows older than that), at debug level only with ``log_events=False``
    (the history's past).
    """

    def __init__(
        self,
        api: InferenceSink,
        pipeline: PipelineSink,
        *,
        start_s: float,
        seed: int,
        scenario: Scenario = DEMO_SCENARIO,
        max_step_s: float = 1.0,
        gpus: GpuSink | None = None,
        stale_after_s: float | None = None,
        log_events: bool = True,
    ) -> None:
        if not max_step_s > 0:
            raise ValueError(f"max_step_s must be > 0, got {max_step_s}")
        self._api = api
        self._pipeline = pipeline
        self._gpus = gpus
        run_at = scenario.pipeline_run_at_s
        self._run_phase_s = 0.0 if run_at is None else (start_s + run_at) % PIPELINE_PERIOD_S
        self._last_run_s: float | None = None
        self._stale_after_s = stale_after_s
        self._stale_logged = False
        self._log = logger.info if log_events else logger.debug
        self._start_s = start_s
        self._now_s = start_s
        self._scenario = scenario
        self._model = TrafficModel(seed)
        self._max_step_s = max_step_s
        self._boundaries = [start_s + b for b in scenario.boundaries()]
        self._pending_starts = list(scenario.phases)
        self._pending_ends = [ph for ph in scenario.phases if ph.duration_s is not None]
        self._fire_events()

    @property
    def now_s(self) -> float:
        """The time the fleet has been advanced to."""
        return self._now_s

    def phase_names_at(self, now_s: float) -> list[str]:
        """Names of the phases in force at ``now_s`` (empty: baseline)."""
        offset = now_s - self._start_s
        return [ph.name for ph in self._scenario.phases if ph.active_at(offset)]

    def advance(self, now_s: float) -> None:
        """Simulate everything between the last call and ``now_s``; earlier times do nothing."""
        while self._now_s < now_s:
            t0 = self._now_s
            t1 = min(now_s, t0 + self._max_step_s)
            t1 = min([t1, *(b for b in self._boundaries if t0 < b < t1)])
            profile = self._scenario.profile_at(t0 - self._start_s)
            step = self._model.step(profile, t1 - t0)
            self._api.record(step)
            if self._gpus is not None:
                self._gpus.record_rate(sum(step.requests_by_code.values()) / (t1 - t0))
            if profile.pipeline_running:
                phase = self._run_phase_s
                run = (math.floor((t0 - phase) / PIPELINE_PERIOD_S) + 1) * PIPELINE_PERIOD_S + phase
                while run <= t1:  # every scheduled run in (t0, t1]
                    self._pipeline.record_run(run, self._model.batch_rows())
                    self._last_run_s = run
                    run += PIPELINE_PERIOD_S
            self._now_s = t1
            self._fire_events()

    def _offset(self, at_s: float) -> str:
        return f"+{at_s - self._start_s:.0f} s"

    def _fire_events(self) -> None:
        """Log (and act on) every scripted event up to now, in order."""
        offset = self._now_s - self._start_s
        for ph in [ph for ph in self._pending_starts if ph.at_s <= offset]:
            self._pending_starts.remove(ph)
            what = ph.note or ph.name
            if ph.pipeline_running is False and self._last_run_s is not None:
                what += f" (last success at {self._offset(self._last_run_s)})"
            self._log("scenario +%.0f s: %s", ph.at_s, what)
            if "inference-api" in ph.restart:
                self._api.restart()
            if "batch-pipeline" in ph.restart:
                self._pipeline.restart()
        for ph in [ph for ph in self._pending_ends if ph.end_s <= offset]:
            self._pending_ends.remove(ph)
            self._log("scenario +%.0f s: %s over", ph.end_s, ph.name)
        stale_after = self._stale_after_s
        if stale_after is None or self._stale_logged or self._last_run_s is None:
            return
        if not self._scenario.profile_at(offset).pipeline_running and self._now_s - self._last_run_s > stale_after:
            self._stale_logged = True
            self._log(
                "scenario %s: features data older than %.0f min (last success at %s): its freshness objective "
                "starts burning", self._offset(self._last_run_s + stale_after), stale_after / 60,
                self._offset(self._last_run_s),
            )


class FleetDriver:
    """Calls ``simulator.advance(clock())`` every ``interval_s`` on a thread; ``start``/``shutdown``.

    An exception from the simulator is logged with its traceback and the loop goes on.
    """

    def __init__(
        self, simulator: FleetSimulator, *, clock: Callable[[], float], interval_s: float = 1.0
    ) -> None:
        self._simulator = simulator
        self._clock = clock
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.ticks = 0

    def start(self) -> None:
        """Start ticking on a daemon thread."""
        if self._thread is not None:
            raise RuntimeError("fleet driver already started")
        self._thread = threading.Thread(target=self._run, name="fleet-driver", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                self._simulator.advance(self._clock())
            except Exception:
                logger.exception("fleet simulator tick failed")
            self.ticks += 1
            if self._stop.wait(self._interval_s):
                return

    def shutdown(self, timeout_s: float = 5.0) -> None:
        """Stop ticking and wait for the thread to end."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None


@dataclass
class DemoFleet:
    """The demo fleet's servers, and once ``run()`` is called the driver playing its scenario;
    ``shutdown()`` stops the driver, then the servers."""

    api: InferenceAPI
    pipeline: BatchPipeline
    gpus: DcgmExporter
    seed: int
    scenario: Scenario
    clock: Callable[[], float]
    tick_interval_s: float = 1.0
    stale_after_s: float | None = None
    simulator: FleetSimulator | None = None
    driver: FleetDriver | None = None

    def run(self) -> FleetSimulator:
        """Start the scenario now (``clock()``): its offsets count from this call."""
        if self.simulator is not None:
            raise RuntimeError("the demo fleet is already running")
        self.simulator = FleetSimulator(
            self.api, self.pipeline, start_s=self.clock(), seed=self.seed, scenario=self.scenario, gpus=self.gpus,
            stale_after_s=self.stale_after_s,
        )
        self.gpus.record_rate(self.scenario.baseline.request_rate_per_s)
        self.driver = FleetDriver(self.simulator, clock=self.clock, interval_s=self.tick_interval_s)
        self.driver.start()
        return self.simulator

    def shutdown(self) -> None:
        """Stop ticking and serving; safe to call twice."""
        if self.driver is not None:
            self.driver.shutdown()
        self.api.shutdown()
        self.pipeline.shutdown()
        self.gpus.shutdown()


_Service = TypeVar("_Service", InferenceAPI, BatchPipeline, DcgmExporter)


def _start_with_fallback(make: Callable[[int], _Service], port: int) -> _Service:
    """Start ``make(port)``; if that port is taken, start ``make(0)`` on a free one instead."""
    service = make(port)
    try:
        service.start()
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE or port == 0:
            raise
        logger.warning("%s: port %d is taken; using a free port instead", service.name, port)
        service = make(0)
        service.start()
    return service


def start_demo_fleet(
    *,
    seed: int,
    clock: Callable[[], float] = time.time,
    initial_inference: InferenceCounts | None = None,
    initial_pipeline: PipelineCounts | None = None,
    scenario: Scenario = DEMO_SCENARIO,
    inference_port: int = DEFAULT_INFERENCE_PORT,
    pipeline_port: int = DEFAULT_PIPELINE_PORT,
    dcgm_port: int = DEFAULT_DCGM_PORT,
    tick_interval_s: float = 1.0,
    stale_after_s: float | None = None,
    run: bool = True,
) -> DemoFleet:
    """Start the three services (each on a free port when the given one is taken: read ``.url``),
    and (unless ``run`` is false: then call ``DemoFleet.run()``) a driver advancing them along
    ``scenario`` from ``clock()`` now. Pass the history's final values
    (``HistoryStats.inference``/``.pipeline``) so the live counters continue them.
    """
    started: list[InferenceAPI | BatchPipeline | DcgmExporter] = []
    try:
        api = _start_with_fallback(lambda p: InferenceAPI(port=p, initial=initial_inference), inference_port)
        started.append(api)
        pipeline = _start_with_fallback(lambda p: BatchPipeline(port=p, initial=initial_pipeline), pipeline_port)
        started.append(pipeline)
        gpus = _start_with_fallback(lambda p: DcgmExporter(port=p), dcgm_port)
        started.append(gpus)
    except BaseException:
        for service in started:
            service.shutdown()
        raise
    fleet = DemoFleet(
        api, pipeline, gpus, seed=seed, scenario=scenario, clock=clock, tick_interval_s=tick_interval_s,
        stale_after_s=stale_after_s,
    )
    if run:
        fleet.run()
    return fleet
