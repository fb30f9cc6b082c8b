"""Periodic jobs, declared as a list with stable ids, run by APScheduler on the leading scheduler
(service/jobs/scheduler.py). The use cases they call are imported with this module, before a process leads, so a
standby's first run after a takeover is as quick as any other."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from service.jobs.leader import SchedulerLock
from service.runtime import Runtime
from service.services import echoes, offline_events, rescore, retention, reviews, sync_runs, win_models
from service.services.analytics import runs as analytics_runs

log = logging.getLogger("qualify.scheduler")


def purge_expected_reverts(runtime: Runtime) -> None:
    """Delete expected reverts that expired more than a day ago."""
    echoes.purge(runtime)


def sync_connections(runtime: Runtime) -> None:
    """Queue the syncs that are due (each connection's interval) and run every queued sync."""
    sync_runs.queue_due_syncs(runtime)
    sync_runs.run_queued_syncs(runtime)


def pull_offline_events(runtime: Runtime) -> None:
    """Read the offline events of CRMs that queue them (registry: offline_source) into the event store."""
    offline_events.pull_offline_events(runtime)


def rescore_personas(runtime: Runtime) -> None:
    """Run the queued (and resume the interrupted) background rescores."""
    rescore.run_queued_rescores(runtime)


def nightly_rescore(runtime: Runtime) -> None:
    """Once a day, at the configured UTC hour, queue a full rescore that catches anything missed."""
    rescore.queue_nightly_rescore(runtime)


def persona_reviews(runtime: Runtime) -> None:
    """Tell the owners of personas past their review date (once per review period)."""
    reviews.notify_stale_personas(runtime)


def purge_old_data(runtime: Runtime) -> None:
    """Delete what is older than the retention periods (raw deliveries, processed events, transitions, finished
    CRM actions, sync runs), in batches."""
    retention.purge_expired(runtime)


def rebuild_win_models(runtime: Runtime) -> None:
    """Rebuild every pipeline's win-probability model (kept only if it does as well as the current one)."""
    win_models.rebuild(runtime)


def portrait_runs(runtime: Runtime) -> None:
    """Run the queued portrait runs (queued by the API, or nightly below)."""
    analytics_runs.run_queued_runs(runtime)


def nightly_portrait(runtime: Runtime) -> None:
    """Once a night, recompute the portrait (ABC-XYZ, RFM, the customers' segments) as of today."""
    analytics_runs.queue_nightly(runtime)
    analytics_runs.run_queued_runs(runtime)


# Every process counts ticks from this instant, so the ticks of every scheduler fall at the same moments and a
# standby that takes over runs the next tick the old leader would have run, neither earlier nor twice.
EPOCH = datetime(2020, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Job:
    """One periodic job: every `ticks` scheduler ticks (QUALIFY_SCHEDULER_TICK_SECONDS), or at the UTC times of
    a crontab line."""

    id: str
    func: Callable[[Runtime], None]
    ticks: int = 1
    cron: str | None = None


JOBS = (
    Job("purge-expected-reverts", purge_expected_reverts, ticks=360),
    Job("sync-connections", sync_connections),
    Job("offline-events", pull_offline_events),
    Job("rescore-personas", rescore_personas),
    Job("nightly-rescore", nightly_rescore, ticks=30),
    Job("persona-reviews", persona_reviews, ticks=360),
    Job("retention", purge_old_data, cron="30 2 * * *"),  # nightly, 02:30 UTC
    Job("win-models", rebuild_win_models, cron="45 3 * * *"),  # nightly, 03:45 UTC
    Job("portrait-runs", portrait_runs),
    Job("nightly-portrait", nightly_portrait, cron="15 4 * * *"),  # nightly, 04:15 UTC
)


def tick_of(timestamp: float, tick_seconds: float) -> int:
    """The number of the tick a moment falls in (ticks counted from EPOCH)."""
    return math.floor((timestamp - EPOCH.timestamp()) / tick_seconds)


def build_scheduler(runtime: Runtime, lock: SchedulerLock | None = None) -> BackgroundScheduler:
    """A background scheduler with every job registered (not started). With `lock`, each run first checks that
    this process still holds it, and is skipped when it does not."""
    tick = runtime.settings.scheduler_tick_seconds
    scheduler = BackgroundScheduler(timezone="UTC")
    for job in JOBS:
        trigger = CronTrigger.from_crontab(job.cron, timezone="UTC") if job.cron else \
            IntervalTrigger(seconds=tick * job.ticks, start_date=EPOCH, timezone="UTC")
        scheduler.add_job(_guarded(job, runtime, lock), trigger, id=job.id, name=job.id, max_instances=1,
                          coalesce=True, replace_existing=True,
                          # a run later than half its period is left to the next one
                          misfire_grace_time=max(1, int(tick * job.ticks / 2)))
    return scheduler


def _guarded(job: Job, runtime: Runtime, lock: SchedulerLock | None) -> Callable[[], None]:
    def run() -> None:
        if lock is not None and not lock.held():
            log.warning("job %s skipped: this scheduler no longer holds the scheduler lock", job.id)
            return
        tick = tick_of(time.time(), runtime.settings.scheduler_tick_seconds)
        log.debug("job %s runs (tick %d)", job.id, tick, extra={"job": job.id, "tick": tick})
        try:
            job.func(runtime)
        except Exception:
            log.exception("job %s failed", job.id)

    return run
