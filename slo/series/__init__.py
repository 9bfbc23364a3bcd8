"""The one series component of the engine: every evaluator reads counters and gauges through it.

- ``index``: selector → series ids, kept up to date as new series arrive (``SeriesIndex``,
  ``SelectorIndex``);
- ``batches``: a sample frame cut into each series' new rows;
- ``layouts``: the runs and series ids of frames seen before, so a steady scrape is cut once;
- ``increase``: counter increases with Prometheus 2.42 semantics (reset correction,
  extrapolation to the window edges) — "the increase of these series over W ending at t";
- ``counters``: per-series counter state (``SeriesCounters``): each series' Prometheus
  ``increase()`` at every window, which sides sum (``sum(increase(x[W]))``);
- ``cumulative``: reset-corrected cumulative counts per side, so a window's increase is two
  lookups, over two tiers: ``segments`` (exact points for the last hours, in a shared pool) and
  ``minutes`` (a per-minute ring beyond);
- ``rows``: compressed rows (CSR) and their expansion, shared by every ingest path.
"""
