"""Built-in templates: customer portraits, a B2B ICP and qualification frameworks (BANT, CHAMP, MEDDPICC,
GPCTBA/C&I, SPICED) as cumulative stage gates."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from schemas.common import GATE_MODES, LANGUAGES, StrictSchema, id_field
from schemas.gates import GateOutSchema
from schemas.personas import PersonaOutSchema


class TemplateOutSchema(Schema):
    """A built-in template."""

    key = fields.String(required=True)
    title = fields.String(required=True)
    title_ru = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(("persona", "gates")))
    description = fields.String(required=True)
    stages = fields.List(fields.String(), required=True,
                         metadata={"description": "Logical stages a gate template maps to CRM stages."})


class TemplateListSchema(Schema):
    """Every built-in template."""

    items = fields.List(fields.Nested(TemplateOutSchema), required=True)


class FromTemplateInSchema(StrictSchema):
    """Apply a template: persona templates need only `template`; gate templates also the connection, the
    pipeline and `stages` mapping their logical stages (qualified, discovery, proposal, negotiation, lost)
    to CRM stage ids."""

    template = fields.String(required=True, validate=validate.Length(min=1, max=64))
    language = fields.String(load_default="en", validate=validate.OneOf(LANGUAGES))
    field_prefix = fields.String(validate=validate.Length(max=40),
                                 metadata={"description": "Prepended to every field key the template uses."})
    connection_id = id_field()
    pipeline = fields.String(validate=validate.Length(min=1, max=64))
    stages = fields.Dict(keys=fields.String(validate=validate.Length(min=1, max=32)),
                         values=fields.String(validate=validate.Length(min=1, max=64)))
    mode = fields.String(load_default="audit", validate=validate.OneOf(GATE_MODES),
                         metadata={"description": "of the gates it creates; audit by default"})


class TemplateResultSchema(Schema):
    """What applying a template created."""

    template = fields.String(required=True)
    fields_created = fields.List(fields.String(), required=True)
    fields_reused = fields.List(fields.String(), required=True,
                                metadata={"description": "Fields that existed already with the same type."})
    personas = fields.List(fields.Nested(PersonaOutSchema), required=True)
    gates = fields.List(fields.Nested(GateOutSchema), required=True)
