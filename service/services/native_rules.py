"""Importing a CRM's own per-stage required fields (Pipedrive required_fields, amoCRM required_statuses)
as Qualify gates; a dry run shows what would change."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from service.models import Connection, Field, FieldMapping, Gate, Pipeline, Stage
from service.runtime import Runtime
from service.services.common import get_or_404
from service.services.connections import ask_crm
from service.services.stored_config import bump_config


def import_native_rules(runtime: Runtime, connection_id: int, *, dry_run: bool, mode: str) -> dict[str, Any]:
    """Plan (and unless `dry_run`, apply) gates from the CRM's native stage requirements."""
    native = ask_crm(runtime, connection_id, lambda adapter: adapter.native_stage_requirements())
    with runtime.uow() as uow:
        get_or_404(uow.session, Connection, connection_id, "Connection")
        rows = uow.session.execute(
            select(FieldMapping.property, Field.key).join(Field, Field.id == FieldMapping.field_id)
            .where(FieldMapping.connection_id == connection_id))
        field_of = {prop: key for prop, key in rows}
        stages = uow.session.execute(
            select(Stage, Pipeline.external_id).join(Pipeline)
            .where(Pipeline.connection_id == connection_id, Stage.archived.is_(False))).all()
        plan: list[dict[str, Any]] = []
        skipped: list[dict[str, str]] = []
        for stage_id, properties in sorted(native.items()):
            fields = [field_of[p] for p in properties if p in field_of]
            skipped += [{"stage": stage_id, "property": p, "reason": "not mapped to a Qualify field"}
                        for p in properties if p not in field_of]
            # "<pipeline id>:<stage id>" names one pipeline's stage where the id alone is not unique (Pipedrive's
            # virtual won/lost stages).
            matches = [(s, pipeline) for s, pipeline in stages if stage_id in (s.external_id,
                                                                               f"{pipeline}:{s.external_id}")]
            if not matches:
                skipped.append({"stage": stage_id, "property": ",".join(properties),
                                "reason": "stage not mirrored; refresh pipelines first"})
            for stage, pipeline in matches:
                if fields:
                    plan.append(_plan_stage(uow.session, connection_id, stage, pipeline, fields, mode, dry_run))
        if not dry_run:
            bump_config(uow.session, connection_id)
            uow.commit()
    return {"dry_run": dry_run, "gates": plan, "skipped": skipped}


def _plan_stage(session: Any, connection_id: int, stage: Stage, pipeline: str, fields: list[str], mode: str,
                dry_run: bool) -> dict[str, Any]:
    gate = session.scalars(select(Gate).where(Gate.stage_id == stage.id)).first()
    have = {r["field"] for r in gate.requirements} if gate else set()
    new = [f for f in dict.fromkeys(fields) if f not in have]
    action = "create" if gate is None else ("extend" if new else "unchanged")
    if not dry_run and action == "create":
        gate = Gate(connection_id=connection_id, stage=stage, mode=mode,
                    requirements=[{"field": f, "required_if": None} for f in new],
                    description="Imported from the CRM's required fields")
        session.add(gate)
        session.flush()
    elif not dry_run and action == "extend" and gate is not None:
        gate.requirements = [*gate.requirements, *({"field": f, "required_if": None} for f in new)]
    return {"pipeline": pipeline, "stage": stage.external_id, "stage_label": stage.label, "action": action,
            "fields": new, "gate_id": gate.id if gate is not None else None}
