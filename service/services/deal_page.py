"""The deal page: one deal as a sales manager reads it, from one call. Its fields with their values (labels in
the reader's language), how complete it is towards every gate ahead, its fit to every persona with the
reasons and the questions worth asking next, and its moves with who made them (by name), through what, and
what Qualify decided."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.registry import kind_of
from schemas.decisions import issue_view
from service.domain.errors import PipelineError
from service.domain.pipeline import StageRef
from service.models import Connection, CrmUser, Field, Record, Transition
from service.runtime import Runtime
from service.services.common import get_or_404, row_view
from service.services.fit import record_scores
from service.services.gate_policy import gatekeeper_for
from service.services.reports.labels import Labels, load_labels
from service.services.stored_config import field_spec
from service.services.win_models import win_probability

TRANSITIONS_SHOWN = 100  # the newest moves; a deal moved more often than this is an outlier


def deal_page(runtime: Runtime, record_id: int, language: str) -> dict[str, Any]:
    """The deal `record_id` with its fields, completeness towards each later stage, persona scores, win
    probability and newest moves (names of movers and owners resolved from the CRM's users); NotFoundError when
    there is no such deal. Texts (field labels, missing-field messages, score reasons) are in `language` (en, ru)."""
    with runtime.read_uow() as uow:
        session = uow.session
        record = get_or_404(session, Record, record_id, "Deal")
        connection = session.get_one(Connection, record.connection_id)
        labels = load_labels(session, connection.id)
        page = {
            "deal": _deal(runtime, connection, record, labels),
            "fields": _fields(session, record, language),
            "completeness": _completeness(runtime, session, connection, record, language),
            "transitions": _transitions(session, record, labels),
            "win": win_probability(session, record),
        }
    return {**page, "scores": record_scores(runtime, record_id, language)}


def _deal(runtime: Runtime, connection: Connection, record: Record, labels: Labels) -> dict[str, Any]:
    cid, pipeline, stage = connection.id, record.pipeline_external_id, record.stage_external_id
    place = labels.stage(cid, pipeline, stage) if stage else {"label": None, "kind": None}
    return {
        "id": record.id, "external_id": record.external_id, "name": record.name, "deleted": record.deleted,
        "connection_id": cid, "connection_name": connection.name, "crm_url": crm_url(runtime, connection, record),
        "pipeline": pipeline, "pipeline_label": labels.pipeline(cid, pipeline) if pipeline else None,
        "stage": stage, "stage_label": place["label"], "stage_kind": place["kind"],
        "owner": record.owner_external_id,
        "owner_name": labels.person(cid, record.owner_external_id) if record.owner_external_id else None,
        "amount": record.amount_value, "amount_text": record.amount, "currency": record.currency,
        "crm_created_at": record.crm_created_at, "closed_at": record.closed_at,
        "stage_changed_at": record.stage_changed_at, "crm_modified_at": record.crm_modified_at,
        "updated_at": record.updated_at,
    }


def crm_url(runtime: Runtime, connection: Connection, record: Record) -> str | None:
    """The deal's page in its CRM, or None when the connection lacks what the CRM's links need."""
    try:
        return kind_of(connection.kind).deal_url(runtime.connector.settings(connection), record.external_id)
    except ValueError:  # e.g. HubSpot without its portal id, Pipedrive without the company domain
        return None


def _fields(session: Session, record: Record, language: str) -> list[dict[str, Any]]:
    """Every defined field with the deal's value (None: not filled), then values of fields since deleted."""
    values = record.values or {}
    rows = [{"key": f.key, "label": field_spec(f).label_for(language), "type": f.type, "value": values.get(f.key),
             "filled": values.get(f.key) not in (None, "", [])}
            for f in session.scalars(select(Field).order_by(Field.label, Field.key))]
    known = {row["key"] for row in rows}
    rows += [{"key": key, "label": key, "type": None, "value": value, "filled": value not in (None, "", [])}
             for key, value in sorted(values.items()) if key not in known]
    return rows


def _completeness(runtime: Runtime, session: Session, connection: Connection, record: Record,
                  language: str) -> list[dict[str, Any]]:
    """What entering each stage ahead would need now: required and filled counts, the outcome a move would
    get, the missing or invalid fields (none for a deal outside a mirrored pipeline)."""
    if not (record.pipeline_external_id and record.stage_external_id):
        return []
    keeper = gatekeeper_for(runtime, session, connection)
    try:
        stages = keeper.completeness(StageRef(record.pipeline_external_id, record.stage_external_id),
                                     record.values or {}, language)
    except PipelineError:  # the deal stands in a stage Qualify has not mirrored
        return []
    return [{"stage": s.stage_id, "label": s.label, "required": s.required, "filled": s.filled,
             "outcome": str(s.outcome), "issues": [issue_view(i) for i in s.issues]} for s in stages]


def _transitions(session: Session, record: Record, labels: Labels) -> list[dict[str, Any]]:
    """The deal's newest moves, newest first, with stage labels and the names of who moved it and who owned
    it then (the CRM's own actor text when the mover is not a known user)."""
    cid = record.connection_id
    movers = {u.user_id: u.name for u in session.scalars(select(CrmUser).where(
        CrmUser.connection_id == cid, CrmUser.user_id.is_not(None)))}
    rows = session.scalars(select(Transition).where(Transition.record_id == record.id)
                           .order_by(Transition.occurred_at.desc(), Transition.id.desc()).limit(TRANSITIONS_SHOWN))
    out = []
    for t in rows:
        out.append({
            **row_view(t),
            "from_stage_label": labels.stage(cid, t.from_pipeline, t.from_stage)["label"] if t.from_stage else None,
            "to_stage_label": labels.stage(cid, t.to_pipeline, t.to_stage)["label"],
            "mover_name": movers.get(t.mover_user_id) if t.mover_user_id else None,
            "owner_name": labels.person(cid, t.owner_id) if t.owner_id else None,
        })
    return out
