"""The life-cycle states of stored work: inbound events, outbox actions, sync and rescore runs."""

from __future__ import annotations

from enum import StrEnum


class EventStatus(StrEnum):
    """An inbound event: stored, claimed by a worker, then done, failed (kept with its error) or ignored."""

    RECEIVED = "received"
    PROCESSING = "processing"
    DONE = "done"
    FAILED = "failed"
    IGNORED = "ignored"


class ActionStatus(StrEnum):
    """An outbox action: waiting (or backing off), being delivered, delivered, or given up."""

    PENDING = "pending"
    IN_FLIGHT = "in_flight"
    DONE = "done"
    FAILED = "failed"


class RunStatus(StrEnum):
    """A sync or rescore run: queued, running, then done or failed."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


ACTIVE_RUN = (RunStatus.QUEUED, RunStatus.RUNNING)
