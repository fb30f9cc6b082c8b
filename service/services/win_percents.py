"""The inputs and outputs of the win models that other use cases read: a deal's portrait values as the models'
features, and deals' win probabilities in percent from their pipelines' current models (what write-back sends).
Read-only; service/services/win_models.py builds and keeps the models."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.domain.analytics.win_model import from_tables, probability
from service.models import Pipeline, Record, Stage, WinModel


def features(values: dict[str, Any] | None) -> dict[str, str]:
    """A deal's portrait values as the model's categorical features (unset values left out; several choices as
    one sorted value)."""
    out: dict[str, str] = {}
    for key, value in (values or {}).items():
        if value is None or value == "" or value == []:
            continue
        if isinstance(value, list):
            out[key] = json.dumps(sorted(str(v) for v in value), ensure_ascii=False)
        elif isinstance(value, bool):
            out[key] = "true" if value else "false"
        else:
            out[key] = str(value)
    return out


def win_percents(session: Session, record_ids: Sequence[int]) -> dict[int, str]:
    """Each deal's win probability from its pipeline's current model as an integer percent 0-100; "" when the
    pipeline has no current model or the deal is closed (won or lost) or in no pipeline."""
    if not record_ids:
        return {}
    records = session.execute(select(Record.id, Record.connection_id, Record.pipeline_external_id,
                                     Record.stage_external_id, Record.values).where(Record.id.in_(record_ids))).all()
    connections = {r.connection_id for r in records}
    models = {(m.connection_id, m.pipeline_external_id): m for m in session.scalars(
        select(WinModel).where(WinModel.connection_id.in_(connections), WinModel.status == "current")
        .order_by(WinModel.id))}
    kinds = {(cid, pipeline, stage): kind for cid, pipeline, stage, kind in session.execute(
        select(Pipeline.connection_id, Pipeline.external_id, Stage.external_id, Stage.kind)
        .join(Stage, Stage.pipeline_id == Pipeline.id).where(Pipeline.connection_id.in_(connections)))}
    tables: dict[int, Any] = {}
    out: dict[int, str] = {}
    for rid, cid, pipeline, stage, values in records:
        current = models.get((cid, pipeline))
        if current is None or kinds.get((cid, pipeline, stage)) in ("won", "lost"):
            out[rid] = ""
            continue
        if current.id not in tables:
            tables[current.id] = from_tables(current.tables)
        out[rid] = str(round(100 * probability(tables[current.id], features(values), stage)))
    return out
