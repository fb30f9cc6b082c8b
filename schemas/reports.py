"""The qualification report: its query arguments, its sections and the deals behind a number."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from schemas.common import LANGUAGES, MAX_PAGE_SIZE, PageSchema, id_field
from schemas.win_model import WinModelSchema

GRADES = ("A", "B", "C", "D")
FORMATS = ("json", "csv", "xlsx")
METRICS = ("moves", "allowed", "blocked", "warned", "audited", "found_by_sync", "automated", "too_old",
           "created", "no_persona", "closed", "won", "lost", "stuck")
MAX_DAYS = 731
def _int() -> fields.Integer:
    return fields.Integer(required=True)


def _text(**kwargs: Any) -> fields.String:
    return fields.String(validate=validate.Length(min=1, max=64), **kwargs)


class ReportArgsSchema(Schema):
    """Period and filters of a report (the views refuse unknown arguments: a misspelt filter is never ignored)."""

    from_ = fields.Date(data_key="from", metadata={"description": "first day (UTC); default: 30 days before `to`"})
    to = fields.Date(metadata={"description": "last day, included (UTC); default: today"})
    connection_id = id_field(strict=False)
    pipeline = _text(metadata={"description": "the CRM's pipeline id"})
    owner = _text(metadata={"description": "the CRM's id of the deals' owner (see the report's owner rows)"})
    persona_id = id_field(strict=False, metadata={"description": "deals whose best-fitting persona this is, now"})
    grade = fields.String(validate=validate.OneOf(GRADES), metadata={"description": "deals of this grade, now"})
    language = fields.String(load_default="en", validate=validate.OneOf(LANGUAGES),
                             metadata={"description": "of the rules written next to each number"})

    @validates_schema
    def _period(self, data: dict[str, Any], **kwargs: Any) -> None:
        start = data.get("from_")
        end = data.get("to")
        if start and end and start > end:
            raise ValidationError("`from` is after `to`.", "from")
        if start and end and (end - start).days > MAX_DAYS:
            raise ValidationError(f"A report covers at most {MAX_DAYS} days.", "from")


class QualificationArgsSchema(ReportArgsSchema):
    """A report's period, filters and format."""

    format = fields.String(load_default="json", validate=validate.OneOf(FORMATS),
                           metadata={"description": "json; csv (one file, a section per block); xlsx (a sheet per "
                                                    "section)"})


class ReportDealsArgsSchema(ReportArgsSchema):
    """The deals behind one number: the report's period and filters, plus the cell's metric and stage."""

    metric = fields.String(required=True, validate=validate.OneOf(METRICS))
    stage = _text(metadata={"description": "the CRM's stage id of the cell"})
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=1_000_000))
    page_size = fields.Integer(load_default=50, validate=validate.Range(min=1, max=MAX_PAGE_SIZE))


class RateSchema(Schema):
    """`hits` of `n` closed deals; value and 95% Wilson interval only with enough cases (20)."""

    hits = _int()
    n = _int()
    value = fields.Float(allow_none=True, required=True)
    low = fields.Float(allow_none=True, required=True)
    high = fields.Float(allow_none=True, required=True)
    enough = fields.Boolean(required=True)


class PlaceSchema(Schema):
    """Where a row of the report stands: connection, pipeline and stage, owner."""

    connection_id = _int()
    pipeline = fields.String(allow_none=True, required=True)
    pipeline_label = fields.String(required=True)
    stage = fields.String(required=True)
    stage_label = fields.String(required=True)
    owner = fields.String(allow_none=True, required=True)
    owner_name = fields.String(required=True)


def _share(**kwargs: Any) -> fields.Float:
    return fields.Float(allow_none=True, required=True, **kwargs)


def _hours() -> fields.Float:
    return fields.Float(allow_none=True, required=True)


class ComplianceRowSchema(PlaceSchema):
    """Moves into a stage its gates applied to, by one owner, and what became of them."""

    moves = _int()
    allowed = _int()
    blocked = _int()
    warned = _int()
    audited = _int()
    blocked_share = _share()
    found_by_sync = _int()
    automated = _int()
    too_old = _int()
    passed_after_block = _int()
    pass_median_hours = _hours()
    pass_p90_hours = _hours()


class StuckRowSchema(PlaceSchema):
    """Deals held in front of a stage's gate now."""

    deals = _int()
    held_median_hours = _hours()
    held_max_hours = _hours()


class MissingFieldSchema(Schema):
    """A field and on how many blocked or warned moves it was missing or invalid."""

    field = fields.String(required=True)
    label = fields.String(required=True)
    moves = _int()


class ComplianceSchema(Schema):
    """Section 1: stage-gate compliance."""

    rows = fields.List(fields.Nested(ComplianceRowSchema), required=True)
    stuck = fields.List(fields.Nested(StuckRowSchema), required=True)
    missing_fields = fields.List(fields.Nested(MissingFieldSchema), required=True)


class CompletenessRowSchema(PlaceSchema):
    """Required fields filled when deals entered a stage."""

    moves = _int()
    required = _int()
    filled = fields.Integer(
        required=True)
    share = _share()


class CompletenessSchema(Schema):
    """Section 2: portrait completeness."""

    rows = fields.List(fields.Nested(CompletenessRowSchema), required=True)


class PersonaCountSchema(Schema):
    """Deals whose best persona is this one."""

    persona_id = _int()
    name = fields.String(required=True)
    deals = _int()
    share = _share()


class CountShareSchema(Schema):
    """A count and its share."""

    deals = _int()
    share = _share()


class GradeCountSchema(CountShareSchema):
    """Deals of a grade ("none": not scored)."""

    grade = fields.String(required=True)


