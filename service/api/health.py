"""/healthz (the process is alive) and /readyz (the database answers and is migrated)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from schemas.common import HealthSchema
from service.api.common import errors, public_blueprint, runtime

blp = public_blueprint("health", __name__, None, "Liveness and readiness")


@blp.route("/healthz", methods=["GET"])
@blp.doc(security=[])
@blp.response(200, HealthSchema)
def healthz() -> dict[str, Any]:
    """The process answers."""
    return {"status": "ok", "checks": {}}


@blp.route("/readyz", methods=["GET"])
@blp.doc(security=[])
@blp.response(200, HealthSchema)
@errors(blp, 503, descriptions={503: "The database does not answer or is not migrated"})
def readyz() -> Any:
    """The database answers and carries the latest migration."""
    from service.api.errors import problem
    from service.migrate import current_revision, head_revision

    try:
        with runtime().engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            current = current_revision(conn)
    except Exception:
        return problem(503, "The database does not answer.")
    if current != head_revision():
        return problem(503, f"Database at migration {current}, expected {head_revision()}.")
    return {"status": "ok", "checks": {"database": "ok", "migration": str(current)}}
