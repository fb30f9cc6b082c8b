"""CRM connections, their mirrored pipelines and property-to-field mappings."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from schemas.common import CRM_KINDS, LANGUAGES, JsonBoolean, PageSchema, StrictSchema

SIGNATURE_VERSIONS = ("v1", "v2", "v3")


class BucketSchema(StrictSchema):
    """At most `requests` calls per `seconds`."""

    requests = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=100_000))
    seconds = fields.Float(required=True, validate=validate.Range(min=0.1, max=86_400))


def _bucket() -> fields.Nested:
    return fields.Nested(BucketSchema)


class RateLimitsSchema(StrictSchema):
    """Client-side limits per bucket; a bucket left out keeps the CRM's default."""

    default = _bucket()
    search = _bucket()


def rate_limits_field(**kwargs: object) -> fields.Nested:
    """Per-bucket client-side limits, e.g. {"default": {"requests": 180, "seconds": 10}}; {} restores the
    CRM's defaults."""
    return fields.Nested(RateLimitsSchema, **kwargs)  # type: ignore[arg-type]


def sync_interval_field(**kwargs: object) -> fields.Integer:
    """Seconds between incremental syncs of a connection."""
    return fields.Integer(strict=True, validate=validate.Range(min=60, max=86_400), **kwargs)  # type: ignore[arg-type]


def secret_field(description: str) -> fields.String:
    """A write-only secret input; which ones a CRM needs is checked per CRM (README, "Connect a CRM")."""
    return fields.String(load_only=True, validate=validate.Length(min=1, max=4000),
                         metadata={"description": description})


class ScoreWriteBackSchema(StrictSchema):
    """CRM properties (custom field ids/keys) that receive the lead's best fit and win probability; each optional."""

    score = fields.String(allow_none=True, validate=validate.Length(min=1, max=100),
                          metadata={"description": "receives the best-fit score 0-100"})
    grade = fields.String(allow_none=True, validate=validate.Length(min=1, max=100),
                          metadata={"description": "receives the grade A-D"})
    persona = fields.String(allow_none=True, validate=validate.Length(min=1, max=100),
                            metadata={"description": "receives the best persona's name (empty: no persona)"})
    win_probability = fields.String(
        allow_none=True, validate=validate.Length(min=1, max=100),
        metadata={"description": "receives the win probability in percent 0-100, empty when the pipeline has no model"})


MARGIN_DOC = ("The portrait field (number, integer or money, mapped from a deal property) whose value on a won deal "
              "is that purchase's margin, for ABC by margin; null: the connection's purchases carry no margin.")
WRITE_BACK_DOC = ("Write score, grade, persona name and win probability to these CRM properties (only when they "
                  "change).")


class ConnectionInSchema(StrictSchema):
    """Create a CRM connection; secrets are write-only."""

    name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    kind = fields.String(required=True, validate=validate.OneOf(CRM_KINDS))
    base_url = fields.Url(load_default=None, allow_none=True, require_tld=False, schemes={"http", "https"})
    access_token = secret_field("HubSpot private-app token, Pipedrive API token, amoCRM/Kommo access (or "
                                "long-lived) token, Bitrix24 OAuth token (not needed with an incoming-webhook URL)")
    client_secret = secret_field("HubSpot app client secret (signs webhooks); amoCRM/Kommo OAuth client secret")
    refresh_token = secret_field("amoCRM/Kommo OAuth refresh token (rotated and stored by Qualify)")
    webhook_username = secret_field('Pipedrive webhook HTTP Basic user (default "qualify")')
    webhook_password = secret_field("Pipedrive webhook HTTP Basic password (set the same on the webhook)")
    application_token = secret_field("Bitrix24 application_token sent with every event")
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
    rate_limits = rate_limits_field()
    sync_interval_seconds = sync_interval_field(load_default=300)
    score_write_back = fields.Nested(ScoreWriteBackSchema, allow_none=True, metadata={"description": WRITE_BACK_DOC})
    margin_field = fields.String(allow_none=True, validate=validate.Length(min=1, max=64),
                                 metadata={"description": MARGIN_DOC})
    self_hosted = JsonBoolean(load_default=False,
                              metadata={"description": "Bitrix24 on the company's own server (admin opt-in)"})


