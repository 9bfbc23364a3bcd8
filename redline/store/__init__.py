"""The embedded sample store: atomic batch files compacted into time-partitioned Parquet segments."""
