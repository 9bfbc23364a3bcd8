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


class FleetSimulator:
    """Advances the fleet along a scenario by the caller's clock; deterministic given the seed
    and the sequence of ``advance`` times. Not thread-safe: drive it from one thread.

    Time is cut into steps of at most ``max_step_s``, also cut at phase boundaries, so each step
    runs under one profile. The pipeline succeeds at every multiple of ``PIPELINE_PERIOD_S``
    (Unix time) while its profile says it is running.
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
    ) -> None:
        if not max_step_s > 0:
            raise ValueError(f"max_step_s must be > 0, got {max_step_s}")
        self._api = api
        self._pipeline = pipeline
        self._start_s = start_s
        self._now_s = start_s
        self._scenario = scenario
        self._model = TrafficModel(seed)
        self._max_step_s = max_step_s
        self._boundaries = [start_s + b for b in scenario.boundaries()]
        self._pending_restarts = [ph for ph in scenario.phases if ph.restart]
        self._fire_restarts()

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
            self._api.record(self._model.step(profile, t1 - t0))
            if profile.pipeline_running:
                run = (math.floor(t0 / PIPELINE_PERIOD_S) + 1) * PIPELINE_PERIOD_S
                while run <= t1:  # every scheduled run in (t0, t1]
                    self._pipeline.record_run(run, self._model.batch_rows())
                    run += PIPELINE_PERIOD_S
            self._now_s = t1
            self._fire_restarts()

    def _fire_restarts(self) -> None:
        offset = self._now_s - self._start_s
        due = [ph for ph in self._pending_restarts if ph.at_s <= offset]
        for ph in due:
            self._pending_restarts.remove(ph)
            logger.info("scenario: %s (restarting %s)", ph.name, ", ".join(ph.restart))
            if "inference-api" in ph.restart:
                self._api.restart()
            if "batch-pipeline" in ph.restart:
                self._pipeline.restart()


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
    """The running demo fleet; ``shutdown()`` stops the driver, then both servers."""

    api: InferenceAPI
    pipeline: BatchPipeline
    simulator: FleetSimulator
    driver: FleetDriver

    def shutdown(self) -> None:
        """Stop ticking and serving; safe to call twice."""
        self.driver.shutdown()
        self.api.shutdown()
        self.pipeline.shutdown()


_Service = TypeVar("_Service", InferenceAPI, BatchPipeline)


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
    tick_interval_s: float = 1.0,
) -> DemoFleet:
    """Start both services (on a free port when the given one is taken: read ``.url``), and a
    driver advancing them along ``scenario`` from ``clock()`` now. Pass the history's final
    values (``HistoryStats.inference``/``.pipeline``) so the live counters continue them.
    """
    api = _start_with_fallback(lambda p: InferenceAPI(port=p, initial=initial_inference), inference_port)
    try:
        pipeline = _start_with_fallback(lambda p: BatchPipeline(port=p, initial=initial_pipeline), pipeline_port)
    except BaseException:
        api.shutdown()
        raise
    simulator = FleetSimulator(api, pipeline, start_s=clock(), seed=seed, scenario=scenario)
    driver = FleetDriver(simulator, clock=clock, interval_s=tick_interval_s)
    driver.start()
    return DemoFleet(api, pipeline, simulator, driver)
