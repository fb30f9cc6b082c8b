"""Portrait field definitions."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate

from schemas.common import (
    FIELD_GROUPS,
    FIELD_TYPES,
    NOT_BLANK,
    TRIMMED,
    JsonNumber,
    PageSchema,
    StrictSchema,
)

KEY_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"


def unique_items(values: list[str]) -> None:
    """Reject a list that names one value twice."""
    if len(set(values)) != len(values):
        raise ValidationError("Options must be unique.")


class ConstraintsSchema(StrictSchema):
    """Constraints a value must meet to count as filled."""

    min = JsonNumber(allow_none=True, as_string=True, places=None, allow_nan=False)
    max = JsonNumber(allow_none=True, as_string=True, places=None, allow_nan=False)
    min_length = fields.Integer(allow_none=True, strict=True, validate=validate.Range(min=0, max=100_000))
    max_length = fields.Integer(allow_none=True, strict=True, validate=validate.Range(min=1, max=100_000))
    regex = fields.String(allow_none=True, validate=validate.Length(max=500))
    options = fields.List(
        fields.String(validate=[validate.Length(min=1, max=200), TRIMMED]),
        validate=[validate.Length(max=500), unique_items],
        metadata={"uniqueItems": True, "description": "required for enum and multi_enum, forbidden otherwise"},
    )


class FieldInSchema(StrictSchema):
    """Create a portrait field."""

    key = fields.String(required=True, validate=validate.Regexp(KEY_PATTERN))
    label = fields.String(required=True, validate=[validate.Length(min=1, max=200), NOT_BLANK])
    label_ru = fields.String(allow_none=True, validate=[validate.Length(min=1, max=200), NOT_BLANK])
    type = fields.String(required=True, validate=validate.OneOf(FIELD_TYPES))
    group = fields.String(allow_none=True, validate=validate.OneOf(FIELD_GROUPS))
    description = fields.String(allow_none=True, validate=validate.Length(max=2000))
    constraints = fields.Nested(ConstraintsSchema, load_default=dict)


class FieldPatchSchema(StrictSchema):
    """Change a portrait field (its key and type are fixed once created)."""

    label = fields.String(validate=[validate.Length(min=1, max=200), NOT_BLANK])
    label_ru = fields.String(allow_none=True, validate=[validate.Length(min=1, max=200), NOT_BLANK])
    group = fields.String(allow_none=True, validate=validate.OneOf(FIELD_GROUPS))
    description = fields.String(allow_none=True, validate=validate.Length(max=2000))
    constraints = fields.Nested(ConstraintsSchema)


class FieldOutSchema(Schema):
    """A portrait field."""

    id = fields.Integer(required=True)
    key = fields.String(required=True)
    label = fields.String(required=True)
    label_ru = fields.String(allow_none=True)
    type = fields.String(required=True)
    group = fields.String(allow_none=True)
    description = fields.String(allow_none=True)
    constraints = fields.Dict(required=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


class FieldPageSchema(PageSchema):
    """A page of portrait fields."""

    items = fields.List(fields.Nested(FieldOutSchema), required=True)
