"""CRM connections, their mirrored pipelines and property-to-field mappings."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from schemas.common import CRM_KINDS, LANGUAGES, JsonBoolean, PageSchema, StrictSchema

SIGNATURE_VERSIONS = ("v1", "v2", "v3")


class ConnectionInSchema(StrictSchema):
    """Create a CRM connection; secrets are write-only."""

    name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    kind = fields.String(required=True, validate=validate.OneOf(CRM_KINDS))
    base_url = fields.Url(load_default=None, allow_none=True, require_tld=False, schemes={"http", "https"})
    access_token = fields.String(required=True, load_only=True, validate=validate.Length(min=1, max=4000))
    client_secret = fields.String(required=True, load_only=True, validate=validate.Length(min=1, max=400))
    account_id = fields.String(allow_none=True, validate=validate.Length(max=64))
    app_id = fields.String(allow_none=True, validate=validate.Length(max=64))
    language = fields.String(load_default="en", validate=validate.OneOf(LANGUAGES))
    signature_versions = fields.List(
        fields.String(validate=validate.OneOf(SIGNATURE_VERSIONS)),
        load_default=lambda: ["v3"],
        validate=validate.Length(min=1, max=3),
    )
    placeholders = fields.List(
        fields.String(validate=validate.Length(min=1, max=50)), allow_none=True, validate=validate.Length(max=100)
    )


class ConnectionPatchSchema(StrictSchema):
    """Change a connection; give a secret only to replace it."""

    name = fields.String(validate=validate.Length(min=1, max=120))
    base_url = fields.Url(require_tld=False, schemes={"http", "https"})
    access_token = fields.String(load_only=True, validate=validate.Length(min=1, max=4000))
    client_secret = fields.String(load_only=True, validate=validate.Length(min=1, max=400))
    account_id = fields.String(allow_none=True, validate=validate.Length(max=64))
    app_id = fields.String(allow_none=True, validate=validate.Length(max=64))
    language = fields.String(validate=validate.OneOf(LANGUAGES))
    signature_versions = fields.List(
        fields.String(validate=validate.OneOf(SIGNATURE_VERSIONS)), validate=validate.Length(min=1, max=3)
    )
    placeholders = fields.List(
        fields.String(validate=validate.Length(min=1, max=50)), allow_none=True, validate=validate.Length(max=100)
    )
    active = JsonBoolean()


class StageOutSchema(Schema):
    """A mirrored stage."""

    id = fields.String(required=True, attribute="external_id", metadata={"description": "the CRM's stage id"})
    label = fields.String(required=True)
    order = fields.Integer(required=True)
    kind = fields.String(required=True, metadata={"description": "open, won or lost"})


class PipelineOutSchema(Schema):
    """A mirrored pipeline with its stages in order."""

    id = fields.String(required=True, attribute="external_id", metadata={"description": "the CRM's pipeline id"})
    label = fields.String(required=True)
    order = fields.Integer(required=True)
    stages = fields.List(fields.Nested(StageOutSchema), required=True)


class ConnectionOutSchema(Schema):
    """A CRM connection; credentials are never returned."""

    id = fields.Integer(required=True)
    name = fields.String(required=True)
    kind = fields.String(required=True)
    base_url = fields.String(required=True)
    account_id = fields.String(allow_none=True)
    app_id = fields.String(allow_none=True)
    language = fields.String(required=True)
    signature_versions = fields.List(fields.String(), required=True)
    placeholders = fields.List(fields.String(), allow_none=True)
    active = fields.Boolean(required=True)
    webhook_url = fields.String(required=True, metadata={"description": "paste into the CRM app's webhook settings"})
    pipelines_synced_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)
    pipelines = fields.List(fields.Nested(PipelineOutSchema), required=True)


class ConnectionPageSchema(PageSchema):
    """A page of connections."""

    items = fields.List(fields.Nested(ConnectionOutSchema), required=True)


class MappingInSchema(StrictSchema):
    """Map one CRM deal property to one portrait field."""

    property = fields.String(required=True, validate=validate.Length(min=1, max=200))
    field = fields.String(required=True, validate=validate.Length(min=1, max=64))
    value_map = fields.Dict(
        keys=fields.String(validate=validate.Length(max=200)),
        values=fields.String(validate=validate.Length(max=200)),
        load_default=dict,
        metadata={"description": "CRM option value -> field option value"},
    )


class MappingsInSchema(StrictSchema):
    """Replace every mapping of a connection."""

    mappings = fields.List(fields.Nested(MappingInSchema), required=True, validate=validate.Length(max=500))


class MappingOutSchema(Schema):
    """A property-to-field mapping."""

    property = fields.String(required=True)
    field = fields.String(required=True)
    value_map = fields.Dict(required=True)


class MappingsOutSchema(Schema):
    """Every mapping of a connection."""

    mappings = fields.List(fields.Nested(MappingOutSchema), required=True)


class CrmPropertySchema(Schema):
    """A deal property as the CRM describes it."""

    name = fields.String(required=True)
    label = fields.String(required=True)
    type = fields.String(required=True)
    field_type = fields.String(required=True)
    options = fields.List(fields.Dict(), required=True)


class CrmPropertiesSchema(Schema):
    """The CRM's deal properties, read live."""

    items = fields.List(fields.Nested(CrmPropertySchema), required=True)
