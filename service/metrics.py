"""The Prometheus metrics Qualify counts as it works, and the one-line helpers the use cases call.

Metric objects are built on first use, once per process (nothing at import time). Under `qualify serve` with
several gunicorn processes, prometheus-client's multiprocess mode keeps each process's values in files that
`/metrics` sums (service/metrics_export.py). Labels only ever take values from small fixed sets (statuses,
outcomes, CRM kinds, reason codes, connection ids): never a URL, a message or anything a client sent, so the
metrics can carry no secret.

Gauges of stored state (backlogs, their age, sync lag, rescore progress, the worker heartbeat) are not here:
`/metrics` reads them from the database at scrape time (service/services/health.py), which every process sees
alike.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from prometheus_client import Counter, Histogram

from adapters.http import CallAttempt

log = logging.getLogger("qualify.metrics")
REASON = re.compile(r"[a-z][a-z0-9_]{0,39}")


@dataclass(frozen=True)
class Metrics:
    """Every counter and histogram of the process."""

    webhooks_received: Counter
    webhooks_rejected: Counter
    webhook_events: Counter
    events: Counter
    decisions: Counter
    actions: Counter
    crm_calls: Counter
    crm_call_seconds: Histogram
    sync_runs: Counter
    rescored_records: Counter


@cache
def metrics() -> Metrics:
    """This process's metrics, registered on prometheus-client's default registry on first use."""
    return Metrics(
        webhooks_received=Counter("qualify_webhooks_received", "Webhook deliveries accepted (2xx)"),
        webhooks_rejected=Counter(
            "qualify_webhooks_rejected", "Webhook deliveries refused, by HTTP status and reason code (401: "
            "bad_signature, stale_timestamp, wrong_account, ...; 400: the format reason; 404 unknown_connection; "
            "413 too_large; 503 storage_unavailable)", ["status", "reason"]),
        webhook_events=Counter("qualify_webhook_events", "Events in accepted deliveries: new (stored) or duplicate",
                               ["crm", "result"]),
        events=Counter("qualify_events", "Stored events the worker finished: done, ignored, failed, or retried "
                                         "later (a CRM failure worth retrying)", ["outcome"]),
        decisions=Counter("qualify_decisions", "Stage moves decided, by outcome and where the move was seen "
                                               "(webhook, sync, replay)", ["outcome", "origin"]),
        actions=Counter("qualify_outbox_actions", "Outbox actions delivered (done), put back to retry, or given "
                                                  "up (failed), by kind", ["kind", "outcome"]),
        crm_calls=Counter("qualify_crm_calls", "HTTP calls to CRMs, each attempt once, by CRM, kind (the rate-limit "
                                               "bucket), HTTP status (or timeout / connection_error) and outcome",
                          ["crm", "kind", "status", "outcome"]),
        crm_call_seconds=Histogram("qualify_crm_call_seconds", "Duration of CRM HTTP calls (each attempt)", ["crm"],
                                   buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)),
        sync_runs=Counter("qualify_sync_runs", "Sync runs finished, by status", ["status"]),
        rescored_records=Counter("qualify_rescored_records", "Records scored by background rescores"),
    )


def webhook_answered(status: int, reason: str | None) -> None:
    """Count one answer to a webhook delivery: received when 2xx, else rejected with its status and reason."""
    if 200 <= status < 300:
        metrics().webhooks_received.inc()
        return
    code = reason if reason and REASON.fullmatch(reason) else {
        404: "unknown_connection", 413: "too_large", 503: "storage_unavailable"}.get(status, "other")
    metrics().webhooks_rejected.labels(status=str(status), reason=code).inc()


@cache
def _webhook_events(crm: str) -> tuple[Any, Any]:
    """The (stored, duplicate) counters of a CRM's webhook events: labelled once per process, not per delivery."""
    counter = metrics().webhook_events
    return counter.labels(crm=crm, result="stored"), counter.labels(crm=crm, result="duplicate")


def webhook_stored(crm: str, connection_id: int, received: int, stored: int) -> None:
    """Count the events of an accepted delivery (new and duplicates) and log it at DEBUG: at hundreds of deliveries
    a second an INFO line each cost as much CPU as the rest of the answer, and the access log already has a line
    per delivery (with its request id), the metrics their events."""
    new, duplicate = _webhook_events(crm)
    if stored:
        new.inc(stored)
    if received > stored:
        duplicate.inc(received - stored)
    log.debug("webhook for connection %s (%s): %d events, %d new", connection_id, crm, received, stored)


def event_finished(event_id: int, outcome: str, note: str | None) -> None:
    """Count and log an event the worker finished (done, ignored, failed) or put back (retried)."""
    metrics().events.labels(outcome=outcome).inc()
    level = logging.WARNING if outcome == "failed" else logging.INFO
    logging.getLogger("qualify.events").log(level, "event %s %s: %s", event_id, outcome, note or "")


def decision_made(outcome: str, origin: str) -> None:
    """Count one decided stage move."""
    metrics().decisions.labels(outcome=outcome, origin=origin).inc()


def action_finished(action_id: int, kind: str, outcome: str, note: str | None = None) -> None:
    """Count and log an outbox action delivered (done), rescheduled (retry) or given up (failed)."""
    metrics().actions.labels(kind=kind, outcome=outcome).inc()
    level = logging.WARNING if outcome == "failed" else logging.INFO
    logging.getLogger("qualify.outbox").log(level, "action %s (%s) %s%s", action_id, kind, outcome,
                                            f": {note}" if note else "")


def crm_called(attempt: CallAttempt) -> None:
    """adapters.http's call observer: count one CRM HTTP attempt and its duration."""
    m = metrics()
    crm = attempt.crm or "unknown"
    m.crm_calls.labels(crm=crm, kind=attempt.bucket, status=attempt.status, outcome=attempt.outcome).inc()
    m.crm_call_seconds.labels(crm=crm).observe(attempt.seconds)


def sync_finished(status: str) -> None:
    """Count one finished sync run."""
    metrics().sync_runs.labels(status=status).inc()


def rescored(records: int) -> None:
    """Count records a background rescore scored."""
    metrics().rescored_records.inc(records)


def watch_crm_calls() -> None:
    """Have every CRM call of this process counted (idempotent)."""
    from adapters.http import add_call_observer

    add_call_observer(crm_called)
