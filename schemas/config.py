"""Configuration as code: the file `qualify config export` writes and `qualify config apply` reads, and the plan.

The file is validated with the API's own body schemas; only references change: a connection by its name, a
field by its key, a persona by its name, a gate by connection + pipeline + stage (never database ids).
"""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from schemas.common import CRM_KINDS, JsonBoolean, StrictSchema
from schemas.connections import ConnectionPatchSchema, MappingInSchema
from schemas.fields import FieldInSchema
from schemas.gates import GateInSchema, GatePreviewSchema, PersonaRequirementSchema
from schemas.personas import PersonaInSchema

FORMAT_VERSION = 1
MAX_OBJECTS = 1000
# What a connection's entry never carries: its secrets, and its address and identity, which are set with its
# credentials when it is created (POST /v1/connections) and differ between a staging and a production CRM.
CONNECTION_EXCLUDED = ("access_token", "client_secret", "refresh_token", "webhook_username", "webhook_password",
                       "application_token", "base_url", "self_hosted", "account_id", "app_id", "active")
ACTIONS = ("+", "~", "-", "=")
OBJECT_KINDS = ("connection", "field", "mapping", "persona", "gate")


class ConfigConnectionSchema(ConnectionPatchSchema):
    """A connection's settings and mappings; the connection itself must exist (apply never creates one)."""

    name = fields.String(required=True, validate=validate.Length(min=1, max=120),
                         metadata={"description": "the connection's name on this instance (unique)"})
    kind = fields.String(required=True, validate=validate.OneOf(CRM_KINDS),
                         metadata={"description": "checked against the stored connection; never changed"})
    mappings = fields.List(fields.Nested(MappingInSchema), load_default=list, validate=validate.Length(max=500))

    class Meta:
        exclude = CONNECTION_EXCLUDED


class ConfigPersonaSchema(PersonaInSchema):
    """A persona; its owner's connection by name."""

    owner_connection = fields.String(allow_none=True, validate=validate.Length(min=1, max=120),
                                     metadata={"description": "the name of a connection in this file"})

    class Meta:
        exclude = ("owner_connection_id",)


class ConfigPersonaRequirementSchema(PersonaRequirementSchema):
    """A gate's fit requirement; its persona by name (null: the best fit over every persona)."""

    persona = fields.String(allow_none=True, load_default=None, validate=validate.Length(min=1, max=200))

    class Meta:
        exclude = ("persona_id",)


class ConfigGateSchema(GateInSchema):
    """A gate, named by its connection's name, pipeline and stage (CRM ids)."""

    connection = fields.String(required=True, validate=validate.Length(min=1, max=120))
    persona_requirement = fields.Nested(ConfigPersonaRequirementSchema, allow_none=True, load_default=None)

    class Meta:
        exclude = ("connection_id",)


def _objects(schema: type[Schema], data_key: str | None = None) -> fields.List:
    return fields.List(fields.Nested(schema), load_default=list, validate=validate.Length(max=MAX_OBJECTS),
                       data_key=data_key, attribute=data_key)


def _listed(data_key: str | None = None) -> fields.List:
    return fields.List(fields.Dict(), required=True, data_key=data_key, attribute=data_key)


class ConfigFileSchema(StrictSchema):
    """The whole configuration: what is not in it is removed by apply (connections excepted)."""

    version = fields.Integer(required=True, strict=True, validate=validate.Equal(FORMAT_VERSION))
    connections = _objects(ConfigConnectionSchema)
    # Declared under another name, as Schema.fields is taken; it loads and dumps as "fields".
    field_list = _objects(FieldInSchema, data_key="fields")
    personas = _objects(ConfigPersonaSchema)
    gates = _objects(ConfigGateSchema)


class ConfigDocumentSchema(Schema):
    """The exported configuration (the same document as the YAML file; see docs/configuration.md)."""

    version = fields.Integer(required=True)
    connections = _listed()
    field_list = _listed(data_key="fields")
    personas = _listed()
    gates = _listed()


class ConfigExportArgsSchema(Schema):
    """How GET /v1/config answers."""

    format = fields.String(validate=validate.OneOf(("json", "yaml")), metadata={
        "description": "yaml or json; without it, YAML when the Accept header asks for application/yaml"})


class ConfigApplyArgsSchema(Schema):
    """How POST /v1/config applies the posted file."""

    dry_run = fields.Boolean(load_default=False, truthy={"true", "1"}, falsy={"false", "0"},
                             metadata={"description": "only plan: validate and show the changes, store nothing"})
    replay_days = fields.Integer(load_default=90, validate=validate.Range(min=1, max=730), metadata={
        "description": "how many days of recorded moves the plan's gate previews replay (default 90)"})
    format = fields.String(validate=validate.OneOf(("json", "yaml")), metadata={
        "description": "the plan as yaml or json; without it, YAML when the Accept header asks for application/yaml"})


class AttributeChangeSchema(Schema):
    """One attribute of an object, before and after."""

    attribute = fields.String(required=True)
    old = fields.Raw(allow_none=True)
    new = fields.Raw(allow_none=True)


class ConfigChangeSchema(Schema):
    """One object the plan adds (+), changes (~), removes (-) or keeps on purpose (=)."""

    action = fields.String(required=True, validate=validate.OneOf(ACTIONS))
    kind = fields.String(required=True, validate=validate.OneOf(OBJECT_KINDS))
    name = fields.String(required=True, metadata={"description": "its key: connection name, field key, ..."})
    changes = fields.List(fields.Nested(AttributeChangeSchema), required=True)
    open_deals = fields.Integer(allow_none=True, metadata={
        "description": "gates added or changed in mode or requirements: open deals whose next move could enter "
                       "the stage (the `of` of its stage in `previews`)"})
    would_stop = fields.Integer(allow_none=True, metadata={
        "description": "gates: of those, how many the file's gates would block, were they enforced (its stage's "
                       "`would_block` in `previews`)"})
    note = fields.String(allow_none=True)


class ConfigGatePreviewSchema(GatePreviewSchema):
    """What all the gates the file gives one connection would do if enforced, as POST /v1/gates/preview answers."""

    connection = fields.String(required=True, metadata={"description": "the connection's name"})


class ConfigPlanSchema(Schema):
    """What apply does (or, in a dry run, would do), as data and as the lines the CLI prints."""

    dry_run = JsonBoolean(required=True)
    applied = JsonBoolean(required=True)
    add = fields.Integer(required=True)
    change = fields.Integer(required=True)
    remove = fields.Integer(required=True)
    changes = fields.List(fields.Nested(ConfigChangeSchema), required=True)
    warnings = fields.List(fields.String(), required=True, metadata={
        "description": "what could not be checked (a CRM whose properties could not be read)"})
    previews = fields.List(fields.Nested(ConfigGatePreviewSchema), required=True, metadata={
        "description": "one per connection whose gates the plan adds, changes or removes (and that keeps at least "
                       "one): the preview of every gate the file gives it, enforced"})
    lines = fields.List(fields.String(), required=True)
