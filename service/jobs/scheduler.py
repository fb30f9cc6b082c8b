"""`qualify scheduler`: lead the periodic jobs while this process holds the scheduler lock, wait otherwise.

Any number of scheduler processes may run; one leads. The leader checks its lock on every tick (and before every
job run) and stops leading the moment the lock's database session is gone; the standbys try for the lock four
times a tick, so a leader that dies is replaced before the next tick.
"""

from __future__ import annotations

import logging
import os
import threading

from service.jobs.leader import SchedulerLock
from service.jobs.schedule import build_scheduler
from service.runtime import Runtime

log = logging.getLogger("qualify.scheduler")
TRIES_PER_TICK = 4


def run_scheduler(runtime: Runtime, stop: threading.Event, lock: SchedulerLock | None = None) -> None:
    """Lead or wait until `stop` is set; the lock is released on the way out."""
    lock = lock or SchedulerLock(runtime.engine)
    tick = runtime.settings.scheduler_tick_seconds
    waiting = False
    try:
        while not stop.is_set():
            if not lock.try_acquire():
                if not waiting:
                    log.info("another scheduler leads; waiting (trying for the lock every %.2f s)",
                             tick / TRIES_PER_TICK)
                    waiting = True
                stop.wait(tick / TRIES_PER_TICK)
                continue
            waiting = False
            lead(runtime, lock, stop)
    finally:
        lock.release()


def lead(runtime: Runtime, lock: SchedulerLock, stop: threading.Event) -> None:
    """Run the jobs while `lock` is held and `stop` is not set, checking the lock once a tick."""
    tick = runtime.settings.scheduler_tick_seconds
    scheduler = build_scheduler(runtime, lock)
    scheduler.start()
    log.info("leading the scheduler (pid %s holds the lock; a tick is %.2f s)", os.getpid(), tick)
    try:
        while not stop.wait(tick):
            if not lock.held():
                log.warning("the scheduler lock's database session is gone: no longer leading")
                break
    finally:
        # Runs in flight finish (each is its own unit of work); no new run starts.
        scheduler.shutdown(wait=True)
    if stop.is_set():
        log.info("scheduler stopped")

