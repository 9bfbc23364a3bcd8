"""records() answers from memory only while the database is unchanged: another process's write
and this store's own writes are both seen on the next read."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from redline.alerts.state import AlertRecord, AlertStateStore
from tests.alerts.conftest import T0


def test_records_sees_another_connections_write_and_its_own(tmp_path: Path) -> None:
    path = tmp_path / "alerts.sqlite"
    mine, other = AlertStateStore(path), AlertStateStore(path)
    try:
        first = AlertRecord("api/page", "api", "page", "firing", "f1", {"slo": "api"}, updated_at=T0)
        mine.save(first)
        assert [r.state for r in mine.records()] == ["firing"]
        assert mine.records() == mine.records()  # unchanged: the same answer
        other.save(replace(first, state="resolved", updated_at=T0 + 60))  # another process's commit
        assert [(r.state, r.updated_at) for r in mine.records()] == [("resolved", T0 + 60)]
        with mine.transaction() as conn:  # this connection's own write, outside save()
            conn.execute("UPDATE alerts SET last_notified_at = ? WHERE key = ?", (T0 + 90, "api/page"))
        assert [r.last_notified_at for r in mine.records()] == [T0 + 90]
        mine.close()  # a reopened connection counts its changes from 0 again
        other.save(replace(first, key="web/page", slo="web", updated_at=T0 + 120))
        assert [r.key for r in mine.records()] == ["api/page", "web/page"]
    finally:
        mine.close()
        other.close()
