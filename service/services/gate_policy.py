"""The gating policy of a connection, compiled from its stored configuration and cached per configuration
version, and the one decision of a move that the worker, sync and the synchronous check all make."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from service.domain.conditions import parse_condition
from service.domain.gating import Gatekeeper
from service.domain.issues import Decision
from service.domain.pipeline import Gate, GateMode, Pipeline, Requirement, Stage, StageKind, StageRef
from service.models import Connection, Field
from service.models import Gate as GateRow
from service.models import Pipeline as PipelineRow
from service.runtime import Runtime
from service.services.persona_requirements import check_fit, load_requirements, normalized, relevant
from service.services.stored_config import field_spec, placeholders_of


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


def build_gatekeeper(session: Session, connection: Connection) -> Gatekeeper:
    """Load pipelines, gates and fields of a connection into a compiled Gatekeeper."""
    pipelines = session.scalars(
        select(PipelineRow)
        .where(PipelineRow.connection_id == connection.id)
        .options(selectinload(PipelineRow.stages))
    ).all()
    gates = session.scalars(select(GateRow).where(GateRow.connection_id == connection.id)).all()
    fields = session.scalars(select(Field)).all()
    return Gatekeeper(
        [domain_pipeline(p) for p in pipelines],
        [domain_gate(g) for g in gates],
        [field_spec(f) for f in fields],
        placeholders=placeholders_of(connection),
    )


def gatekeeper_for(runtime: Runtime, session: Session, connection: Any) -> Gatekeeper:
    """The cached Gatekeeper for the connection's current configuration version.

    `connection` may be the model or a row with id, created_at and config_version (cheaper to read).
    """
    def build() -> Gatekeeper:
        model = connection if isinstance(connection, Connection) else session.get_one(Connection, connection.id)
        return build_gatekeeper(session, model)

    return runtime.cached_for(connection, "gatekeeper", build)


def decide(runtime: Runtime, session: Session, connection: Any, source: StageRef | None, target: StageRef,
           values: Mapping[str, Any], language: str, today: date, *, raw_values: bool = False) -> Decision:
    """The decision of a move with these field values: the gates of every stage it passes, then the
    persona requirements of those gates. `raw_values` are values as an API caller sent them (normalized
    here for the persona check); otherwise they are a record's stored, normalized values. PipelineError
    when the target stage is not in a mirrored pipeline."""
    decision = gatekeeper_for(runtime, session, connection).decide(source, target, values, language)
    requirements = runtime.cached_for(connection, "persona-requirements",
                                      lambda: load_requirements(session, connection.id))
    needed = relevant(requirements, decision, target) if requirements else []
    if not needed:
        return decision
    fit_values = normalized(values, session) if raw_values else values
    return check_fit(session, connection.id, decision, target, fit_values, needed, language, today)
