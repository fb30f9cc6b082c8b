"""Read use cases: records (with completeness), transitions and stored events."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select

from schemas.decisions import issue_view
from service.domain.errors import PipelineError
from service.domain.pipeline import StageRef
from service.models import Connection, InboundEvent, Record, Transition
from service.runtime import Runtime
from service.services.common import get_or_404, paginate, row_view
from service.services.gate_policy import gatekeeper_for


def _page(runtime: Runtime, query: Select[Any], args: dict[str, Any]) -> dict[str, Any]:
    with runtime.read_uow() as uow:
        result = paginate(uow.session, query, args["page"], args["page_size"])
        return {**result, "items": [row_view(r) for r in result["items"]]}


def list_records(runtime: Runtime, args: dict[str, Any]) -> dict[str, Any]:
    """A page of records filtered by connection, pipeline, stage or owner."""
    query = select(Record).order_by(Record.id)
    filters = {"connection_id": Record.connection_id, "pipeline": Record.pipeline_external_id,
               "stage": Record.stage_external_id, "owner": Record.owner_external_id}
    for name, column in filters.items():
        if args.get(name) is not None:
            query = query.where(column == args[name])
    return _page(runtime, query, args)


def record_detail(runtime: Runtime, record_id: int) -> dict[str, Any]:
    """A record with its completeness towards every later stage and its transitions, newest first."""
    with runtime.read_uow() as uow:
        record = get_or_404(uow.session, Record, record_id, "Record")
        connection = uow.session.get_one(Connection, record.connection_id)
        transitions = uow.session.scalars(
            select(Transition).where(Transition.record_id == record.id).order_by(Transition.id.desc()).limit(100)
        ).all()
        keeper = gatekeeper_for(runtime, uow.session, connection)
        completeness: list[dict[str, Any]] = []
        if record.pipeline_external_id and record.stage_external_id:
            try:
                stages = keeper.completeness(
                    StageRef(record.pipeline_external_id, record.stage_external_id), record.values,
                    connection.language,
                )
            except PipelineError:
                stages = ()
            completeness = [
                {"stage": s.stage_id, "label": s.label, "required": s.required, "filled": s.filled,
                 "outcome": str(s.outcome), "issues": [issue_view(i) for i in s.issues]}
                for s in stages
            ]
        view = {c: getattr(record, c) for c in (
            "id", "connection_id", "external_id", "kind", "name", "pipeline_external_id", "stage_external_id",
            "owner_external_id", "amount", "currency", "values", "crm_modified_at", "deleted", "updated_at")}
        return {**view, "completeness": completeness, "transitions": [row_view(t) for t in transitions]}


def list_transitions(runtime: Runtime, args: dict[str, Any]) -> dict[str, Any]:
    """A page of transitions, newest first."""
    query = select(Transition).order_by(Transition.id.desc())
    for name in ("connection_id", "record_id", "decision"):
        if args.get(name) is not None:
            query = query.where(getattr(Transition, name) == args[name])
    return _page(runtime, query, args)


def list_events(runtime: Runtime, args: dict[str, Any]) -> dict[str, Any]:
    """A page of stored events, newest first, filtered by status or connection."""
    query = select(InboundEvent).order_by(InboundEvent.id.desc())
    for name in ("status", "connection_id"):
        if args.get(name) is not None:
            query = query.where(getattr(InboundEvent, name) == args[name])
    return _page(runtime, query, args)


def get_event(runtime: Runtime, event_id: int) -> dict[str, Any]:
    """One stored event; NotFoundError if absent."""
    with runtime.read_uow() as uow:
        return row_view(get_or_404(uow.session, InboundEvent, event_id, "Event"))
