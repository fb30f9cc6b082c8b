"""The synchronous gate check: a pure decision for a proposed move."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, select

from service.domain.errors import PipelineError
from service.domain.gating import Decision, FieldIssue, StageRef
from service.errors import InvalidInputError, NotFoundError
from service.models import Connection
from service.runtime import Runtime
from service.services.fit_gate import check_fit, normalized, relevant, requirements_for
from service.services.policy import gatekeeper_for

# Built once: the gate check runs this on every call and only needs the cache key and language.
VERSION_QUERY = select(
    Connection.id, Connection.created_at, Connection.config_version, Connection.language
).where(Connection.id == bindparam("id"))


def issue_view(issue: FieldIssue) -> dict[str, Any]:
    """The API view of one missing or invalid field."""
    return {
        "field": issue.field, "label": issue.label, "reason": str(issue.reason), "constraint": issue.constraint,
        "stage": issue.stage_id, "mode": str(issue.mode), "message": issue.message,
    }


def decision_view(decision: Decision) -> dict[str, Any]:
    """The API view of a decision."""
    return {
        "outcome": str(decision.outcome), "direction": str(decision.direction),
        "gated_stages": list(decision.gated_stages), "issues": [issue_view(i) for i in decision.issues],
        "message": decision.message,
    }


def check_move(runtime: Runtime, data: dict[str, Any]) -> dict[str, Any]:
    """Decide whether moving a deal with `values` from one stage to another would pass."""
    with runtime.read_uow() as uow:
        connection = uow.session.connection().execute(VERSION_QUERY, {"id": data["connection_id"]}).first()
        if connection is None:
            raise NotFoundError(f"Connection {data['connection_id']} does not exist.")
        keeper = gatekeeper_for(runtime, uow.session, connection)
        fit_requirements = requirements_for(runtime, uow.session, connection)
        language = data.get("language") or connection.language
    source = None
    if data.get("from_stage"):
        source = StageRef(data.get("from_pipeline") or data["pipeline"], data["from_stage"])
    target = StageRef(data["pipeline"], data["to_stage"])
    try:
        decision = keeper.decide(source, target, data["values"], language)
    except PipelineError as exc:
        raise InvalidInputError(str(exc), getattr(exc, "errors", None) or {"to_stage": [str(exc)]}) from exc
    needed = relevant(fit_requirements, decision, target) if fit_requirements else []
    if needed:
        with runtime.read_uow() as uow:
            decision = check_fit(uow.session, connection.id, decision, target, normalized(data["values"], uow.session),
                                 needed, language, runtime.clock().date())
    return decision_view(decision)
