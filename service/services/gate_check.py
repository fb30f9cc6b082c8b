"""The synchronous gate check: the decision a proposed move would get, with nothing stored."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, select

from schemas.decisions import decision_view
from service.domain.errors import PipelineError
from service.domain.pipeline import StageRef
from service.errors import InvalidInputError, NotFoundError
from service.models import Connection
from service.runtime import Runtime
from service.services.gate_policy import decide

# Built once: the gate check runs this on every call and only needs the cache key and language.
VERSION_QUERY = select(
    Connection.id, Connection.created_at, Connection.config_version, Connection.language
).where(Connection.id == bindparam("id"))


def check_move(runtime: Runtime, data: dict[str, Any]) -> dict[str, Any]:
    """Decide whether moving a deal with `values` from one stage to another would pass; NotFoundError for an
    unknown connection, InvalidInputError for a stage not in a mirrored pipeline."""
    source = None
    if data.get("from_stage"):
        source = StageRef(data.get("from_pipeline") or data["pipeline"], data["from_stage"])
    target = StageRef(data["pipeline"], data["to_stage"])
    with runtime.read_uow() as uow:
        connection = uow.session.connection().execute(VERSION_QUERY, {"id": data["connection_id"]}).first()
        if connection is None:
            raise NotFoundError(f"Connection {data['connection_id']} does not exist.")
        try:
            decision = decide(runtime, uow.session, connection, source, target, data["values"],
                              data.get("language") or connection.language, runtime.clock().date(), raw_values=True)
        except PipelineError as exc:
            raise InvalidInputError(str(exc), getattr(exc, "errors", None) or {"to_stage": [str(exc)]}) from exc
    return decision_view(decision)