class ConnectionPatchSchema(StrictSchema):
    """Change a connection; give a secret only to replace it."""

    name = fields.String(validate=validate.Length(min=1, max=120))
    base_url = fields.Url(require_tld=False, schemes={"http", "https"})
    access_token = secret_field("replaces the stored access token")
    client_secret = secret_field("replaces the stored client secret")
    refresh_token = secret_field("replaces the stored refresh token")
    webhook_username = secret_field("replaces the Pipedrive webhook user")
    webhook_password = secret_field("replaces the Pipedrive webhook password")
    application_token = secret_field("replaces the Bitrix24 application token")
    self_hosted = JsonBoolean(metadata={"description": "Bitrix24 on the company's own server (admin opt-in)"})
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
    rate_limits = rate_limits_field()
    sync_interval_seconds = sync_interval_field()
    score_write_back = fields.Nested(ScoreWriteBackSchema, allow_none=True, metadata={"description": WRITE_BACK_DOC})
    margin_field = fields.String(allow_none=True, validate=validate.Length(min=1, max=64),
                                 metadata={"description": MARGIN_DOC})


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
    self_hosted = fields.Boolean(required=True)
    rate_limits = fields.Nested(RateLimitsSchema, allow_none=True)
    sync_interval_seconds = fields.Integer(required=True)
    score_write_back = fields.Dict(keys=fields.String(), values=fields.String(allow_none=True), allow_none=True)
    margin_field = fields.String(allow_none=True, metadata={"description": MARGIN_DOC})
    last_synced_at = fields.DateTime(allow_none=True)
    webhook_url = fields.String(allow_none=True, metadata={"description": (
        "paste into the CRM app's webhook settings; admins only (for amoCRM and Pipedrive it carries the token "
        "that authenticates their webhooks); null in production until QUALIFY_PUBLIC_URL is set")})
    pipelines_synced_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)
    pipelines = fields.List(fields.Nested(PipelineOutSchema), required=True)


class SyncRequestSchema(StrictSchema):
    """Start a sync of one connection."""

    full = JsonBoolean(load_default=False, metadata={"description": "read every deal, not only changed ones"})


class SyncRunSchema(Schema):
    """One sync run."""

    id = fields.Integer(required=True)
    connection_id = fields.Integer(required=True)
    full = fields.Boolean(required=True)
    trigger = fields.String(required=True)
    status = fields.String(required=True, metadata={"description": "queued, running, done or failed"})
    queued_at = fields.DateTime(required=True)
    started_at = fields.DateTime(allow_none=True)
    finished_at = fields.DateTime(allow_none=True)
    cursor_from = fields.DateTime(allow_none=True)
    cursor_to = fields.DateTime(allow_none=True)
    pages = fields.Integer(required=True)
    fetched = fields.Integer(required=True)
    created = fields.Integer(required=True)
    updated = fields.Integer(required=True)
    moves = fields.Integer(required=True)
    last_error = fields.String(allow_none=True)


class SyncStatusSchema(Schema):
    """The current sync (if any) and the latest runs of a connection."""

    current = fields.Nested(SyncRunSchema, allow_none=True, required=True)
    history = fields.List(fields.Nested(SyncRunSchema), required=True)


class ConnectionDeleteArgsSchema(Schema):
    """How DELETE /v1/connections/{id} ends a connection."""

    purge = fields.Boolean(load_default=False, truthy={"true", "1"}, falsy={"false", "0"}, metadata={
        "description": "false (default): deactivate it and keep its audit (records, transitions, events); "
                       "true: delete it with everything stored for it"})


