"""Gates and the synchronous gate check."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from schemas.common import (
    GATE_MODES,
    LANGUAGES,
    OUTCOMES,
    REASONS,
    JsonBoolean,
    PageSchema,
    StrictSchema,
    id_field,
)

CONDITION_DOC = (
    'Declarative condition: {"all": [...]}, {"any": [...]} or {"field": "industry", "op": "eq", "value": "retail"}; '
    "op is one of eq ne in not_in gt gte lt lte filled empty."
)


class RequirementSchema(StrictSchema):
    """One required field, optionally only when a condition holds."""

    field = fields.String(required=True, validate=validate.Length(min=1, max=64))
    required_if = fields.Dict(allow_none=True, load_default=None, metadata={"description": CONDITION_DOC})


class PersonaRequirementSchema(StrictSchema):
    """What the lead's fit must be to enter the stage: a minimum score (of the best persona, or of
    `persona_id`), and/or not disqualified (by any persona, or by `persona_id`)."""

    persona_id = id_field(allow_none=True, load_default=None,
                          metadata={"description": "null: the best fit over every persona."})
    min_score = fields.Integer(allow_none=True, load_default=None, validate=validate.Range(min=0, max=100))
    not_disqualified = JsonBoolean(load_default=False)


PERSONA_REQUIREMENT_DOC = "Optional fit requirement; a gate needs field requirements, a persona requirement or both."


class GateInSchema(StrictSchema):
    """Create a gate for one stage of one pipeline of a connection."""

    connection_id = id_field(required=True)
    pipeline = fields.String(required=True, validate=validate.Length(min=1, max=200),
                             metadata={"description": "the CRM's pipeline id, or its label (case-insensitive)"})
    stage = fields.String(required=True, validate=validate.Length(min=1, max=200),
                          metadata={"description": "the CRM's stage id, or its label (case-insensitive)"})
    mode = fields.String(load_default="audit", validate=validate.OneOf(GATE_MODES), metadata={
        "description": "audit (the default: record only), warn (task only) or enforce (revert + task); start in "
                       "audit, read `would_block`, then switch"})
    requirements = fields.List(
        fields.Nested(RequirementSchema), load_default=list, validate=validate.Length(max=200)
    )
    persona_requirement = fields.Nested(PersonaRequirementSchema, allow_none=True, load_default=None,
                                        metadata={"description": PERSONA_REQUIREMENT_DOC})
    description = fields.String(allow_none=True, validate=validate.Length(max=2000))


class GatePatchSchema(StrictSchema):
    """Change a gate's mode, requirements or description."""

    mode = fields.String(validate=validate.OneOf(GATE_MODES))
    requirements = fields.List(fields.Nested(RequirementSchema), validate=validate.Length(max=200))
    persona_requirement = fields.Nested(PersonaRequirementSchema, allow_none=True,
                                        metadata={"description": PERSONA_REQUIREMENT_DOC})
    description = fields.String(allow_none=True, validate=validate.Length(max=2000))


class RequirementOutSchema(Schema):
    """A stored requirement."""

    field = fields.String(required=True)
    required_if = fields.Dict(allow_none=True)


class GateOutSchema(Schema):
    """A gate."""

    id = fields.Integer(required=True)
    connection_id = fields.Integer(required=True)
    pipeline = fields.String(required=True)
    stage = fields.String(required=True)
    stage_label = fields.String(required=True)
    mode = fields.String(required=True)
    requirements = fields.List(fields.Nested(RequirementOutSchema), required=True)
    persona_requirement = fields.Dict(allow_none=True, required=True)
    description = fields.String(allow_none=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


class WouldBlockSchema(Schema):
    """How many open deals a gate would block if enforced, and how that was counted."""

    count = fields.Integer(required=True, metadata={"description": "open deals it would block"})
    of = fields.Integer(required=True, metadata={"description": "open deals whose next move could enter its stage"})
    rule = fields.String(required=True, metadata={"description": "how they were counted"})


class GateWrittenSchema(GateOutSchema):
    """A gate as created or changed, with what it would do to the open deals."""

    would_block = fields.Nested(WouldBlockSchema, required=True)


class GatePageSchema(PageSchema):
    """A page of gates."""

    items = fields.List(fields.Nested(GateOutSchema), required=True)


class GateListArgsSchema(Schema):
    """Filters for the gate list."""

    connection_id = id_field(strict=False)


class GateCheckInSchema(StrictSchema):
    """Ask whether a move would pass, before making it."""

    connection_id = id_field(required=True)
    pipeline = fields.String(required=True, validate=validate.Length(min=1, max=64))
    to_stage = fields.String(required=True, validate=validate.Length(min=1, max=64))
    from_stage = fields.String(allow_none=True, load_default=None, validate=validate.Length(min=1, max=64))
    from_pipeline = fields.String(
        allow_none=True, load_default=None, validate=validate.Length(min=1, max=64),
        metadata={"description": "defaults to `pipeline`"},
    )
    # No per-key/per-value fields: this is the hot path, and values are checked by the domain.
    values = fields.Dict(load_default=dict, metadata={"description": "field key -> value (any JSON value)"})
    language = fields.String(allow_none=True, load_default=None, validate=validate.OneOf(LANGUAGES))


class IssueSchema(Schema):
    """A missing or invalid field."""

    field = fields.String(required=True)
    label = fields.String(required=True)
    reason = fields.String(required=True, validate=validate.OneOf(REASONS))
    constraint = fields.String(allow_none=True)
    stage = fields.String(required=True)
    mode = fields.String(required=True)
    message = fields.String(required=True)


class DecisionSchema(Schema):
    """What Qualify decides about a move."""

    outcome = fields.String(required=True, validate=validate.OneOf(OUTCOMES))
    direction = fields.String(required=True)
    gated_stages = fields.List(fields.String(), required=True)
    issues = fields.List(fields.Nested(IssueSchema), required=True)
    message = fields.String(required=True)


class ImportArgsSchema(StrictSchema):
    """Import the CRM's native per-stage required fields as gates."""

    dry_run = JsonBoolean(load_default=True, metadata={"description": "only show what would change (default)"})
    mode = fields.String(load_default="audit", validate=validate.OneOf(GATE_MODES),
                         metadata={"description": "of the gates it creates; audit by default"})


class ImportedGateSchema(Schema):
    """One gate the import creates, extends or leaves unchanged."""

    pipeline = fields.String(required=True)
    stage = fields.String(required=True)
    stage_label = fields.String(required=True)
    action = fields.String(required=True, metadata={"description": "create, extend or unchanged"})
    fields_ = fields.List(fields.String(), required=True, data_key="fields", attribute="fields")
    gate_id = fields.Integer(allow_none=True)


class SkippedRuleSchema(Schema):
    """A native rule the import could not turn into a gate requirement."""

    stage = fields.String(required=True)
    property = fields.String(required=True)
    reason = fields.String(required=True)


class ImportResultSchema(Schema):
    """What the import did (or, in a dry run, would do)."""

    dry_run = fields.Boolean(required=True)
    gates = fields.List(fields.Nested(ImportedGateSchema), required=True)
    skipped = fields.List(fields.Nested(SkippedRuleSchema), required=True)
