"""Shared schema pieces: vocabularies, pagination and the problem+json body."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from adapters.registry import REGISTRY

FIELD_TYPES = (
    "text", "number", "integer", "money", "boolean", "date", "enum", "multi_enum", "email", "phone", "url",
)
FIELD_GROUPS = ("geographic", "demographic", "psychographic", "behavioural", "pains", "firmographic", "other")
GATE_MODES = ("enforce", "warn", "audit")
LANGUAGES = ("en", "ru")
CRM_KINDS = tuple(REGISTRY)  # every CRM the registry declares
EVENT_STATUSES = ("received", "processing", "done", "failed", "ignored")
OUTCOMES = ("allowed", "blocked", "warned", "audited")
REASONS = ("missing", "invalid", "unknown_field", "persona")

MAX_PAGE_SIZE = 500
MAX_ID = 2_147_483_647  # ids are 32-bit INTEGER columns on PostgreSQL


# Text that is not only whitespace. Written to mean the same as a JSON Schema `pattern` (a search)
# and as marshmallow's Regexp (a match from the start).
NOT_BLANK = validate.Regexp(r"[\s\S]*\S", error="Must not be blank.")
# Text without leading or trailing whitespace (option values are compared exactly).
TRIMMED = validate.Regexp(r"^\S(?:[\s\S]*\S)?$", error="Must not be blank or start or end with whitespace.")


def id_field(*, strict: bool = True, **kwargs: Any) -> fields.Integer:
    """A reference to a stored row by id in 1..MAX_ID; `strict` (bodies) refuses numeric strings and floats,
    query arguments pass strict=False because every query value arrives as a string."""
    return fields.Integer(strict=strict, validate=validate.Range(min=1, max=MAX_ID), **kwargs)


class JsonNumber(fields.Decimal):
    """A decimal sent as a JSON number (numeric strings and booleans are refused), kept exact."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class JsonBoolean(fields.Boolean):
    """A JSON true/false (marshmallow's Boolean also takes "yes", 1, "on"...)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


class StrictSchema(Schema):
    """Base for request bodies: unknown keys are rejected (marshmallow's default RAISE)."""


class PageArgsSchema(Schema):
    """Query arguments every list endpoint takes."""

    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=1_000_000))
    page_size = fields.Integer(load_default=50, validate=validate.Range(min=1, max=MAX_PAGE_SIZE))


def warnings_field(description: str) -> fields.List:
    """A `warnings` member of an answer: what was accepted although it is probably not what was meant."""
    return fields.List(fields.String(), required=True, dump_default=list, metadata={"description": description})


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
