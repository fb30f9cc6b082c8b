"""Lead scores against personas, with the reasons behind each (and ad-hoc scoring of a payload)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from schemas.common import LANGUAGES, StrictSchema, id_field
from schemas.personas import CRITERION_KINDS, GRADES

STATES = ("match", "mismatch", "unknown")
TRENDS = ("improving", "steady", "declining", "not_enough_info")


class ContributionSchema(Schema):
    """How one criterion moved the score."""

    field = fields.String(required=True)
    label = fields.String(required=True)
    value = fields.Raw(allow_none=True, metadata={"description": "The lead's value of the field."})
    state = fields.String(required=True, validate=validate.OneOf(STATES))
    kind = fields.String(required=True, validate=validate.OneOf(CRITERION_KINDS))
    effect = fields.Float(required=True, metadata={"description": "Points added (positive) or taken (negative)."})
    text = fields.String(required=True, metadata={"description": "The reason as a plain sentence."})


class UnknownFieldSchema(Schema):
    """A blank field the persona looks at: what filling it could do to the grade (the next question to ask)."""

    field = fields.String(required=True)
    label = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(CRITERION_KINDS))
    gain = fields.Float(required=True, metadata={"description": "Points if the answer matches."})
    loss = fields.Float(required=True, metadata={"description": "Points lost if it does not."})
    grade_if_match = fields.String(required=True, validate=validate.OneOf(GRADES))
    grade_if_mismatch = fields.String(required=True, validate=validate.OneOf(GRADES))
    text = fields.String(required=True)


class PersonaScoreSchema(Schema):
    """The fit of one lead to one persona, explained."""

    persona_id = fields.Integer(required=True)
    persona_name = fields.String(required=True)
    version = fields.Integer(required=True, metadata={"description": "The persona version scored against."})
    score = fields.Integer(required=True, validate=validate.Range(min=0, max=100))
    grade = fields.String(required=True, validate=validate.OneOf(GRADES))
    completeness = fields.Integer(required=True, metadata={"description": "Percent of criteria with a known value."})
    disqualified = fields.Boolean(required=True)
    capped = fields.Boolean(required=True, metadata={"description": "A `must` criterion failed: grade capped."})
    previous = fields.Integer(allow_none=True, metadata={"description": "The score of the previous computation."})
    trend = fields.String(required=True, validate=validate.OneOf(TRENDS))
    top_positive = fields.List(fields.Nested(ContributionSchema), required=True)
    top_negative = fields.List(fields.Nested(ContributionSchema), required=True)
    # Not named `unknown`: that attribute is marshmallow's own setting for unknown keys.
    unknown_fields = fields.List(fields.Nested(UnknownFieldSchema), required=True, data_key="unknown",
                                 attribute="unknown", metadata={"description": "The next questions to ask."})


class BestFitSchema(Schema):
    """The best-matching persona."""

    persona_id = fields.Integer(required=True)
    persona_name = fields.String(required=True)
    score = fields.Integer(required=True)
    grade = fields.String(required=True, validate=validate.OneOf(GRADES))


class FitSchema(Schema):
    """A lead's fit to every persona: the best match, or none when every score is below the floor."""

    best = fields.Nested(BestFitSchema, allow_none=True, required=True)
    no_persona = fields.Boolean(required=True, metadata={"description": "No persona reaches the floor."})
    floor = fields.Integer(required=True)
    scores = fields.List(fields.Nested(PersonaScoreSchema), required=True)


class RecordScoresSchema(FitSchema):
    """A record's stored fit, explained."""

    record_id = fields.Integer(required=True)
    computed_at = fields.DateTime(allow_none=True, required=True)
    trend = fields.String(required=True, validate=validate.OneOf(TRENDS))
    previous_best_score = fields.Integer(allow_none=True)


class ScoreInSchema(StrictSchema):
    """Field values to score (a form, a UI extension): nothing is stored."""

    values = fields.Dict(keys=fields.String(validate=validate.Length(min=1, max=64)), required=True,
                         validate=validate.Length(max=500))
    persona_ids = fields.List(id_field(), validate=validate.Length(min=1, max=100),
                              metadata={"description": "Only these personas (default: every active one)."})
    language = fields.String(load_default="en", validate=validate.OneOf(LANGUAGES))


class ScoreOutSchema(FitSchema):
    """The fit of an ad-hoc payload."""

    invalid = fields.Dict(keys=fields.String(), values=fields.String(), required=True,
                          metadata={"description": "Values that do not fit their field's type: scored as unknown."})
