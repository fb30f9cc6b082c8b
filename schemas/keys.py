"""API keys: a new key's request and answer (the secret, once), and the listing (never a secret)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from schemas.common import NOT_BLANK, PageSchema, StrictSchema, warnings_field

KEY_ROLES = ("admin", "manager")
KEY_STATES = ("active", "expired", "revoked")
MAX_EXPIRY_DAYS = 3650  # ten years; longer is "never", which is no expiry at all


class KeyInSchema(StrictSchema):
    """A new key: who it is for, its role, and optionally when it stops working (`expires_at` or
    `expires_in_days`, not both)."""

    name = fields.String(required=True, validate=[validate.Length(min=1, max=120), NOT_BLANK],
                         metadata={"description": "the person or system that will use the key"})
    role = fields.String(required=True, validate=validate.OneOf(KEY_ROLES),
                         metadata={"description": "`manager` reads; `admin` also changes configuration and keys"})
    expires_at = fields.AwareDateTime(metadata={"description": "when the key stops working; in the future, "
                                                               "with a time zone"})
    expires_in_days = fields.Integer(strict=True, validate=validate.Range(min=1, max=MAX_EXPIRY_DAYS),
                                     metadata={"description": "the key stops working this many days from now"})

    @validates_schema
    def _one_expiry(self, data: dict[str, Any], **kwargs: Any) -> None:
        if "expires_at" in data and "expires_in_days" in data:
            raise ValidationError("Give either expires_at or expires_in_days, not both.", "expires_in_days")


class KeyOutSchema(Schema):
    """A key as listed: its public prefix and its times, never its secret."""

    prefix = fields.String(required=True, metadata={"description": "the 8 characters after `qk_`; names the key"})
    name = fields.String(required=True)
    role = fields.String(required=True, validate=validate.OneOf(KEY_ROLES))
    state = fields.String(required=True, validate=validate.OneOf(KEY_STATES),
                          metadata={"description": "`expired` from `expires_at` on; `revoked` once revoked"})
    created_at = fields.DateTime(required=True)
    last_used_at = fields.DateTime(allow_none=True, required=True, metadata={
        "description": "when the key last authenticated, to the minute (written at most once a minute); "
                       "null when never used"})
    expires_at = fields.DateTime(allow_none=True, required=True, metadata={"description": "null: never expires"})
    revoked_at = fields.DateTime(allow_none=True, required=True)


class KeyCreatedSchema(KeyOutSchema):
    """A new key, with its secret shown this once."""

    key = fields.String(required=True, metadata={"description": "the full key, for `Authorization: Bearer <key>`; "
                                                                "shown only in this answer"})
    warnings = warnings_field("that the key is shown only now")


class KeyPageSchema(PageSchema):
    """A page of keys, oldest first."""

    items = fields.List(fields.Nested(KeyOutSchema), required=True)
