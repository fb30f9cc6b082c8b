"""Stored inbound webhook events."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from schemas.common import EVENT_STATUSES, PageArgsSchema, PageSchema, id_field


class EventListArgsSchema(PageArgsSchema):
    """Filters for the event list."""

    status = fields.String(validate=validate.OneOf(EVENT_STATUSES))
    connection_id = id_field(strict=False)


class EventOutSchema(Schema):
    """One stored CRM event."""

    id = fields.Integer(required=True)
    connection_id = fields.Integer(required=True)
    delivery_key = fields.String(required=True)
    object_id = fields.String(required=True)
    kind = fields.String(required=True)
    occurred_at = fields.DateTime(required=True)
    received_at = fields.DateTime(required=True)
    processed_at = fields.DateTime(allow_none=True)
    status = fields.String(required=True, validate=validate.OneOf(EVENT_STATUSES))
    attempts = fields.Integer(required=True)
    error = fields.String(allow_none=True)
    payload = fields.Dict(required=True)


class EventPageSchema(PageSchema):
    """A page of events."""

    items = fields.List(fields.Nested(EventOutSchema), required=True)
