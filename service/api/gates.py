"""/v1/gates and /v1/gate/check."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify
from flask.views import MethodView

from schemas.common import PageArgsSchema
from schemas.gates import (
    DecisionSchema,
    GateCheckInSchema,
    GateInSchema,
    GateListArgsSchema,
    GateOutSchema,
    GatePageSchema,
    GatePatchSchema,
    GatePreviewInSchema,
    GatePreviewSchema,
    GateWrittenSchema,
)
from service.api.common import ID, errors, protected_blueprint, runtime
from service.services import gate_admin as service
from service.services.gate_check import check_move
from service.services.gate_preview import preview_gates

blp = protected_blueprint("gates", __name__, "/v1/gates", "Stage gates: required fields per stage")
check_blp = protected_blueprint("gate", __name__ + ".check", "/v1/gate", "Ask before moving")


class GateListArgs(PageArgsSchema, GateListArgsSchema):
    """Paging and filters of the gate list."""


@blp.route("")
class Gates(MethodView):
    """The collection of gates."""

    @blp.arguments(GateListArgs, location="query")
    @blp.response(200, GatePageSchema)
    @errors(blp, 400, 401, 422)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List gates."""
        return service.list_gates(runtime(), args.get("connection_id"), args["page"], args["page_size"])

    @blp.arguments(GateInSchema)
    @blp.response(201, GateWrittenSchema)
    @errors(blp, 400, 401, 403, 404, 409, 413, 422)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Define the gate of a stage (pipeline and stage by CRM id or label); it audits unless given a mode, and
        the answer's `would_block` says how many open deals it would block if enforced."""
        return service.create_gate(runtime(), data)


@blp.route("/preview")
class GatePreview(MethodView):
    """A proposed gate set's impact, before enforcing it."""

    @blp.arguments(GatePreviewInSchema)
    @blp.response(200, GatePreviewSchema)
    @errors(blp, 400, 401, 403, 404, 413, 422)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Preview gates (each replacing the saved gate of its stage; `remove` drops saved ones) as if enforced:
        the open deals they would block and the recorded moves of the last `days` days they would have blocked.
        Saves nothing."""
        return preview_gates(runtime(), data)


@blp.route(f"/<{ID}:gate_id>")
class GateById(MethodView):
    """One gate."""

    @blp.response(200, GateOutSchema)
    @errors(blp, 401, 404)
    def get(self, gate_id: int) -> dict[str, Any]:
        """Read a gate."""
        return service.get_gate(runtime(), gate_id)

    @blp.arguments(GatePatchSchema)
    @blp.response(200, GateWrittenSchema)
    @errors(blp, 400, 401, 403, 404, 413, 422)
    def patch(self, data: dict[str, Any], gate_id: int) -> dict[str, Any]:
        """Change a gate."""
        return service.update_gate(runtime(), gate_id, data)

    @blp.response(204)
    @errors(blp, 401, 403, 404)
    def delete(self, gate_id: int) -> None:
        """Remove a gate."""
        service.delete_gate(runtime(), gate_id)


@check_blp.route("/check")
class GateCheck(MethodView):
    """The pure decision for a proposed move; managers may call it too."""

    @check_blp.arguments(GateCheckInSchema())  # an instance: not rebuilt per request
    @check_blp.response(200, DecisionSchema)
    @errors(check_blp, 400, 401, 404, 413, 422)
    def post(self, data: dict[str, Any]) -> Response:
        """Would this move pass? Answers the decision without changing anything."""
        # Hot path: check_move already builds exactly DecisionSchema's shape (schemathesis checks
        # the answers against it), so skip the second marshmallow pass and serialize once.
        return jsonify(check_move(runtime(), data))