class PersonaWarningSchema(Schema):
    """A persona's warnings (the same as its own view gives)."""

    persona_id = _int()
    name = fields.String(required=True)
    warnings = fields.List(fields.String(), required=True)


class PersonaMixSchema(Schema):
    """Section 3: persona mix of the deals created in the period."""

    deals = _int()
    personas = fields.List(fields.Nested(PersonaCountSchema), required=True)
    no_persona = fields.Nested(CountShareSchema, required=True)
    grades = fields.List(fields.Nested(GradeCountSchema), required=True)
    warnings = fields.List(fields.Nested(PersonaWarningSchema), required=True, metadata={
        "description": "active personas with a problem no error stops (criteria on fields no connection maps: "
                       "such a persona matches no one and everyone alike, and the non-target share misleads)"})


class GradeRateSchema(RateSchema):
    """The win rate of one grade's closed deals."""

    grade = fields.String(required=True)


class PaysSchema(Schema):
    """Section 4: does qualification pay."""

    closed = _int()
    won = _int()
    win_rate = fields.Nested(RateSchema, required=True)
    by_grade = fields.List(fields.Nested(GradeRateSchema), required=True)
    persona_matched = fields.Nested(RateSchema, required=True)
    persona_unmatched = fields.Nested(RateSchema,
                                                                                                 required=True)
    ever_blocked = fields.Nested(RateSchema, required=True)
    never_blocked = fields.Nested(RateSchema, required=True)
    won_cycle_median_days = fields.Float(allow_none=True, required=True)


class OwnerRowSchema(Schema):
    """One owner's numbers."""

    owner = fields.String(allow_none=True, required=True)
    owner_name = fields.String(required=True)
    moves = _int()
    blocked = _int()
    created = fields.Integer(
        required=True)
    blocked_share = _share()
    completeness = _share()
    non_target_share = _share()
    win_rate = fields.Nested(RateSchema, required=True)
    wrong_audience = fields.Boolean(required=True, metadata={"description": "busier than the team's median owner, "
                                                                             "wins less (95% intervals apart)"})


class TeamSchema(Schema):
    """The team's numbers."""

    moves = _int()
    blocked_share = _share()
    completeness = _share()
    non_target_share = _share()
    win_rate = fields.Nested(RateSchema, required=True)
    median_owner_moves = fields.Float(allow_none=True, required=True)


class OwnersSchema(Schema):
    """Section 5: each owner beside the team."""

    team = fields.Nested(TeamSchema, required=True)
    rows = fields.List(fields.Nested(OwnerRowSchema), required=True)


class WeekSchema(Schema):
    """One ISO week (its Monday)."""

    week = fields.String(required=True)
    moves = _int()
    created = _int()
    blocked_share = _share()
    completeness = _share()
    non_target_share = _share()
    win_rate = fields.Nested(RateSchema, required=True)


class TrendSchema(Schema):
    """Section 6: week by week, and the kinds of moves."""

    weeks = fields.List(fields.Nested(WeekSchema), required=True)
    directions = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)


class ConversionStageSchema(Schema):
    """How many deals reached a stage, any path and strictly."""

    stage = fields.String(required=True)
    stage_label = fields.String(required=True)
    any = _int()
    strict = _int()
    any_share = _share()
    strict_share = _share()


class ConversionSchema(Schema):
    """Stage conversion of one pipeline."""

    connection_id = _int()
    pipeline = fields.String(required=True)
    pipeline_label = fields.String(required=True)
    deals = _int()
    stages = fields.List(fields.Nested(ConversionStageSchema), required=True)


class PeriodSchema(Schema):
    """The period covered, [from, to)."""

    from_ = fields.DateTime(data_key="from", attribute="from", required=True)
    to = fields.DateTime(required=True)


class QualificationReportSchema(Schema):
    """Whether qualification is done and whether it pays; `rules` says how each number is counted."""

    period = fields.Nested(PeriodSchema, required=True)
    filters = fields.Dict(required=True)
    generated_at = fields.DateTime(required=True)
    rules = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
    compliance = fields.Nested(ComplianceSchema, required=True)
    completeness = fields.Nested(CompletenessSchema, required=True)
    persona_mix = fields.Nested(PersonaMixSchema, required=True)
    pays = fields.Nested(PaysSchema, required=True)
    owners = fields.Nested(OwnersSchema, required=True)
    trend = fields.Nested(TrendSchema, required=True)
    conversion = fields.List(fields.Nested(ConversionSchema), required=True)
    win_models = fields.List(fields.Nested(WinModelSchema), required=True, metadata={
        "description": "each pipeline's win model now (not of the period): status, calibration, AUC, Brier"})


class ReportDealSchema(Schema):
    """A deal behind a number, with its link into the CRM."""

    id = _int()
    connection_id = _int()
    external_id = fields.String(required=True)
    name = fields.String(allow_none=True)
    pipeline = fields.String(allow_none=True)
    stage = fields.String(allow_none=True)
    owner = fields.String(allow_none=True)
    owner_name = fields.String(allow_none=True)
    amount = fields.Decimal(as_string=True, allow_none=True)
    currency = fields.String(allow_none=True)
    crm_created_at = fields.DateTime(allow_none=True)
    closed_at = fields.DateTime(allow_none=True)
    best_persona_id = fields.Integer(allow_none=True)
    grade = fields.String(allow_none=True)
    crm_url = fields.String(allow_none=True, metadata={"description": "the deal's page in the CRM"})


class ReportDealPageSchema(PageSchema):
    """A page of the deals behind a number."""

    items = fields.List(fields.Nested(ReportDealSchema), required=True)
