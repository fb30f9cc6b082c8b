"""/v1/fields: portrait field definitions."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from schemas.common import PageArgsSchema
from schemas.fields import FieldInSchema, FieldOutSchema, FieldPageSchema, FieldPatchSchema
from service.api.common import ID, errors, protected_blueprint, runtime
from service.services import fields as service

blp = protected_blueprint("fields", __name__, "/v1/fields", "Customer-portrait fields")


@blp.route("")
class Fields(MethodView):
    """The collection of fields."""

    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, FieldPageSchema)
    @errors(blp, 400, 401, 422)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List fields."""
        return service.list_fields(runtime(), args["page"], args["page_size"])

    @blp.arguments(FieldInSchema)
    @blp.response(201, FieldOutSchema)
    @errors(blp, 400, 401, 403, 409, 413, 422)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Define a field."""
        return service.create_field(runtime(), data)


@blp.route(f"/<{ID}:field_id>")
class FieldById(MethodView):
    """One field."""

    @blp.response(200, FieldOutSchema)
    @errors(blp, 401, 404)
    def get(self, field_id: int) -> dict[str, Any]:
        """Read a field."""
        return service.get_field(runtime(), field_id)

    @blp.arguments(FieldPatchSchema)
    @blp.response(200, FieldOutSchema)
    @errors(blp, 400, 401, 403, 404, 413, 422)
    def patch(self, data: dict[str, Any], field_id: int) -> dict[str, Any]:
        """Change a field's label, group, description or constraints."""
        return service.update_field(runtime(), field_id, data)

    @blp.response(204)
    @errors(blp, 401, 403, 404, 409)
    def delete(self, field_id: int) -> None:
        """Delete a field no gate uses."""
        service.delete_field(runtime(), field_id)
