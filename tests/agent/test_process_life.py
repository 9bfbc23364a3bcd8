"""`redline run` and `redline dashboard` as real processes: readiness under faults, one agent per
data directory, SIGTERM, a closed pipe.

Faults are real: garbage written over alerts.sqlite, the file deleted, a read-only bind mount
over it, and a tiny tmpfs as the data directory, filled or remounted read-only. The mounts
need root (CAP_SYS_ADMIN); those tests are skipped without it.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.agent.test_agent_process import SteadyFailures, free_port, target  # noqa: F401 - fixture
from tests.polling import wait_until

REPO = Path(__file__).resolve().parents[2]
DEADLINE_S = 60.0


class Agent:
    """A `redline run` process, its stderr collected line by line."""

    def __init__(self, cfg: Path, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "redline.agent.cli", "--log-level", "INFO", "run", "--config", str(cfg)],
            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))

    def wait_until(self, condition: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + DEADLINE_S
        while time.monotonic() < deadline:
            if condition():
                return
            try:  # the poll interval doubles as the check that the agent has not exited
                self.proc.wait(timeout=0.1)
            except subprocess.TimeoutExpired:
                continue
            raise AssertionError(f"the agent exited with {self.proc.returncode} waiting for {what}:\n"
                                 + "\n".join(self.lines[-20:]))
        raise AssertionError(f"timed out waiting for {what}:\n" + "\n".join(self.lines[-20:]))

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=30)
        self._reader.join(timeout=10)
        return code

    def close(self) -> None:
        """Kill it if it still runs; close its stderr."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._reader.join(timeout=10)
        assert self.proc.stderr is not None
        self.proc.stderr.close()

    def matching(self, text: str) -> list[str]:
        return [line for line in self.lines if text in line]


def write_config(tmp_path: Path, target_url: str, port: int) -> Path:
    cfg = tmp_path / "redline.yaml"
    cfg.write_text(
        f"""
agent: {{data_dir: ./data, evaluate_interval: 200ms, listen: "127.0.0.1:{port}"}}
sources: [{{name: api, kind: prometheus_scrape, url: "{target_url}", interval: 200ms, timeout: 200ms}}]
slos:
  - name: api-availability
    objective: 99.9
    sli: {{ratio: {{errors: 'http_requests_total{{code="500"}}', total: http_requests_total}}}}
alerting: {{notifiers: [{{name: log, kind: log}}]}}
"""
    )
    return cfg


def get(port: int, path: str) -> httpx.Response | None:
    try:
        return httpx.get(f"http://127.0.0.1:{port}{path}", timeout=2)
    except httpx.HTTPError:
        return None


def readyz(port: int) -> tuple[int, dict[str, str]]:
    response = get(port, "/readyz")
    if response is None:
        return 0, {}
    return response.status_code, response.json()["reasons"]


def evaluated_at(port: int) -> float:
    response = get(port, "/healthz")
    return float(response.json()["evaluated_at"] or 0) if response is not None else 0.0


def not_ready_because(port: int, component: str) -> Callable[[], bool]:
    return lambda: readyz(port)[0] == 503 and component in readyz(port)[1]


def ready(port: int) -> Callable[[], bool]:
    return lambda: readyz(port) == (200, {})


@pytest.fixture
def running(tmp_path: Path, target: str) -> Iterator[tuple[Agent, int]]:  # noqa: F811 - the fixture
    port = free_port()
    agent = Agent(write_config(tmp_path, target, port))
    try:
        agent.wait_until(ready(port), "a ready agent")
        yield agent, port
    finally:
        agent.close()


def can_mount(tmp_path: Path) -> bool:
    probe = tmp_path / "mount-probe"
    probe.mkdir()
    if os.geteuid() != 0:
        return False
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(probe)], capture_output=True)
    if done.returncode != 0:
        return False
    subprocess.run(["umount", str(probe)], check=True)
    return True


def require_mount(tmp_path: Path, what: str) -> None:
    """Go on only where mount(2) works (root: a tmpfs, a read-only bind). On CI, which runs as
    root, its absence fails the test rather than skipping it, so CI always runs these; a
    developer without root sees a skip naming why."""
    if can_mount(tmp_path):
        return
    if os.environ.get("CI"):
        pytest.fail(f"CI must run as root with mount(2) available: this test needs {what}")
    pytest.skip(f"needs root and mount(2) for {what}")


@contextlib.contextmanager
def mounted(*commands: list[str], unmount: Path) -> Iterator[None]:
    try:
        for command in commands:
            subprocess.run(command, check=True, capture_output=True)
        yield
    finally:
        # lazily: the agent may hold files open through the mount
        subprocess.run(["umount", "--lazy", str(unmount)], check=True, capture_output=True)


