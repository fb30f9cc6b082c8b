"""Periodic jobs, declared as a list with stable ids, run by APScheduler."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from apscheduler.schedulers.background import BackgroundScheduler

from service.runtime import Runtime

log = logging.getLogger("qualify.scheduler")


def purge_expected_reverts(runtime: Runtime) -> None:
    """Delete expected reverts that expired more than a day ago."""
    from service.services.echoes import purge

    purge(runtime)


def sync_connections(runtime: Runtime) -> None:
    """Queue the syncs that are due (each connection's interval) and run every queued sync."""
    from service.services.sync_runs import queue_due_syncs, run_queued_syncs

    queue_due_syncs(runtime)
    run_queued_syncs(runtime)


def pull_offline_events(runtime: Runtime) -> None:
    """Read the offline events of CRMs that queue them (registry: offline_source) into the event store."""
    from service.services.offline_events import pull_offline_events as pull

    pull(runtime)


def rescore_personas(runtime: Runtime) -> None:
    """Run the queued (and resume the interrupted) background rescores."""
    from service.services.rescore import run_queued_rescores

    run_queued_rescores(runtime)


def nightly_rescore(runtime: Runtime) -> None:
    """Once a day, at the configured UTC hour, queue a full rescore that catches anything missed."""
    from service.services.rescore import queue_nightly_rescore

    queue_nightly_rescore(runtime)


def persona_reviews(runtime: Runtime) -> None:
    """Tell the owners of personas past their review date (once per review period)."""
    from service.services.reviews import notify_stale_personas

    notify_stale_personas(runtime)


@dataclass(frozen=True)
class Job:
    """One periodic job."""

    id: str
    func: Callable[[Runtime], None]
    seconds: int


JOBS = (
    Job("purge-expected-reverts", purge_expected_reverts, 3600),
    Job("sync-connections", sync_connections, 10),
    Job("offline-events", pull_offline_events, 10),
    Job("rescore-personas", rescore_personas, 10),
    Job("nightly-rescore", nightly_rescore, 300),
    Job("persona-reviews", persona_reviews, 3600),
)


def build_scheduler(runtime: Runtime) -> BackgroundScheduler:
    """A background scheduler with every job registered (not started)."""
    scheduler = BackgroundScheduler(timezone="UTC")
    for job in JOBS:
        scheduler.add_job(_guarded(job, runtime), "interval", seconds=job.seconds, id=job.id, name=job.id,
                          max_instances=1, coalesce=True, replace_existing=True)
    return scheduler


def _guarded(job: Job, runtime: Runtime) -> Callable[[], None]:
    def run() -> None:
        try:
            job.func(runtime)
        except Exception:
            log.exception("job %s failed", job.id)

    return run
