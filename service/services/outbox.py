"""Delivering outbox actions to the CRM: at least once, idempotent, with capped backoff."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from adapters.base import CRMAdapter, TaskRequest
from adapters.errors import CRMError
from service import log_context, metrics
from service.faults import crash_point
from service.models import ActionStatus, Connection, OutboxAction, Record
from service.runtime import Runtime
from service.services import echoes
from service.services.claims import claim, take
from service.services.common import error_text
from service.services.write_back import WRITE_FIELDS, forget_written

log = logging.getLogger("qualify.outbox")

BASE_DELAY = 2.0


def backoff_seconds(attempts: int, retry_after: float | None, cap: float, rng: random.Random | None = None) -> float:
    """Capped exponential backoff with full jitter, never shorter than the CRM's Retry-After."""
    ceiling = min(cap, BASE_DELAY * 2 ** max(attempts - 1, 0))
    delay = (rng or random).uniform(ceiling / 2, ceiling)
    return max(delay, retry_after or 0.0)


def _ready(runtime: Runtime) -> tuple[Select[Any], Callable[[OutboxAction], None]]:
    """Due actions (or ones a crashed worker left in flight), oldest first, and how a claim marks one."""
    now = runtime.clock()
    stale = now - timedelta(seconds=runtime.settings.outbox_in_flight_stale_seconds)
    ready = (
        select(OutboxAction)
        .where(or_(
            (OutboxAction.status == ActionStatus.PENDING) & (OutboxAction.next_attempt_at <= now),
            (OutboxAction.status == ActionStatus.IN_FLIGHT) & (OutboxAction.next_attempt_at <= stale),
        ))
        .order_by(OutboxAction.next_attempt_at, OutboxAction.id)
    )

    def mark(action: OutboxAction) -> None:
        action.status, action.attempts, action.next_attempt_at = ActionStatus.IN_FLIGHT, action.attempts + 1, now

    return ready, mark


def claim_actions(runtime: Runtime, limit: int) -> list[int]:
    """Mark up to `limit` due actions (or ones a crashed worker left in flight) as being delivered; their ids."""
    ready, mark = _ready(runtime)
    return claim(runtime, ready, limit, mark)


Claimed = tuple[OutboxAction, Connection]


def claim_deliveries(runtime: Runtime, limit: int) -> list[Claimed]:
    """Claim as `claim_actions` does; each action (as claimed) with its connection, read in the claim's
    transaction, for `deliver_claimed`. Both are detached and keep what was read (sessions do not expire on
    commit or close)."""
    ready, mark = _ready(runtime)
    with runtime.uow() as uow:
        actions = take(runtime, uow.session, ready, limit, mark)
        ids = {action.connection_id for action in actions}
        connections = {c.id: c for c in uow.session.scalars(select(Connection).where(Connection.id.in_(ids)))} \
            if ids else {}
        uow.commit()
    return [(action, connections[action.connection_id]) for action in actions]


def deliver_action(runtime: Runtime, action_id: int) -> None:
    """Deliver one claimed action, read by id with its connection (see `deliver_claimed`)."""
    with runtime.uow() as uow:
        action, connection = uow.session.execute(
            select(OutboxAction, Connection).join(Connection, Connection.id == OutboxAction.connection_id)
            .where(OutboxAction.id == action_id)).one()
    deliver_claimed(runtime, action, connection)


def deliver_claimed(runtime: Runtime, action: OutboxAction, connection: Connection) -> None:
    """Perform one claimed action in the CRM and record the result; errors are kept, never raised (but a
    connection whose stored settings cannot work raises CRMAuthError, and database errors propagate).

    `action` and `connection` are detached rows as read by the claim: nothing else changes an action in flight
    but the worker holding it, so the result is written onto it, re-attached, in one UPDATE without reading the
    row again; and every edit of a connection bumps its configuration version, so an adapter kept for an older
    one is not used (at worst, a batch claimed just before an edit is delivered with the settings before it)."""
    action_id = action.id
    log_context.bind(request_id=action.request_id, action_id=action_id, connection_id=action.connection_id)
    kind, payload, key = action.kind, dict(action.payload), action.idempotency_key
    payload["_retry"] = action.attempts > 1
    deliverer = DELIVERERS[kind]
    with runtime.shared_adapter(connection) as adapter:  # kept for the next action: never closed here
        try:
            result = deliverer.deliver(adapter, payload)
        except CRMError as exc:
            _failed(runtime, action, exc)
            return
        except Exception as exc:
            log.exception("outbox action %s (%s) failed unexpectedly", action_id, key)
            _failed(runtime, action, exc)
            return
    crash_point(f"after_crm_call:{kind}")
    with runtime.uow() as uow:
        uow.session.add(action)
        action.status, action.done_at = ActionStatus.DONE, runtime.clock()
        action.crm_object_id, action.note = result.get("object_id"), result.get("note")
        if deliverer.on_done is not None:
            deliverer.on_done(runtime, uow.session, action, result)
        uow.commit()
    metrics.action_finished(action_id, kind, "done", result.get("note"))


