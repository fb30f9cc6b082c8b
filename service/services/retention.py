"""Retention: what Qualify stores about CRM traffic is deleted once it is old enough, in small batches.

- raw webhook deliveries, after QUALIFY_RETENTION_DAYS (default 30) from their receipt;
- processed events (done, ignored, failed), after QUALIFY_RETENTION_DAYS from their processing; events still
  waiting or being processed are never purged;
- transitions (the stage-move audit), after QUALIFY_TRANSITION_RETENTION_DAYS (default 365) from their recording,
  and the finished CRM actions (reverts, tasks) after the same period from their creation;
- finished sync runs, after QUALIFY_RETENTION_DAYS, each connection keeping its latest KEEP_SYNC_RUNS whatever
  their age (the sync status shows them);
- finished portrait runs (their stored results), after QUALIFY_RETENTION_DAYS, the latest KEEP_SYNC_RUNS kept
  whatever their age; win models no longer in use (replaced, rejected, disabled), after QUALIFY_RETENTION_DAYS, each
  pipeline keeping its latest (the model status shows its last rebuild);
- the hourly counts of refused webhook deliveries (webhook health), after QUALIFY_RETENTION_DAYS: a few rows per
  connection and hour, deleted in one statement.

Each batch is one short transaction, so the worker and the web requests never wait long behind it. Links to a
purged row are nulled by the database (ON DELETE SET NULL: an event's delivery, a transition's event, an action's
transition). Records (the deals as last seen) and connections are never purged here: deleting a connection with
?purge=true does that (service/services/connections.py).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, delete, func, select

from service.models import (
    ActionStatus,
    AnalyticsRun,
    EventStatus,
    InboundEvent,
    OutboxAction,
    RunStatus,
    SyncRun,
    Transition,
    WebhookDelivery,
    WebhookRejection,
    WinModel,
)
from service.runtime import Runtime

log = logging.getLogger("qualify.retention")

BATCH_SIZE = 1000
KEEP_SYNC_RUNS = 20
FINISHED_EVENTS = (EventStatus.DONE, EventStatus.IGNORED, EventStatus.FAILED)
FINISHED_ACTIONS = (ActionStatus.DONE, ActionStatus.FAILED)
FINISHED_RUNS = (RunStatus.DONE, RunStatus.FAILED)


def expired_ids(runtime: Runtime, now: datetime) -> dict[str, tuple[Any, Select[tuple[int]]]]:
    """Per table: its model and the query of the ids past retention at `now` (oldest first)."""
    raw = now - timedelta(days=runtime.settings.retention_days)
    audit = now - timedelta(days=runtime.settings.transition_retention_days)
    ranked = select(SyncRun.id, SyncRun.status, SyncRun.finished_at, func.row_number().over(
        partition_by=SyncRun.connection_id, order_by=SyncRun.id.desc()).label("newest")).subquery()
    portraits = select(AnalyticsRun.id, AnalyticsRun.status, AnalyticsRun.finished_at, func.row_number().over(
        partition_by=AnalyticsRun.kind, order_by=AnalyticsRun.id.desc()).label("newest")).subquery()
    models = select(WinModel.id, WinModel.status, WinModel.built_at, func.row_number().over(
        partition_by=(WinModel.connection_id, WinModel.pipeline_external_id), order_by=WinModel.id.desc()
    ).label("newest")).subquery()
    return {
        "webhook_deliveries": (WebhookDelivery, select(WebhookDelivery.id).where(
            WebhookDelivery.received_at < raw).order_by(WebhookDelivery.received_at)),
        "inbound_events": (InboundEvent, select(InboundEvent.id).where(
            InboundEvent.processed_at < raw, InboundEvent.status.in_(FINISHED_EVENTS)).order_by(
            InboundEvent.processed_at)),
        "transitions": (Transition, select(Transition.id).where(Transition.created_at < audit).order_by(
            Transition.id)),
        "outbox": (OutboxAction, select(OutboxAction.id).where(
            OutboxAction.status.in_(FINISHED_ACTIONS), OutboxAction.created_at < audit).order_by(OutboxAction.id)),
        "sync_runs": (SyncRun, select(ranked.c.id).where(
            ranked.c.newest > KEEP_SYNC_RUNS, ranked.c.status.in_(FINISHED_RUNS), ranked.c.finished_at < raw)
            .order_by(ranked.c.id)),
        "analytics_runs": (AnalyticsRun, select(portraits.c.id).where(
            portraits.c.newest > KEEP_SYNC_RUNS, portraits.c.status.in_(FINISHED_RUNS),
            portraits.c.finished_at < raw).order_by(portraits.c.id)),
        "win_models": (WinModel, select(models.c.id).where(
            models.c.newest > 1, models.c.status != "current", models.c.built_at < raw).order_by(models.c.id)),
    }


def purge_expired(runtime: Runtime, batch_size: int = BATCH_SIZE) -> dict[str, int]:
    """Delete every row past its retention period, `batch_size` rows per transaction; returns the rows deleted
    per table. Database errors propagate (what was committed stays deleted; the next run goes on)."""
    now = runtime.clock()
    purged = {table: _purge(runtime, model, query, batch_size)
              for table, (model, query) in expired_ids(runtime, now).items()}
    purged["webhook_rejections"] = _purge_rejections(runtime, now - timedelta(days=runtime.settings.retention_days))
    if any(purged.values()):
        log.info("retention purged %s", ", ".join(f"{n} {table}" for table, n in purged.items() if n),
                 extra={"purged": purged})
    return purged


def _purge_rejections(runtime: Runtime, before: datetime) -> int:
    with runtime.uow() as uow:
        result: Any = uow.session.execute(delete(WebhookRejection).where(WebhookRejection.hour < before),
                                          execution_options={"synchronize_session": False})
        uow.commit()
    return int(result.rowcount or 0)


def _purge(runtime: Runtime, model: Any, query: Select[tuple[int]], batch_size: int) -> int:
    total = 0
    while True:
        with runtime.uow() as uow:
            ids = list(uow.session.scalars(query.limit(batch_size)))
            if ids:
                uow.session.execute(delete(model).where(model.id.in_(ids)),
                                    execution_options={"synchronize_session": False})
                uow.commit()
        total += len(ids)
        if len(ids) < batch_size:
            return total
