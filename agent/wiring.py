"""The agent's collectors: one per source, a ``promql`` source also answering query SLIs.

A query SLI (``sli.query``, or an OpenSLO/Sloth file loaded with ``backend:``) names the
``promql`` source whose backend evaluates it. That source's collector runs, besides its own
``queries``, the objective's queries for every window at each collection
(``slo.query_sli.window_queries``) and records the answers under ``redline_query_sli`` — so
the answers land in the store like any sample, and ``redline status``, the dashboard, alerts and
backtests read them from there.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from redline.collectors.base import Collector, CollectorContext
from redline.collectors.promql import PromQLCollector, PromQLConfig, PromQLQuery
from redline.collectors.registry import SourceConfig, build_collector
from redline.config import LoadedConfig, RedlineConfig
from redline.slo.query_sli import QUERY_SLI_METRIC, window_queries
from redline.slo.spec import SLOSpec
from redline.store.embedded import CompactionPolicy, SampleStore

__all__ = ["build_collectors", "collector_for", "query_sli_plan", "writable_store"]


def query_sli_plan(specs: Sequence[SLOSpec]) -> Callable[[int], list[PromQLQuery]]:
    """The instant queries that answer ``specs``' query SLIs at a collection time (ms)."""

    def plan(at_ms: int) -> list[PromQLQuery]:
        return [
            PromQLQuery(record=QUERY_SLI_METRIC, query=expr, labels={"slo": spec.name, "side": side})
            for spec in specs
            for side, expr in window_queries(spec, at_ms)
        ]

    return plan


def collector_for(config: RedlineConfig, source: SourceConfig, context: CollectorContext) -> Collector:
    """The collector of one source of ``config``; a ``promql`` source named by query SLIs answers them.

    ``context`` is the clock, environment and HTTP client the collector uses: the agent's, or
    ``redline collect``'s.
    """
    answered = [s for s in config.slos if s.sli.query is not None and s.sli.query.source == source.name]
    if answered and isinstance(source, PromQLConfig):
        return PromQLCollector(source, context, planned=query_sli_plan(answered))
    return build_collector(source, context)


def build_collectors(config: RedlineConfig, context: CollectorContext) -> dict[str, Collector]:
    """Every source's collector, by name, all sharing ``context``."""
    return {source.name: collector_for(config, source, context) for source in config.sources}


def writable_store(loaded: LoadedConfig, *, quarantine: bool = True) -> SampleStore:
    """The store as its writers open it (the agent, ``redline import``, the demo's backfill):
    retention and the compaction knobs from ``agent:``; a damaged file met is quarantined."""
    agent = loaded.config.agent
    policy = CompactionPolicy(
        merge_fanout=agent.compaction.merge_fanout,
        small_run_rows=agent.compaction.small_run_rows,
        max_merge_rows=agent.compaction.max_merge_rows,
    )
    return SampleStore(loaded.data_dir, retention_seconds=agent.retention, quarantine=quarantine, policy=policy)
