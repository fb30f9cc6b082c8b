"""Shared schema pieces: vocabularies, pagination and the problem+json body."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

FIELD_TYPES = (
    "text", "number", "integer", "money", "boolean", "date", "enum", "multi_enum", "email", "phone", "url",
)
FIELD_GROUPS = ("geographic", "demographic", "psychographic", "behavioural", "pains", "firmographic", "other")
GATE_MODES = ("enforce", "warn", "audit")
LANGUAGES = ("en", "ru")
CRM_KINDS = ("hubspot",)
EVENT_STATUSES = ("received", "processing", "done", "failed", "ignored")
OUTCOMES = ("allowed", "blocked", "warned", "audited")
REASONS = ("missing", "invalid", "unknown_field")

MAX_PAGE_SIZE = 500


class StrictSchema(Schema):
    """Base for request bodies: unknown keys are rejected (marshmallow's default RAISE)."""


class PageArgsSchema(Schema):
    """Query arguments every list endpoint takes."""

    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=1_000_000))
    page_size = fields.Integer(load_default=50, validate=validate.Range(min=1, max=MAX_PAGE_SIZE))


class PageSchema(Schema):
    """Envelope of a page of results."""

    total = fields.Integer(required=True)
    page = fields.Integer(required=True)
    page_size = fields.Integer(required=True)


class ProblemSchema(Schema):
    """RFC 9457 problem details, as every 4xx/5xx body of the API."""

    type = fields.String(required=True)
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String()
    instance = fields.String()
    request_id = fields.String()
    errors = fields.Dict(keys=fields.String(), values=fields.Raw())


class AcceptedSchema(Schema):
    """Answer to a webhook delivery."""

    received = fields.Integer(required=True, metadata={"description": "events in the delivery"})
    stored = fields.Integer(required=True, metadata={"description": "new events stored"})
    duplicates = fields.Integer(required=True)


class HealthSchema(Schema):
    """Liveness/readiness answer."""

    status = fields.String(required=True)
    checks = fields.Dict(keys=fields.String(), values=fields.String())