def _failed(runtime: Runtime, action: OutboxAction, exc: Exception) -> None:
    with runtime.uow() as uow:
        uow.session.add(action)
        action.last_error = error_text(exc)
        action.vendor_message = exc.vendor_message if isinstance(exc, CRMError) else None
        if isinstance(exc, CRMError) and exc.retryable and action.attempts < runtime.settings.outbox_max_attempts:
            delay = backoff_seconds(action.attempts, exc.retry_after, runtime.settings.outbox_max_backoff_seconds)
            action.status, action.next_attempt_at = ActionStatus.PENDING, runtime.clock() + timedelta(seconds=delay)
            metrics.action_finished(action.id, action.kind, "retry", f"in {delay:.1f} s: {action.last_error}")
        else:
            action.status = ActionStatus.FAILED
            metrics.action_finished(action.id, action.kind, "failed", action.last_error)
            on_failed = DELIVERERS[action.kind].on_failed
            if on_failed is not None:
                on_failed(uow.session, action)
        uow.commit()


def _revert_stage(adapter: CRMAdapter, payload: dict[str, Any]) -> dict[str, Any]:
    deal = adapter.get_deal(payload["deal_id"], [])
    if deal.stage_id != payload["blocked_stage"]:
        return {"note": f"not reverted: the deal has since moved to {deal.stage_id}", "reverted": False}
    pipeline = payload.get("pipeline")
    adapter.move_deal(payload["deal_id"], payload["stage"],
                      pipeline if pipeline and pipeline != deal.pipeline_id else None)
    return {"reverted": True}


def _create_task(adapter: CRMAdapter, payload: dict[str, Any]) -> dict[str, Any]:
    # CRMs take no idempotency keys: on a retry (an earlier attempt may have reached the CRM
    # before a crash or timeout) look for our marker before creating again.
    if payload["_retry"]:
        existing = adapter.find_task(payload["deal_id"], payload["marker"])
        if existing is not None:
            return {"object_id": existing, "note": "task already existed"}
    request = TaskRequest(deal_id=payload["deal_id"], owner_id=payload.get("owner_id"), subject=payload["subject"],
                          body=payload["body"], marker=payload["marker"], due=datetime.fromisoformat(payload["due"]))
    return {"object_id": adapter.create_task(request)}


def _write_fields(adapter: CRMAdapter, payload: dict[str, Any]) -> dict[str, Any]:
    # Writing the same values twice is harmless, so retries need no look-up.
    adapter.update_deal(payload["deal_id"], payload["properties"])
    return {}


def _notify_owner(adapter: CRMAdapter, payload: dict[str, Any]) -> dict[str, Any]:
    request = TaskRequest(deal_id=None, owner_id=payload["owner_id"], subject=payload["subject"],
                          body=payload["body"], marker=payload["marker"], due=datetime.fromisoformat(payload["due"]))
    return {"object_id": adapter.create_task(request)}


def _revert_delivered(runtime: Runtime, session: Session, action: OutboxAction, result: dict[str, Any]) -> None:
    # The echo of a revert comes after its delivery, which may be long after it was queued.
    if result.get("reverted"):
        now = runtime.clock()
        echoes.extend(session, action.connection_id, action.payload["deal_id"], action.payload["stage"],
                      now + timedelta(seconds=runtime.settings.expected_revert_ttl_seconds))
        # The deal's stage changed in the CRM after this attempt was claimed: a read made before that (a sync
        # page still being written) shows the blocked move again and must count as outdated, not as a new move
        # to gate a second time. The claim, not now: the revert's own echo happened before now; and its whole
        # second, as amoCRM and Bitrix24 date events to the second (a later move in that second is no older).
        claimed = action.next_attempt_at.replace(microsecond=0)
        record = session.get(Record, action.record_id) if action.record_id is not None else None
        if record is not None and (record.stage_changed_at is None or record.stage_changed_at < claimed):
            record.stage_changed_at = claimed


def _write_failed(session: Session, action: OutboxAction) -> None:
    forget_written(session, action.record_id, list(action.payload.get("properties") or {}))


@dataclass(frozen=True)
class Deliverer:
    """How one kind of action is carried out in the CRM, and its bookkeeping once delivered or given up."""

    deliver: Callable[[CRMAdapter, dict[str, Any]], dict[str, Any]]
    on_done: Callable[[Runtime, Session, OutboxAction, dict[str, Any]], None] | None = None
    on_failed: Callable[[Session, OutboxAction], None] | None = None


DELIVERERS = {"revert_stage": Deliverer(_revert_stage, on_done=_revert_delivered),
              "create_task": Deliverer(_create_task),
              WRITE_FIELDS: Deliverer(_write_fields, on_failed=_write_failed),
              "notify_owner": Deliverer(_notify_owner)}
