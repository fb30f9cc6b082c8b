"""/healthz (the process is alive) and /readyz (the database answers and is migrated)."""

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
@errors(blp, 503, descriptions={503: "The database does not answer or is not migrated"})
def readyz() -> dict[str, Any]:
    """The database answers and carries the latest migration."""
    return readiness(runtime())
