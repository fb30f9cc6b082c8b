"""Builds the pure-domain gating policy (a Gatekeeper) from stored configuration, cached."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from service.domain.conditions import parse_condition
from service.domain.fields import DEFAULT_PLACEHOLDERS, Constraints, FieldSpec, FieldType, normalize_placeholders
from service.domain.gating import Gate, Gatekeeper, GateMode, Pipeline, Requirement, Stage, StageKind
from service.models import Connection, Field
from service.models import Gate as GateRow
from service.models import Pipeline as PipelineRow

CACHE_SIZE = 64


def field_spec(row: Field) -> FieldSpec:
    """The domain view of a stored field."""
    c = row.constraints or {}
    constraints = Constraints(
        min=Decimal(str(c["min"])) if c.get("min") is not None else None,
        max=Decimal(str(c["max"])) if c.get("max") is not None else None,
        min_length=c.get("min_length"),
        max_length=c.get("max_length"),
        regex=c.get("regex"),
        options=tuple(c.get("options") or ()),
    )
    return FieldSpec(key=row.key, label=row.label, type=FieldType(row.type), constraints=constraints,
                     label_ru=row.label_ru)


def domain_pipeline(row: PipelineRow) -> Pipeline:
    """The domain view of a stored pipeline."""
    stages = tuple(
        Stage(id=s.external_id, label=s.label, order=s.order, kind=StageKind(s.kind))
        for s in row.stages
        if not s.archived
    )
    return Pipeline(id=row.external_id, label=row.label, stages=stages)


def domain_gate(row: GateRow) -> Gate:
    """The domain view of a stored gate."""
    requirements = tuple(
        Requirement(field=r["field"], required_if=parse_condition(r["required_if"]) if r.get("required_if") else None)
        for r in row.requirements
    )
    return Gate(
        pipeline_id=row.stage.pipeline.external_id,
        stage_id=row.stage.external_id,
        mode=GateMode(row.mode),
        requirements=requirements,
        id=str(row.id),
    )


def placeholders_of(connection: Connection) -> frozenset[str]:
    """The placeholder values that count as empty for this connection."""
    if connection.placeholders is None:
        return DEFAULT_PLACEHOLDERS
    return normalize_placeholders(connection.placeholders)


def build_gatekeeper(session: Session, connection: Connection) -> Gatekeeper:
    """Load pipelines, gates and fields of a connection into a compiled Gatekeeper."""
    pipelines = session.scalars(
        select(PipelineRow)
        .where(PipelineRow.connection_id == connection.id)
        .options(selectinload(PipelineRow.stages))
    ).all()
    gates = session.scalars(select(GateRow).where(GateRow.connection_id == connection.id)).all()
    fields: Iterable[Field] = session.scalars(select(Field)).all()
    return Gatekeeper(
        [domain_pipeline(p) for p in pipelines],
        [domain_gate(g) for g in gates],
        [field_spec(f) for f in fields],
        placeholders=placeholders_of(connection),
    )


def gatekeeper_for(runtime: Any, session: Session, connection: Any) -> Gatekeeper:
    """The cached Gatekeeper for the connection's current configuration version.

    `connection` may be the model or a row with id, created_at and config_version (cheaper to read).
    """
    # created_at is in the key because SQLite may give a deleted connection's id to a new one.
    key = ("gatekeeper", connection.id, connection.created_at, connection.config_version)
    cached = runtime.cache.get(key)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    model = connection if isinstance(connection, Connection) else session.get_one(Connection, connection.id)
    keeper = build_gatekeeper(session, model)
    with runtime.cache_lock:
        stale = [k for k in runtime.cache if isinstance(k, tuple) and k[:2] == ("gatekeeper", connection.id)]
        for k in stale:
            runtime.cache.pop(k, None)
        runtime.cache[key] = keeper
    return keeper


def bump_config(session: Session, connection_id: int | None = None) -> None:
    """Mark one connection's (or every connection's) gating configuration as changed."""
    query = select(Connection)
    if connection_id is not None:
        query = query.where(Connection.id == connection_id)
    for connection in session.scalars(query):
        connection.config_version += 1
