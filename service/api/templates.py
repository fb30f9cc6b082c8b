"""/v1/templates and POST /v1/personas/from-template: built-in personas and qualification frameworks."""

from __future__ import annotations

from typing import Any

from schemas.templates import FromTemplateInSchema, TemplateListSchema, TemplateResultSchema
from service.api.common import errors, protected_blueprint, runtime
from service.services.templates import apply_template, templates

blp = protected_blueprint("templates", __name__, "/v1", "Built-in persona and qualification templates")


@blp.route("/templates", methods=["GET"])
@blp.response(200, TemplateListSchema)
@errors(blp, 401)
def list_all() -> dict[str, Any]:
    """Every built-in template: customer portrait, B2B ICP, BANT, CHAMP, MEDDPICC, GPCTBA/C&I, SPICED."""
    return {"items": templates()}


@blp.route("/personas/from-template", methods=["POST"])
@blp.arguments(FromTemplateInSchema)
@blp.response(201, TemplateResultSchema)
@errors(blp, 400, 401, 403, 404, 409, 413, 422)
def from_template(data: dict[str, Any]) -> dict[str, Any]:
    """Create a template's missing fields and its persona, or its cumulative gates on the mapped stages."""
    return apply_template(runtime(), data)
