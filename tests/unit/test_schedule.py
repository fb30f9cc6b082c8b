"""The scheduler's job list: stable ids, intervals counted in ticks (QUALIFY_SCHEDULER_TICK_SECONDS) on a grid
every process shares, retention nightly; a run is skipped when the lock is no longer held."""

from __future__ import annotations

import dataclasses
import logging
from datetime import UTC, datetime

import pytest
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from service.jobs import schedule
from service.jobs.schedule import EPOCH, JOBS, Job, build_scheduler, tick_of
from tests.fakes import fake_runtime


def _triggers(tick: float) -> dict[str, object]:
    runtime = fake_runtime()
    runtime.settings = dataclasses.replace(runtime.settings, scheduler_tick_seconds=tick)
    try:
        return {job.id: job.trigger for job in build_scheduler(runtime).get_jobs()}
    finally:
        runtime.dispose()


def test_every_job_has_a_stable_unique_id_and_is_registered() -> None:
    assert len({job.id for job in JOBS}) == len(JOBS)
    assert set(_triggers(10.0)) == {job.id for job in JOBS}


def test_given_a_short_tick_then_the_frequent_jobs_run_every_tick_on_the_same_grid_in_every_process() -> None:
    triggers = _triggers(0.5)
    sync = triggers["sync-connections"]
    assert isinstance(sync, IntervalTrigger) and sync.interval_length == 0.5
    assert triggers["persona-reviews"].interval_length == 0.5 * 360  # type: ignore[attr-defined]
    now = datetime(2026, 5, 1, 10, 0, 0, 300_000, tzinfo=UTC)
    fire = sync.get_next_fire_time(None, now)
    assert fire == datetime(2026, 5, 1, 10, 0, 0, 500_000, tzinfo=UTC)  # the next half second, whoever computes it
    assert tick_of(fire.timestamp(), 0.5) == tick_of(now.timestamp(), 0.5) + 1
    assert tick_of(EPOCH.timestamp(), 10.0) == 0


def test_retention_runs_nightly_whatever_the_tick() -> None:
    retention = _triggers(0.5)["retention"]
    assert isinstance(retention, CronTrigger)
    fire = retention.get_next_fire_time(None, datetime(2026, 5, 1, 12, 0, tzinfo=UTC))
    assert fire == datetime(2026, 5, 2, 2, 30, tzinfo=UTC)


def test_given_the_lock_is_lost_then_a_run_is_skipped_and_said(caplog: pytest.LogCaptureFixture) -> None:
    ran: list[str] = []

    class Lost:
        def held(self) -> bool:
            return False

    runtime = fake_runtime()
    try:
        run = schedule._guarded(Job("probe", lambda _: ran.append("ran")), runtime, Lost())  # type: ignore[arg-type]
        with caplog.at_level(logging.WARNING, logger="qualify.scheduler"):
            run()
    finally:
        runtime.dispose()
    assert ran == []
    assert "no longer holds the scheduler lock" in caplog.text
