"""The /metrics page: this process's counters (every gunicorn process's, summed) and gauges of the stored state
read at scrape time, which every process sees alike: backlogs and their age, worker heartbeats, sync lag per
connection, rescore progress."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from prometheus_client.core import GaugeMetricFamily

from service.metrics_export import exposition
from service.runtime import Runtime
from service.services.health import StoredState, stored_state

log = logging.getLogger("qualify.metrics")


def metrics_page(runtime: Runtime, accept: str | None) -> tuple[bytes, str]:
    """The page's body and content type (Prometheus text, or OpenMetrics when `accept` asks for it)."""
    return exposition(accept, lambda: stored_families(runtime))


def _gauge(name: str, documentation: str, value: float | None) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation)
    if value is not None:
        family.add_metric([], value)
    return family


def stored_families(runtime: Runtime) -> Iterator[Any]:
    """The gauges of the stored state, and qualify_database_up (0 when the database could not be read: then no
    other gauge of this kind is shown)."""
    try:
        state = stored_state(runtime)
    except Exception:
        log.warning("metrics: could not read the stored state", exc_info=True)
        yield _gauge("qualify_database_up", "Whether /metrics could read the database", 0)
        return
    yield _gauge("qualify_database_up", "Whether /metrics could read the database", 1)
    yield from _backlog(state)
    yield _gauge("qualify_worker_heartbeat_age_seconds",
                 "Since the newest worker heartbeat (absent when no worker ever beat)", state.heartbeat.age_seconds)
    yield _gauge("qualify_workers_alive", "Worker processes that beat within QUALIFY_READY_HEARTBEAT_SECONDS",
                 state.heartbeat.alive)
    yield from _sync(state)
    rescore = state.rescore
    yield _gauge("qualify_rescore_runs_active", "Background rescores queued or running", rescore.active)
    yield _gauge("qualify_rescore_records_done", "Records scored so far by the active rescores", rescore.done)
    yield _gauge("qualify_rescore_records_total", "Records the active rescores score in all", rescore.total)


def _backlog(state: StoredState) -> Iterator[GaugeMetricFamily]:
    found = state.backlog
    yield _gauge("qualify_events_backlog", "Stored events not yet processed (received or processing)", found.events)
    yield _gauge("qualify_events_oldest_ready_age_seconds",
                 "How long the oldest event ready to process has waited (0: none waits)",
                 found.oldest_ready_event_seconds or 0.0)
    yield _gauge("qualify_outbox_backlog", "Outbox actions not yet delivered (pending or in flight)", found.actions)
    yield _gauge("qualify_outbox_oldest_age_seconds",
                 "Age of the oldest undelivered outbox action, backoff included (0: none)",
                 found.oldest_action_seconds or 0.0)
    yield _gauge("qualify_outbox_oldest_due_age_seconds",
                 "How long the oldest due outbox action has waited for a worker (0: none waits)",
                 found.oldest_due_action_seconds or 0.0)


def _sync(state: StoredState) -> Iterator[GaugeMetricFamily]:
    since_sync = GaugeMetricFamily("qualify_sync_lag_seconds", "Since the connection's last sync run finished",
                                   labels=["connection", "crm"])
    since_cursor = GaugeMetricFamily("qualify_sync_cursor_lag_seconds",
                                     "Since the newest CRM change the connection's sync cursor has passed",
                                     labels=["connection", "crm"])
    for lag in state.sync:
        labels = [str(lag.connection_id), lag.crm]
        if lag.since_sync_seconds is not None:
            since_sync.add_metric(labels, lag.since_sync_seconds)
        if lag.since_cursor_seconds is not None:
            since_cursor.add_metric(labels, lag.since_cursor_seconds)
    yield since_sync
    yield since_cursor
