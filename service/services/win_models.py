"""The win probability per pipeline (service/domain/analytics/win_model.py): the nightly (or asked-for) rebuild
with its calibration and replacement rule, the live increment when a deal is won or lost, a deal's probability
and a pipeline's model status.

Rows in `win_models` keep the history: at most one `current` per pipeline; a rebuild that loses to it is stored
`rejected`, one it beats leaves it `replaced`; under the data floor the pipeline gets a `disabled` row (and its
current model, if any, is retired: the floor holds at every rebuild).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.domain.analytics.win_eval import REPLACE_RATIO, build, floor_reason, replaces
from service.domain.analytics.win_model import Example, add, from_tables, probability, to_tables
from service.errors import NotFoundError
from service.models import Connection, Pipeline, Record, Stage, Transition, WinModel
from service.runtime import Runtime
from service.services import write_back
from service.services.win_percents import features

NOT_BUILT = "no model built yet: it is built nightly, or now with POST /v1/analytics/win-model/rebuild"
LIVE = "live"  # tables key: ids of the deals added live since the build (so a deal is never counted twice)


def _stages(session: Session, connection_id: int, pipeline: str) -> tuple[list[str], dict[str, str]]:
    """(the pipeline's open stages in order, every stage's kind)."""
    rows = session.execute(
        select(Stage.external_id, Stage.kind).join(Pipeline, Pipeline.id == Stage.pipeline_id)
        .where(Pipeline.connection_id == connection_id, Pipeline.external_id == pipeline)
        .order_by(Stage.order, Stage.id)).all()
    return [s for s, kind in rows if kind == "open"], {s: kind for s, kind in rows}


def _reached(session: Session, record_ids: list[int], open_stages: list[str]) -> dict[int, str]:
    """The furthest open stage each deal stood in, from its observed moves (to and from)."""
    order = {s: i for i, s in enumerate(open_stages)}
    furthest: dict[int, str] = {}
    for start in range(0, len(record_ids), 500):
        chunk = record_ids[start:start + 500]
        for rid, src, dst in session.execute(select(Transition.record_id, Transition.from_stage, Transition.to_stage)
                                             .where(Transition.record_id.in_(chunk))):
            for stage in (src, dst):
                if stage in order and (rid not in furthest or order[stage] > order[furthest[rid]]):
                    furthest[rid] = stage
    return furthest


def _closed_at(record: Record, now: datetime) -> datetime:
    return record.closed_at or record.stage_changed_at or record.updated_at or now


def _examples(session: Session, connection_id: int, pipeline: str, open_stages: list[str],
              kinds: dict[str, str], now: datetime) -> list[Example]:
    closed = [s for s, kind in kinds.items() if kind in ("won", "lost")]
    records = list(session.scalars(select(Record).where(
        Record.connection_id == connection_id, Record.pipeline_external_id == pipeline,
        Record.stage_external_id.in_(closed), Record.deleted.is_(False)))) if closed else []
    reached = _reached(session, [r.id for r in records], open_stages)
    return [Example(features(r.values), kinds[r.stage_external_id or ""] == "won", _closed_at(r, now),
                    reached.get(r.id)) for r in records]


def _current(session: Session, connection_id: int, pipeline: str, lock: bool = False) -> WinModel | None:
    query = select(WinModel).where(WinModel.connection_id == connection_id, WinModel.pipeline_external_id == pipeline,
                                   WinModel.status == "current").order_by(WinModel.id.desc()).limit(1)
    return session.scalars(query.with_for_update() if lock else query).first()


def _latest(session: Session, connection_id: int, pipeline: str) -> WinModel | None:
    return session.scalars(select(WinModel).where(
        WinModel.connection_id == connection_id, WinModel.pipeline_external_id == pipeline)
        .order_by(WinModel.id.desc()).limit(1)).first()


def rebuild(runtime: Runtime, connection_id: int | None = None) -> list[dict[str, Any]]:
    """Rebuild the model of every pipeline of every active connection (or of `connection_id`: NotFoundError when
    there is none); returns per pipeline what happened (status current | rejected | disabled, the AUCs, why)."""
    now = runtime.clock()
    changes: list[dict[str, Any]] = []
    with runtime.uow() as uow:
        session = uow.session
        if connection_id is not None and session.get(Connection, connection_id) is None:
            raise NotFoundError(f"Connection {connection_id} does not exist.")
        query = select(Pipeline.connection_id, Pipeline.external_id).join(
            Connection, Connection.id == Pipeline.connection_id).where(Pipeline.archived.is_(False))
        query = query.where(Connection.id == connection_id) if connection_id is not None else \
            query.where(Connection.active.is_(True))
        for cid, pipeline in session.execute(query.order_by(Pipeline.connection_id, Pipeline.order, Pipeline.id)).all():
            changes.append(_rebuild_pipeline(session, cid, pipeline, now))
        uow.commit()
    # After the commit, in batches of their own: the open deals' new probabilities to the CRM, where configured.
    write_back.queue_win_probabilities(runtime, [(c["connection_id"], c["pipeline"]) for c in changes])
    return changes


def _rebuild_pipeline(session: Session, connection_id: int, pipeline: str, now: datetime) -> dict[str, Any]:
    open_stages, kinds = _stages(session, connection_id, pipeline)
    examples = _examples(session, connection_id, pipeline, open_stages, kinds, now)
    won = sum(1 for e in examples if e.won)
    lost = len(examples) - won
    current = _current(session, connection_id, pipeline, lock=True)
    change = {"connection_id": connection_id, "pipeline": pipeline, "won": won, "lost": lost,
              "previous_auc": current.auc if current else None}
    reason = floor_reason(won, lost)
    if reason is not None:
        if current is not None:
            current.status = "replaced"
        latest = _latest(session, connection_id, pipeline)
        if latest is not None and latest.status == "disabled" and latest.reason == reason:
            latest.built_at = now  # same verdict as last night: one row, checked again now
        else:
            session.add(WinModel(connection_id=connection_id, pipeline_external_id=pipeline, status="disabled",
                                 won=won, lost=lost, tables={}, reason=reason, built_at=now))
        return {**change, "status": "disabled", "auc": None, "reason": reason}
    built = build(examples, open_stages)
    check = built.calibration
    keep = current is not None and not replaces(check.auc, current.auc)
    reason = _rejected_because(check.auc, current.auc) if keep and current else None
    if current is not None and not keep:
        current.status = "replaced"
    session.add(WinModel(connection_id=connection_id, pipeline_external_id=pipeline,
                         status="rejected" if keep else "current", won=won, lost=lost,
                         tables=to_tables(built.model), calibration=check.as_dict(), auc=check.auc,
                         brier=check.brier, reason=reason, built_at=now))
    return {**change, "status": "rejected" if keep else "current", "auc": check.auc, "reason": reason}


def _rejected_because(new_auc: float | None, current_auc: float | None) -> str:
    if new_auc is None:
        return "the hold-out lacks won or lost deals, so no AUC to compare; the current model stays"
    return f"hold-out AUC {new_auc:.4f} is below {REPLACE_RATIO} x the current model's {current_auc or 0:.4f}"


def record_closed(session: Session, record: Record, now: datetime) -> bool:
    """Add `record` to its pipeline's current model if it now stands in a won or lost stage (once per deal
    between builds; deals closed before the build are in it already); returns whether the tables changed."""
    pipeline, stage = record.pipeline_external_id, record.stage_external_id
    if pipeline is None or stage is None:
        return False
    kind = session.scalar(select(Stage.kind).join(Pipeline, Pipeline.id == Stage.pipeline_id).where(
        Pipeline.connection_id == record.connection_id, Pipeline.external_id == pipeline,
        Stage.external_id == stage))
    if kind not in ("won", "lost"):
        return False
    current = _current(session, record.connection_id, pipeline, lock=True)
    if current is None or record.id in (current.tables.get(LIVE) or []):
        return False
    open_stages, _ = _stages(session, record.connection_id, pipeline)
    session.flush()  # the move being recorded counts towards the stage reached
    example = Example(features(record.values), kind == "won", _closed_at(record, now),
                      _reached(session, [record.id], open_stages).get(record.id))
    model = add(from_tables(current.tables), example)
    current.tables = {**to_tables(model), LIVE: [*(current.tables.get(LIVE) or []), record.id]}
    current.won, current.lost = model.won, model.lost
    return True


def win_probability(session: Session, record: Record) -> dict[str, Any] | None:
    """The probability that `record` is won, with the model it comes from (built_at, deals behind it, AUC), or
    why there is none (`probability` None and `reason`); None when the deal is in no pipeline."""
    pipeline = record.pipeline_external_id
    if pipeline is None:
        return None
    current = _current(session, record.connection_id, pipeline)
    if current is None:
        latest = _latest(session, record.connection_id, pipeline)
        return {"probability": None, "status": latest.status if latest else "none",
                "reason": (latest.reason if latest else None) or NOT_BUILT,
                "built_at": latest.built_at if latest else None,
                "won": latest.won if latest else 0, "lost": latest.lost if latest else 0}
    model = from_tables(current.tables)
    base = {"built_at": current.built_at, "n": current.won + current.lost, "auc": current.auc, "reason": None}
    _, kinds = _stages(session, record.connection_id, pipeline)
    kind = kinds.get(record.stage_external_id or "")
    if kind in ("won", "lost"):
        return {**base, "probability": 1.0 if kind == "won" else 0.0, "closed": True}
    return {**base, "probability": probability(model, features(record.values), record.stage_external_id),
            "closed": False}


def _view(row: WinModel | None, current: WinModel | None, connection_id: int, pipeline: str,
          label: str | None) -> dict[str, Any]:
    shown = current or row
    return {
        "connection_id": connection_id, "pipeline": pipeline, "pipeline_label": label,
        "status": shown.status if shown else "none",
        "reason": (row.reason if row is not None else NOT_BUILT) if current is None else None,
        "won": shown.won if shown else 0, "lost": shown.lost if shown else 0,
        "auc": shown.auc if shown else None, "brier": shown.brier if shown else None,
        "calibration": shown.calibration if shown else None, "built_at": shown.built_at if shown else None,
        "last_rebuild": None if row is None else {"status": row.status, "reason": row.reason, "auc": row.auc,
                                                  "built_at": row.built_at},
    }


def pipeline_models(session: Session, connection_id: int | None, pipeline: str | None = None
                    ) -> list[dict[str, Any]]:
    """Every (non-archived) pipeline's model: the current one (else the latest verdict, with why), its
    calibration, and the latest rebuild's outcome."""
    query = select(Pipeline.connection_id, Pipeline.external_id, Pipeline.label).where(Pipeline.archived.is_(False))
    if connection_id is not None:
        query = query.where(Pipeline.connection_id == connection_id)
    if pipeline is not None:
        query = query.where(Pipeline.external_id == pipeline)
    rows = session.execute(query.order_by(Pipeline.connection_id, Pipeline.order, Pipeline.id)).all()
    return [_view(_latest(session, cid, ext), _current(session, cid, ext), cid, ext, label)
            for cid, ext, label in rows]


def model_status(runtime: Runtime, connection_id: int, pipeline: str | None = None) -> dict[str, Any]:
    """The win models of a connection's pipelines (or of one), with calibration; NotFoundError for an unknown
    connection or pipeline."""
    with runtime.read_uow() as uow:
        session = uow.session
        if session.get(Connection, connection_id) is None:
            raise NotFoundError(f"Connection {connection_id} does not exist.")
        models = pipeline_models(session, connection_id, pipeline)
        if pipeline is not None and not models:
            raise NotFoundError(f"Connection {connection_id} has no pipeline {pipeline}.")
    return {"connection_id": connection_id, "models": models}

