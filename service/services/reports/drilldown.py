"""The deals behind a number of the qualification report: the same filters plus the cell's own (stage, owner,
metric), each deal with a link to its page in the CRM."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, select, true
from sqlalchemy.orm import Session, aliased

from adapters.registry import kind_of
from service.errors import InvalidInputError
from service.models import Connection, CrmUser, Record, RecordScore, Transition
from service.runtime import Runtime
from service.services.common import paginate
from service.services.reports.compliance import AUTOMATED, GATED, held_by
from service.services.reports.deals import closed_at, created_at, stage_kind_join
from service.services.reports.filters import ReportFilter, deals_in, moves_in

# metric -> which of the period's moves into the stage count (the compliance cells)
MOVE_METRICS: dict[str, ColumnElement[bool]] = {
    "moves": true(), "allowed": Transition.decision == "allowed", "blocked": Transition.decision == "blocked",
    "warned": Transition.decision == "warned",
    "audited": and_(Transition.decision == "audited", Transition.too_old.is_(False)),
    "found_by_sync": Transition.source == "sync", "automated": Transition.mover_kind.in_(AUTOMATED),
    "too_old": Transition.too_old.is_(True),
}
DEAL_METRICS = ("created", "no_persona", "closed", "won", "lost", "stuck")
METRICS = (*MOVE_METRICS, *DEAL_METRICS)


def _by_moves(f: ReportFilter, metric: str, stage: str | None) -> Select[Any]:
    query = select(Transition.record_id).join(Record, Record.id == Transition.record_id)
    if f.by_deal:
        query = query.outerjoin(RecordScore, RecordScore.record_id == Record.id)
    query = query.where(moves_in(f), Transition.direction.in_(GATED), MOVE_METRICS[metric])
    return query.where(Transition.to_stage == stage) if stage is not None else query


def _by_deals(f: ReportFilter, metric: str, stage: str | None) -> Select[Any]:
    query, kind = stage_kind_join(select(Record.id).outerjoin(RecordScore, RecordScore.record_id == Record.id))
    query = query.where(deals_in(f))
    if metric in ("created", "no_persona"):
        query = query.where(created_at() >= f.start, created_at() < f.end)
        if metric == "no_persona":
            query = query.where(RecordScore.best_persona_id.is_(None))
    elif metric == "stuck":
        holding = aliased(Transition)
        return query.where(exists().where(holding.record_id == Record.id, held_by(holding),
                                          *([holding.to_stage == stage] if stage is not None else [])))
    else:
        wanted = {"closed": ("won", "lost"), "won": ("won",), "lost": ("lost",)}[metric]
        query = query.where(closed_at() >= f.start, closed_at() < f.end, kind.in_(wanted))
    return query.where(Record.stage_external_id == stage) if stage is not None else query


def report_deals(runtime: Runtime, f: ReportFilter, metric: str, stage: str | None, page: int,
                 page_size: int) -> dict[str, Any]:
    """A page of the deals behind one number (InvalidInputError for an unknown metric), each with its CRM link,
    owner name, best persona and grade."""
    if metric not in METRICS:
        raise InvalidInputError(f"Unknown metric {metric!r}.", {"metric": [f"One of {', '.join(METRICS)}."]})
    ids = (_by_moves if metric in MOVE_METRICS else _by_deals)(f, metric, stage)
    query = select(Record).where(Record.id.in_(ids.distinct().scalar_subquery())).order_by(Record.id)
    with runtime.read_uow() as uow:
        result = paginate(uow.session, query, page, page_size)
        return {**result, "items": _views(runtime, uow.session, result["items"])}


def _views(runtime: Runtime, session: Session, records: list[Record]) -> list[dict[str, Any]]:
    connections = {c.id: c for c in session.scalars(select(Connection).where(
        Connection.id.in_({r.connection_id for r in records})))}
    names = {(u.connection_id, u.external_id): u.name for u in session.scalars(select(CrmUser).where(
        CrmUser.connection_id.in_(list(connections))))}
    scores = {s.record_id: s for s in session.scalars(select(RecordScore).where(
        RecordScore.record_id.in_([r.id for r in records])))}
    settings = {cid: runtime.connector.settings(c) for cid, c in connections.items()}
    out = []
    for r in records:
        try:
            link: str | None = kind_of(connections[r.connection_id].kind).deal_url(settings[r.connection_id],
                                                                                   r.external_id)
        except ValueError:  # the connection lacks what the CRM's links need (e.g. HubSpot's portal id)
            link = None
        score = scores.get(r.id)
        out.append({"id": r.id, "connection_id": r.connection_id, "external_id": r.external_id, "name": r.name,
                    "pipeline": r.pipeline_external_id, "stage": r.stage_external_id,
                    "owner": r.owner_external_id, "owner_name": names.get((r.connection_id, r.owner_external_id or "")),
                    "amount": r.amount_value, "currency": r.currency, "crm_created_at": r.crm_created_at,
                    "closed_at": r.closed_at, "best_persona_id": score.best_persona_id if score else None,
                    "grade": score.best_grade if score else None, "crm_url": link})
    return out
