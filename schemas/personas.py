"""Personas (target portraits with weighted criteria), their versions, templates and rescoring runs."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from schemas.common import NOT_BLANK, JsonBoolean, PageSchema, StrictSchema, id_field, warnings_field

RINGS = ("core", "target", "near-target")
CRITERION_KINDS = ("must", "nice", "disqualifier")
MATCHERS = ("equals", "in", "range", "contains_any", "contains_all", "regex", "boolean")
GRADES = ("A", "B", "C", "D")
DATE_UNITS = ("days", "months", "years")
RESCORE_STATUSES = ("queued", "running", "done", "failed")

MATCHER_DOC = (
    "Matchers by field type: enum equals|in; text, email, phone, url equals|in|regex; number, integer, money "
    "range|equals; date range (over the age of the date, in `unit`); multi_enum contains_any|contains_all; "
    "boolean boolean."
)


class CriterionSchema(StrictSchema):
    """One criterion: a field, how it is matched, its weight and whether it is a must, nice or disqualifier."""

    field = fields.String(required=True, validate=validate.Length(min=1, max=64))
    matcher = fields.String(required=True, validate=validate.OneOf(MATCHERS), metadata={"description": MATCHER_DOC})
    kind = fields.String(load_default="nice", validate=validate.OneOf(CRITERION_KINDS))
    weight = fields.Float(load_default=1.0, validate=validate.Range(min=0, max=100, min_inclusive=False))
    value = fields.Raw(allow_none=True, metadata={"description": "equals: the value; boolean: true or false."})
    values = fields.List(fields.String(validate=validate.Length(max=200)), validate=validate.Length(max=500),
                         metadata={"description": "in / contains_any / contains_all: the accepted values."})
    min = fields.Float(allow_none=True, metadata={"description": "range: lower bound (dates: age in `unit`)."})
    max = fields.Float(allow_none=True, metadata={"description": "range: upper bound (dates: age in `unit`)."})
    soft_margin = fields.Float(allow_none=True, validate=validate.Range(min=0, min_inclusive=False),
                               metadata={"description": "range: partial credit fading to 0 this far outside."})
    unit = fields.String(allow_none=True, validate=validate.OneOf(DATE_UNITS))
    pattern = fields.String(allow_none=True, validate=validate.Length(min=1, max=500),
                            metadata={"description": "regex: searched case-insensitively."})
    blank_is_value = JsonBoolean(load_default=False,
                                 metadata={"description": "A blank field is a mismatch instead of unknown."})


class ThresholdsSchema(StrictSchema):
    """Lowest scores of grades A, B and C (A > B > C); below C is D."""

    A = fields.Integer(required=True, validate=validate.Range(min=1, max=100))
    B = fields.Integer(required=True, validate=validate.Range(min=1, max=100))
    C = fields.Integer(required=True, validate=validate.Range(min=1, max=100))


class _PersonaBody(StrictSchema):
    segment = fields.String(allow_none=True, validate=validate.Length(max=200))
    description = fields.String(allow_none=True, validate=validate.Length(max=5000),
                                metadata={"description": "The living portrait: 'Natalia, 30, accountant...'."})
    owner = fields.String(allow_none=True, validate=validate.Length(max=200))
    owner_connection_id = id_field(allow_none=True)
    owner_crm_user_id = fields.String(allow_none=True, validate=validate.Length(min=1, max=64))
    thresholds = fields.Nested(ThresholdsSchema)
    must_cap = fields.String(validate=validate.OneOf(("B", "C", "D")),
                             metadata={"description": "The best grade a lead can get while a `must` mismatches."})


class PersonaInSchema(_PersonaBody):
    """Create a persona."""

    name = fields.String(required=True, validate=[validate.Length(min=1, max=200), NOT_BLANK])
    ring = fields.String(load_default="target", validate=validate.OneOf(RINGS))
    review_interval_days = fields.Integer(load_default=182, validate=validate.Range(min=1, max=3660))
    must_cap = fields.String(load_default="C", validate=validate.OneOf(("B", "C", "D")))
    criteria = fields.List(fields.Nested(CriterionSchema), load_default=list, validate=validate.Length(max=100))
    active = JsonBoolean(load_default=True)


class PersonaPatchSchema(_PersonaBody):
    """Change a persona (a new version)."""

    name = fields.String(validate=[validate.Length(min=1, max=200), NOT_BLANK])
    ring = fields.String(validate=validate.OneOf(RINGS))
    review_interval_days = fields.Integer(validate=validate.Range(min=1, max=3660))
    criteria = fields.List(fields.Nested(CriterionSchema), validate=validate.Length(max=100))
    active = JsonBoolean()


class PersonaOutSchema(Schema):
    """A persona with its review state."""

    id = fields.Integer(required=True)
    name = fields.String(required=True)
    segment = fields.String(allow_none=True)
    ring = fields.String(required=True)
    description = fields.String(allow_none=True)
    owner = fields.String(allow_none=True)
    owner_connection_id = fields.Integer(allow_none=True)
    owner_crm_user_id = fields.String(allow_none=True)
    review_interval_days = fields.Integer(required=True)
    thresholds = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    must_cap = fields.String(required=True)
    criteria = fields.List(fields.Dict(), required=True)
    active = fields.Boolean(required=True)
    version = fields.Integer(required=True)
    last_reviewed_on = fields.Date(allow_none=True)
    review_due_on = fields.Date(required=True)
    stale = fields.Boolean(required=True, metadata={"description": "Past its review date."})
    review_notified_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)
    warnings = warnings_field("What makes the persona score leads poorly although it is valid: criteria on fields "
                              "no connection maps (every lead then scores 50, grade C, with completeness 0).")


class PersonaPageSchema(PageSchema):
    """A page of personas."""

    items = fields.List(fields.Nested(PersonaOutSchema), required=True)


class PersonaListArgsSchema(Schema):
    """Filters of the persona list."""

    ring = fields.String(validate=validate.OneOf(RINGS))
    segment = fields.String(validate=validate.Length(max=200))
    active = fields.Boolean()
    stale = fields.Boolean()


class PersonaVersionSchema(Schema):
    """One stored version of a persona."""

    persona_id = fields.Integer(required=True)
    version = fields.Integer(required=True)
    change = fields.String(required=True)
    definition = fields.Dict(required=True)
    created_at = fields.DateTime(required=True)


class PersonaVersionListSchema(Schema):
    """Every version of a persona, newest first."""

    items = fields.List(fields.Nested(PersonaVersionSchema), required=True)


class RescoreRunSchema(Schema):
    """A background rescore and its progress."""

    id = fields.Integer(required=True)
    persona_id = fields.Integer(allow_none=True, metadata={"description": "null: every persona."})
    trigger = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(RESCORE_STATUSES))
    total = fields.Integer(required=True)
    done = fields.Integer(required=True)
    progress = fields.Float(required=True, metadata={"description": "Percent of records scored."})
    queued_at = fields.DateTime(required=True)
    started_at = fields.DateTime(allow_none=True)
    finished_at = fields.DateTime(allow_none=True)
    last_error = fields.String(allow_none=True)


class RescoreRunListSchema(Schema):
    """The latest rescores covering a persona, newest first."""

    items = fields.List(fields.Nested(RescoreRunSchema), required=True)
