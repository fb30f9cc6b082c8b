"""The win-probability model of each pipeline: its status, calibration and rebuild (/v1/analytics/win-model)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from schemas.analytics import format_field
from schemas.common import StrictSchema, id_field

STATUSES = ("current", "replaced", "rejected", "disabled", "none")


class WinModelArgsSchema(Schema):
    """Which connection's pipelines (or which one pipeline)."""

    connection_id = id_field(strict=False, required=True)
    pipeline = fields.String(validate=validate.Length(min=1, max=64), metadata={"description": "the CRM's pipeline id"})
    format = format_field()


class RebuildInSchema(StrictSchema):
    """What to rebuild: one connection's pipelines, or (no body) every active connection's."""

    connection_id = id_field()


class DecileSchema(Schema):
    """Hold-out deals whose predicted probability fell in [low, high) (the last bin includes 1)."""

    low = fields.Float(required=True)
    high = fields.Float(required=True)
    n = fields.Integer(required=True)
    won = fields.Integer(required=True)
    predicted = fields.Float(allow_none=True, metadata={"description": "their mean predicted probability"})
    win_rate = fields.Float(allow_none=True, metadata={"description": "won / n; null when n is 0"})


class CalibrationSchema(Schema):
    """The model's record on the latest 20 % of closed deals, which it was not trained on."""

    n = fields.Integer(required=True)
    won = fields.Integer(required=True)
    deciles = fields.List(fields.Nested(DecileSchema), required=True)
    brier = fields.Float(allow_none=True, metadata={"description": "mean of (probability - outcome)²; lower is better"})
    auc = fields.Float(allow_none=True, metadata={"description": "chance a won deal scores above a lost one"})


class LastRebuildSchema(Schema):
    """The latest rebuild's verdict (may differ from the model in use: a rejected or disabled rebuild)."""

    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    reason = fields.String(allow_none=True)
    auc = fields.Float(allow_none=True)
    built_at = fields.DateTime(required=True)


class WinModelSchema(Schema):
    """A pipeline's win model: the one in use (status `current`), else why there is none (`reason`)."""

    connection_id = fields.Integer(required=True)
    pipeline = fields.String(required=True)
    pipeline_label = fields.String(allow_none=True)
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    reason = fields.String(allow_none=True, metadata={"description": "why no model is in use (e.g. the data floor)"})
    won = fields.Integer(required=True, metadata={"description": "won closed deals behind the tables"})
    lost = fields.Integer(required=True, metadata={"description": "lost closed deals behind the tables"})
    auc = fields.Float(allow_none=True)
    brier = fields.Float(allow_none=True)
    calibration = fields.Nested(CalibrationSchema, allow_none=True)
    built_at = fields.DateTime(allow_none=True)
    last_rebuild = fields.Nested(LastRebuildSchema, allow_none=True)


class WinModelStatusSchema(Schema):
    """The win models of a connection's pipelines."""

    connection_id = fields.Integer(required=True)
    models = fields.List(fields.Nested(WinModelSchema), required=True)


class RebuildChangeSchema(Schema):
    """What a rebuild did to one pipeline: `current` (the new model is in use), `rejected` (the current one
    did better), `disabled` (under the data floor)."""

    connection_id = fields.Integer(required=True)
    pipeline = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    won = fields.Integer(required=True)
    lost = fields.Integer(required=True)
    auc = fields.Float(allow_none=True, metadata={"description": "the rebuilt model's hold-out AUC"})
    previous_auc = fields.Float(allow_none=True, metadata={"description": "the model in use before, if any"})
    reason = fields.String(allow_none=True)


class RebuildOutSchema(Schema):
    """Per pipeline, what the rebuild changed."""

    changes = fields.List(fields.Nested(RebuildChangeSchema), required=True)