class ConnectionPageSchema(PageSchema):
    """A page of connections."""

    items = fields.List(fields.Nested(ConnectionOutSchema), required=True)


class MappingInSchema(StrictSchema):
    """Map one CRM deal property to one portrait field."""

    property = fields.String(required=True, validate=validate.Length(min=1, max=200), metadata={
        "description": "the CRM's property name (GET /v1/connections/{id}/properties); may feed several fields"})
    field = fields.String(required=True, validate=validate.Length(min=1, max=64))
    value_map = fields.Dict(
        keys=fields.String(validate=validate.Length(max=200)),
        values=fields.String(validate=validate.Length(max=200)),
        load_default=dict,
        metadata={"description": "CRM option value (as the CRM stores it, e.g. Pipedrive's option id) -> field "
                             "option value; each key must be one of the property's options"},
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
    warnings = fields.List(fields.String(), metadata={"description": (
        "in the answer to PUT: what was accepted but could not be checked (the CRM's properties unreadable)")})


class ConnectionCheckSchema(Schema):
    """One check of a connection."""

    name = fields.String(required=True, metadata={"description": "auth, pipelines, scopes or webhooks"})
    status = fields.String(required=True, validate=validate.OneOf(("ok", "failed", "skipped")))
    reason = fields.String(required=True, metadata={"description": "what was found, and what to do when failed"})


class ConnectionTestSchema(Schema):
    """What testing a connection found; `ok` when no check failed."""

    ok = fields.Boolean(required=True)
    checks = fields.List(fields.Nested(ConnectionCheckSchema), required=True)


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


class WebhookHealthArgsSchema(Schema):
    """The window of GET /v1/connections/{id}/health."""

    hours = fields.Integer(load_default=24, validate=validate.Range(min=1, max=720), metadata={
        "description": "the last this many UTC hours, the current one included"})


class WebhookRejectionSchema(Schema):
    """Refused deliveries of one reason in the window."""

    reason = fields.String(required=True, metadata={"description": (
        "bad_signature, bad_token, bad_auth, wrong_account, ... (the problem's reason code), malformed, too_large, "
        "unsupported_media_type, forbidden or other")})
    count = fields.Integer(required=True)
    last_at = fields.DateTime(required=True)


class LastSyncSchema(Schema):
    """The latest sync run of the connection."""

    id = fields.Integer(required=True)
    status = fields.String(required=True, metadata={"description": "queued, running, done or failed"})
    queued_at = fields.DateTime(required=True)
    started_at = fields.DateTime(allow_none=True)
    finished_at = fields.DateTime(allow_none=True)
    error = fields.String(allow_none=True)


class WebhookHealthSchema(Schema):
    """Whether the CRM reaches Qualify: accepted and refused webhook deliveries and the last sync."""

    connection_id = fields.Integer(required=True)
    hours = fields.Integer(required=True)
    since = fields.DateTime(required=True, metadata={"description": "start of the window (a UTC hour)"})
    last_delivery_at = fields.DateTime(allow_none=True, metadata={"description": "last accepted delivery, ever"})
    last_event_at = fields.DateTime(allow_none=True, metadata={"description": "last event received, ever"})
    deliveries = fields.Integer(required=True, metadata={
        "description": "accepted deliveries in the window that brought at least one new event"})
    events = fields.Integer(required=True, metadata={"description": "events received in the window"})
    rejected = fields.Integer(required=True, metadata={
        "description": "deliveries refused with 400, 401, 403, 413, 415 or 422 in the window"})
    rejections = fields.List(fields.Nested(WebhookRejectionSchema), required=True)
    last_sync = fields.Nested(LastSyncSchema, allow_none=True, required=True)
    hint_code = fields.String(allow_none=True, required=True, metadata={
        "description": "nothing_received (no delivery, no sync) or only_refused (refusals, no accepted delivery)"})
    hint = fields.String(allow_none=True, required=True)
