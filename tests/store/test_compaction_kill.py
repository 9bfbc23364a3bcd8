"""SIGKILL of a real process inside compaction, at chosen steps (a file half written, before a
rename, before an input is deleted, before a directory sync): a restarted store has every batch
that was reported appended, each sample once, and no damaged file. ``bench.kill_compaction``
runs the same check at 20 random steps."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.kill_compaction import APPENDS, check_point


@pytest.mark.parametrize("kill_at", [1, 61, 230, 417])
def test_sigkill_at_a_step_of_compaction_loses_no_appended_sample_and_stores_none_twice(
    tmp_path: Path, kill_at: int
) -> None:
    result = check_point(tmp_path, kill_at)
    assert result.killed  # the child died by SIGKILL inside compaction, not at the workload's end
    assert 0 < result.appended < APPENDS
    assert result.found >= result.appended  # a batch appended but not yet reported may be there too
    assert (result.lost, result.duplicated, result.partial, result.damaged) == (0, 0, 0, 0)
    assert not result.changed_by_compaction