def test_garbage_over_the_alert_database_is_not_ready_logged_once_and_evaluation_goes_on(
    running: tuple[Agent, int], tmp_path: Path
) -> None:
    agent, port = running
    db = tmp_path / "data" / "alerts.sqlite"
    size = db.stat().st_size
    with db.open("r+b") as fh:
        fh.write(b"\xde\xad\xbe\xef" * (size // 4 + 1))
    agent.wait_until(not_ready_because(port, "alert_database"), "/readyz 503 naming the alert database")
    _, reasons = readyz(port)
    assert "not an SQLite database" in reasons["alert_database"] and str(db) in reasons["alert_database"]
    before = evaluated_at(port)
    agent.wait_until(lambda: evaluated_at(port) > before + 1, "evaluations going on")  # several ticks
    assert readyz(port)[0] == 503
    assert get(port, "/healthz").status_code == 200  # type: ignore[union-attr]  # alive all along
    metrics = get(port, "/metrics").text  # type: ignore[union-attr]
    assert 'redline_component_up{component="alert_database"} 0.0' in metrics
    assert "redline_ready 0.0" in metrics
    assert len(agent.matching("not ready: alert_database")) == 1
    assert agent.matching("Traceback") == []
    assert agent.stop() == 0


def test_an_alert_database_deleted_while_running_is_restored_from_the_open_file(
    running: tuple[Agent, int], tmp_path: Path
) -> None:
    agent, port = running
    db = tmp_path / "data" / "alerts.sqlite"

    def firing_stored() -> bool:
        with contextlib.closing(sqlite3.connect(db)) as conn:
            return conn.execute("SELECT count(*) FROM alerts WHERE state = 'firing'").fetchone()[0] > 0

    agent.wait_until(firing_stored, "the firing alert stored")
    db.unlink()
    agent.wait_until(lambda: bool(agent.matching("was deleted while running; restored it")), "the restore")
    agent.wait_until(ready(port), "ready again")
    with contextlib.closing(sqlite3.connect(db)) as conn:
        assert conn.execute("SELECT state FROM alerts WHERE key = 'api-availability/page'").fetchone() == ("firing",)
    assert agent.matching("Traceback") == []
    assert agent.stop() == 0


def test_a_read_only_alert_database_is_not_ready_until_writable_again(
    running: tuple[Agent, int], tmp_path: Path
) -> None:
    require_mount(tmp_path, "a read-only bind mount")
    agent, port = running
    db = str(tmp_path / "data" / "alerts.sqlite")
    with mounted(["mount", "--bind", db, db], ["mount", "-o", "remount,ro,bind", db], unmount=Path(db)):
        agent.wait_until(not_ready_because(port, "alert_database"), "/readyz naming the read-only database")
        assert "read-only" in readyz(port)[1]["alert_database"] or "readonly" in readyz(port)[1]["alert_database"]
    agent.wait_until(ready(port), "ready again once writable")
    assert len(agent.matching("not ready: alert_database")) == 1
    assert len(agent.matching("ready again: alert_database")) == 1
    assert agent.matching("Traceback") == []
    assert agent.stop() == 0


def test_a_full_or_read_only_data_directory_is_not_ready(tmp_path: Path, target: str) -> None:  # noqa: F811
    require_mount(tmp_path, "a small tmpfs")
    data = tmp_path / "data"
    data.mkdir()
    port = free_port()
    with mounted(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(data)], unmount=data):
        agent = Agent(write_config(tmp_path, target, port))
        try:
            agent.wait_until(ready(port), "a ready agent")
            filler = data / "filler"
            with contextlib.suppress(OSError), filler.open("wb") as fh:
                while True:
                    fh.write(b"\0" * 65536)
                    fh.flush()
            agent.wait_until(not_ready_because(port, "data_directory"), "/readyz naming the full disk")
            assert "No space left on device" in readyz(port)[1]["data_directory"]
            filler.unlink()
            agent.wait_until(ready(port), "ready once space returns")

            # A read-only bind over it (the agent holds files open for writing: no plain remount)
            subprocess.run(["mount", "--bind", str(data), str(data)], check=True)
            try:

                def remount_read_only() -> bool:
                    """The remount is refused (EBUSY) while the agent has a file open for writing
                    through the new bind, e.g. a batch being written at that instant: try again."""
                    done = subprocess.run(["mount", "-o", "remount,ro,bind", str(data)], capture_output=True, text=True)
                    assert done.returncode == 0 or "busy" in done.stderr, done.stderr
                    return done.returncode == 0

                agent.wait_until(remount_read_only, "the bind remounted read-only")
                agent.wait_until(not_ready_because(port, "data_directory"), "/readyz naming the read-only mount")
                assert "Read-only file system" in readyz(port)[1]["data_directory"]
            finally:
                subprocess.run(["umount", "--lazy", str(data)], check=True)  # the bind; the tmpfs stays
            agent.wait_until(ready(port), "ready once writable")
            assert agent.matching("Traceback") == []
            assert len(agent.matching("not ready: data_directory")) == 2  # once per fault, not per tick
            assert agent.stop() == 0
        finally:
            agent.close()


def test_a_second_agent_on_the_same_data_directory_is_refused_naming_the_pid(
    running: tuple[Agent, int], tmp_path: Path
) -> None:
    first, _ = running
    second = tmp_path / "second.yaml"
    second.write_text(f"agent: {{data_dir: ./data, listen: '127.0.0.1:{free_port()}'}}\n")
    done = subprocess.run(
        [sys.executable, "-m", "redline.agent.cli", "run", "--config", str(second)],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )
    data = tmp_path / "data"
    assert done.returncode == 2
    assert done.stderr == (
        f"redline: error: {data} is in use by another Redline agent (process {first.proc.pid} holds "
        f"{data / 'LOCK'}): stop that agent, or give this one another agent.data_dir in {second.resolve()}\n"
    )
    assert first.stop() == 0


def test_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    cfg = tmp_path / "redline.yaml"
    cfg.write_text("sources:\n  - {name: down, kind: prometheus_scrape, url: 'http://127.0.0.1:1/metrics'}\n")
    for command in (["check", "--config", str(cfg)], ["collect", "--config", str(cfg), "--source", "down", "--json"]):
        read_end, write_end = os.pipe()
        os.close(read_end)  # the reader is gone before the first write: as `| head` after its line
        try:
            done = subprocess.run(
                [sys.executable, "-m", "redline.agent.cli", *command],
                cwd=REPO, stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=60,
            )
        finally:
            os.close(write_end)
        assert done.stderr == "" and done.returncode == 141, (command, done.stderr)


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def ended_within(pid: int, timeout_s: float) -> bool:
    """Whether process ``pid`` (not our child) ends within ``timeout_s``: waits on its pidfd,
    which becomes readable when the process exits."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        ready, _, _ = select.select([fd], [], [], timeout_s)
        return bool(ready) or gone(pid)
    finally:
        os.close(fd)


def gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state == "Z"


def test_sigterm_stops_the_dashboard_and_its_streamlit_child(tmp_path: Path) -> None:
    cfg = tmp_path / "redline.yaml"
    cfg.write_text("agent: {data_dir: ./data}\n")
    port = free_port()
    output = (tmp_path / "dashboard.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "redline.agent.cli", "dashboard", "--config", str(cfg), "--port", str(port)],
        cwd=REPO, stdout=output, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 120
        while (response := get(port, "/_stcore/health")) is None or response.text != "ok":
            assert time.monotonic() < deadline, "the dashboard did not answer"
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=0.2)
                said = (tmp_path / "dashboard.log").read_text()
                raise AssertionError(f"redline dashboard exited with {proc.returncode}: {said}")
        streamlit = children(proc.pid)
        assert streamlit, "no Streamlit child"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        for pid in streamlit:
            assert ended_within(pid, 30), f"Streamlit {pid} still runs"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        output.close()



WAITER = """
import sys
from redline.agent.children import start_group
from redline.agent.signals import wait_for_stop
child = start_group([sys.executable, "-c", "import signal; signal.pause()"])
print(child.pid, flush=True)
wait_for_stop()
print("stopping", flush=True)
import signal; signal.pause()  # a shutdown that never ends: only the second signal ends it
"""


def catches_sigterm(pid: int) -> bool:
    """Whether ``pid`` has a handler for SIGTERM (its ``SigCgt`` mask in /proc)."""
    status = Path(f"/proc/{pid}/status").read_text()
    caught = int(next(line.split()[1] for line in status.splitlines() if line.startswith("SigCgt:")), 16)
    return bool(caught & (1 << (signal.SIGTERM - 1)))


def test_a_second_sigterm_exits_at_once_and_takes_the_child_group_with_it() -> None:
    with subprocess.Popen(
        [sys.executable, "-c", WAITER], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    ) as proc:
        try:
            assert proc.stdout is not None
            child = int(proc.stdout.readline())
            wait_until(lambda: catches_sigterm(proc.pid), "the waiter handles SIGTERM", timeout_s=30)
            proc.send_signal(signal.SIGTERM)
            assert proc.stdout.readline() == "stopping\n"  # the first one began an orderly stop
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=30) == 128 + signal.SIGTERM
            assert ended_within(child, 30), f"the child group ({child}) was left running"
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
