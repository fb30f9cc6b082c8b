"""/healthz (the process is alive: no I/O) and /readyz (the database, the migration, the worker heartbeat and the
backlog's age)."""

from __future__ import annotations

from typing import Any

from schemas.common import HealthSchema
from service.api.common import errors, public_blueprint, runtime
from service.services.health import readiness

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
@errors(blp, 503, descriptions={503: "A check failed: the database does not answer or is not migrated, no worker "
                                     "beat recently, or due work has waited too long (`errors` names each)"})
def readyz() -> dict[str, Any]:
    """The database answers at the latest migration, a worker beat recently, no due work waits too long."""
    return readiness(runtime())
