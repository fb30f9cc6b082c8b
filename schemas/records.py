"""Synced records, their transitions and completeness."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from schemas.common import OUTCOMES, PageArgsSchema, PageSchema, id_field
from schemas.gates import IssueSchema


class RecordListArgsSchema(PageArgsSchema):
    """Filters for the record list."""

    connection_id = id_field(strict=False)
    pipeline = fields.String(validate=validate.Length(max=64))
    stage = fields.String(validate=validate.Length(max=64))
    owner = fields.String(validate=validate.Length(max=64))


class RecordOutSchema(Schema):
    """A CRM deal as Qualify last saw it."""

    id = fields.Integer(required=True)
    connection_id = fields.Integer(required=True)
    external_id = fields.String(required=True)
    kind = fields.String(required=True)
    name = fields.String(allow_none=True)
    pipeline = fields.String(allow_none=True, attribute="pipeline_external_id")
    stage = fields.String(allow_none=True, attribute="stage_external_id")
    owner = fields.String(allow_none=True, attribute="owner_external_id")
    amount = fields.String(allow_none=True)
    currency = fields.String(allow_none=True)
    values = fields.Dict(required=True)
    crm_modified_at = fields.DateTime(allow_none=True)
    deleted = fields.Boolean(required=True)
    updated_at = fields.DateTime(required=True)


class RecordPageSchema(PageSchema):
    """A page of records."""

    items = fields.List(fields.Nested(RecordOutSchema), required=True)


class TransitionOutSchema(Schema):
    """One observed stage move and what Qualify did."""

    id = fields.Integer(required=True)
    connection_id = fields.Integer(required=True)
    record_id = fields.Integer(required=True)
    event_id = fields.Integer(allow_none=True)
    from_pipeline = fields.String(allow_none=True)
    from_stage = fields.String(allow_none=True)
    to_pipeline = fields.String(allow_none=True)
    to_stage = fields.String(required=True)
    occurred_at = fields.DateTime(required=True)
    actor = fields.String(allow_none=True)
    source = fields.String(required=True)
    change_source = fields.String(allow_none=True)
    direction = fields.String(required=True)
    decision = fields.String(required=True, validate=validate.OneOf(OUTCOMES))
    mode = fields.String(allow_none=True)
    issues = fields.List(fields.Nested(IssueSchema), required=True)
    message = fields.String(required=True)
    action = fields.String(required=True)
    created_at = fields.DateTime(required=True)


class TransitionPageSchema(PageSchema):
    """A page of transitions."""

    items = fields.List(fields.Nested(TransitionOutSchema), required=True)


class TransitionListArgsSchema(PageArgsSchema):
    """Filters for the transition list."""

    connection_id = id_field(strict=False)
    record_id = id_field(strict=False)
    decision = fields.String(validate=validate.OneOf(OUTCOMES))


class StageCompletenessSchema(Schema):
    """What entering one later stage from the current one would need."""

    stage = fields.String(required=True)
    label = fields.String(required=True)
    required = fields.Integer(required=True)
    filled = fields.Integer(required=True)
    outcome = fields.String(required=True)
    issues = fields.List(fields.Nested(IssueSchema), required=True)


class RecordDetailSchema(RecordOutSchema):
    """A record with its completeness towards every later stage and its transitions."""

    completeness = fields.List(fields.Nested(StageCompletenessSchema), required=True)
    transitions = fields.List(fields.Nested(TransitionOutSchema), required=True)
