"""The parts behind ``slo.slice_groups.SliceGroups`` (throughput and GPU-band objectives), one job each:

- ``group``: a slice group (objectives reading the same series the same way) and the groups'
  settings as arrays;
- ``rows``: the rows a group summarises (new samples of its series, and its open slice's pending
  rows), built from a batch;
- ``summaries``: the numpy kernels turning rows into per-slice summaries (rate, band aggregates);
- ``advance``: moving groups forward slice by slice from their rows into ``slo.timeslice.SliceStore``;
- ``cold_start``: the same for one group straight from its series' batches (a large batch);
- ``reasons``: what the newest finished slice says, in words and figures.
"""
