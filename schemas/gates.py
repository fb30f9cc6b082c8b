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


class ProposedGateSchema(StrictSchema):
    """A gate as it would be created, for the preview (it replaces the saved gate of its stage)."""

    pipeline = fields.String(required=True, validate=validate.Length(min=1, max=200),
                             metadata={"description": "the CRM's pipeline id, or its label (case-insensitive)"})
    stage = fields.String(required=True, validate=validate.Length(min=1, max=200),
                          metadata={"description": "the CRM's stage id, or its label (case-insensitive)"})
    mode = fields.String(load_default="audit", validate=validate.OneOf(GATE_MODES), metadata={
        "description": "the mode it would be saved with; the preview decides as if it enforced"})
    requirements = fields.List(fields.Nested(RequirementSchema), load_default=list,
                               validate=validate.Length(max=200), metadata={"description": "the required fields"})
    persona_requirement = fields.Nested(PersonaRequirementSchema, allow_none=True, load_default=None, metadata={
        "description": f"{PERSONA_REQUIREMENT_DOC} Checked, but not evaluated by the preview."})


class StageNameSchema(StrictSchema):
    """A stage whose saved gate the preview leaves out."""

    pipeline = fields.String(required=True, validate=validate.Length(min=1, max=200),
                             metadata={"description": "the CRM's pipeline id, or its label (case-insensitive)"})
    stage = fields.String(required=True, validate=validate.Length(min=1, max=200),
                          metadata={"description": "the CRM's stage id, or its label (case-insensitive)"})


class GatePreviewInSchema(StrictSchema):
    """A proposed gate set of one connection, to preview before enforcing it."""

    connection_id = id_field(required=True)
    gates = fields.List(fields.Nested(ProposedGateSchema), load_default=list, validate=validate.Length(max=200),
                        metadata={"description": "proposed gates, one per stage; the saved gates of other stages stay"})
    remove = fields.List(fields.Nested(StageNameSchema), load_default=list, validate=validate.Length(max=200),
                         metadata={"description": "stages whose saved gate the proposed set drops"})
    days = fields.Integer(load_default=90, validate=validate.Range(min=1, max=730),
                          metadata={"description": "how many days of recorded moves to replay (default 90)"})


class PreviewMissingFieldSchema(Schema):
    """A field the blocked deals would fail."""

    field = fields.String(required=True, metadata={"description": "field key"})
    label = fields.String(required=True, metadata={"description": "field label"})
    deals = fields.Integer(required=True, metadata={"description": "blocked deals missing it (or with it invalid)"})


class PreviewStageSchema(Schema):
    """A stage of the preview."""

    pipeline = fields.String(required=True, metadata={"description": "the CRM's pipeline id"})
    stage = fields.String(required=True, metadata={"description": "the CRM's stage id"})
    stage_label = fields.String(required=True, metadata={"description": "the stage's label"})


class OpenStageImpactSchema(PreviewStageSchema):
    """What the proposed set would do to the open deals whose next move could enter one proposed stage."""

    mode = fields.String(required=True, metadata={"description": "the proposed mode (the preview enforces)"})
    would_block = fields.Integer(required=True, metadata={"description": "open deals it would block"})
    of = fields.Integer(required=True, metadata={"description": "open deals checked"})
    missing = fields.List(fields.Nested(PreviewMissingFieldSchema), required=True,
                          metadata={"description": "fields failed by the blocked deals, most deals first"})


class PreviewTotalsSchema(Schema):
    """Deals counted once over all proposed stages."""

    would_block = fields.Integer(required=True, metadata={"description": "deals blocked for at least one stage"})
    of = fields.Integer(required=True, metadata={"description": "deals checked for at least one stage"})


class OpenDealsImpactSchema(Schema):
    """The open deals the proposed set would block."""

    stages = fields.List(fields.Nested(OpenStageImpactSchema), required=True,
                         metadata={"description": "one per proposed gate, in the order given"})
    totals = fields.Nested(PreviewTotalsSchema, required=True)
    rule = fields.String(required=True, metadata={"description": "how they were counted"})


class RemovedGateSchema(PreviewStageSchema):
    """A stage whose saved gate the preview left out."""

    gate_id = fields.Integer(allow_none=True, required=True, metadata={"description": "null: it had none"})


class ReplayOwnerSchema(Schema):
    """Replayed moves of one deal owner (the owner at move time)."""

    owner_id = fields.String(allow_none=True, required=True, metadata={"description": "the CRM owner id"})
    owner_name = fields.String(allow_none=True, required=True, metadata={"description": "null when not known"})
    moves = fields.Integer(required=True, metadata={"description": "moves replayed"})
    would_block = fields.Integer(required=True, metadata={"description": "moves allowed then, blocked now"})


class ReplayCountsSchema(Schema):
    """Moves replayed, those not blocked then, and of those the ones the proposed set would block."""

    moves = fields.Integer(required=True, metadata={"description": "moves replayed"})
    allowed_then = fields.Integer(required=True, metadata={"description": "moves not blocked then"})
    would_block = fields.Integer(required=True, metadata={"description": "of those, moves it would block"})


class ReplayStageSchema(PreviewStageSchema, ReplayCountsSchema):
    """Replayed moves into one proposed stage."""


class ReplaySchema(ReplayCountsSchema):
    """The recorded moves into the proposed stages, decided again under the proposed set."""

    days = fields.Integer(required=True, metadata={"description": "days replayed"})
    since = fields.DateTime(required=True, metadata={"description": "moves from this time on"})
    by_owner = fields.List(fields.Nested(ReplayOwnerSchema), required=True,
                           metadata={"description": "most would-block first"})
    by_stage = fields.List(fields.Nested(ReplayStageSchema), required=True)
    rule = fields.String(required=True, metadata={"description": "how they were counted (a lower bound)"})


class GatePreviewSchema(Schema):
    """What a proposed gate set would do if enforced; nothing is saved."""

    connection_id = fields.Integer(required=True)
    removed = fields.List(fields.Nested(RemovedGateSchema), required=True)
    open_deals = fields.Nested(OpenDealsImpactSchema, required=True)
    replay = fields.Nested(ReplaySchema, required=True)
