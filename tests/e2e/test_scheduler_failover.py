"""Three `qualify scheduler` processes on one PostgreSQL: one leads, the others say they wait; the leader is
SIGKILLed while it runs a tick's jobs, a standby takes the lock before the next tick, and every tick of ten runs
its jobs exactly once: none doubled, none lost. Ticks of 1.5 s (QUALIFY_SCHEDULER_TICK_SECONDS) keep it short."""

from __future__ import annotations

import re
import signal
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import SKIP_PG
from tests.e2e.conftest import wait_until
from tests.e2e.processes import Processes, pg_database, qualify_env

pytestmark = [pytest.mark.processes, pytest.mark.skipif(SKIP_PG, reason="schedulers share PostgreSQL's lock")]

TICK = 1.5
TICKS = 10
KILL_AFTER = 3  # ticks the first leader runs before it is killed
RUN = re.compile(r"job sync-connections runs \(tick (\d+)\)")


def _ticks(processes: Processes, process: subprocess.Popen[bytes]) -> list[int]:
    return [int(tick) for tick in RUN.findall(processes.log(process))]


def _leader(processes: Processes, schedulers: list[subprocess.Popen[bytes]]) -> subprocess.Popen[bytes] | None:
    return next((p for p in schedulers if _ticks(processes, p)), None)


def test_given_three_schedulers_when_the_leader_is_killed_mid_run_then_each_tick_runs_exactly_once(
        tmp_path: Path) -> None:
    processes = Processes(tmp_path)
    with pg_database() as engine:
        env = qualify_env(engine, tmp_path / "instance", scheduler_tick_seconds=str(TICK), log_level="DEBUG",
                          log_format="text")
        try:
            schedulers = [processes.start(f"scheduler-{n}", env, "scheduler") for n in range(3)]
            leader = wait_until(lambda: _leader(processes, schedulers), timeout=20, interval=0.01)
            first = _ticks(processes, leader)[0]
            # Killed as soon as it starts its jobs of a tick: they are in flight, its lock session still open.
            wait_until(lambda: len(_ticks(processes, leader)) >= KILL_AFTER, timeout=KILL_AFTER * TICK + 5,
                       interval=0.005)
            leader.send_signal(signal.SIGKILL)
            leader.wait()
            wait_until(lambda: max(t for p in schedulers for t in _ticks(processes, p)) >= first + TICKS,
                       timeout=(TICKS + 3) * TICK)
        finally:
            processes.stop_all()
        logs = {p.pid: processes.log(p) for p in schedulers}

    runs = Counter(t for p in schedulers for t in _ticks(processes, p))
    window = range(first, first + TICKS)
    assert {t: runs[t] for t in window} == dict.fromkeys(window, 1), logs
    killed_at = max(_ticks(processes, leader))
    successors = {p.pid for p in schedulers if p is not leader and set(_ticks(processes, p)) & set(window)}
    assert len(successors) == 1, logs  # one standby took over; the third still waits
    assert killed_at < first + TICKS - 1
    standbys = [p for p in schedulers if p is not leader]
    assert all("another scheduler leads; waiting" in logs[p.pid] for p in standbys), logs
    (successor,) = successors
    assert "leading the scheduler" in logs[successor]
