"""The portrait analytics: run parameters and runs, the ABC x XYZ and RFM tables, a segment's customers and the
suggested persona (docs/analytics.md)."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from schemas.common import PageArgsSchema, PageSchema, StrictSchema

FORMATS = ("json", "csv", "xlsx")
XYZ_MODES = ("adaptive", "textbook")
BASES = ("revenue", "margin")


def _share(**kwargs: object) -> fields.Float:
    return fields.Float(allow_none=True, required=True, **kwargs)  # type: ignore[arg-type]


def format_field() -> fields.String:
    """The `format` query argument of an answer also given as CSV or XLSX."""
    return fields.String(validate=validate.OneOf(FORMATS),
                         metadata={"description": "json; csv (one file, a section per table); xlsx (a sheet per "
                                                  "table). Default: from the Accept header, else json"})


class TableArgsSchema(Schema):
    """The format of a table; without it, the Accept header chooses (text/csv, the XLSX type, else JSON)."""

    format = format_field()


class RunParamsSchema(StrictSchema):
    """The parameters of a portrait run; each default is the articles' (docs/analytics.md)."""

    as_of = fields.Date(metadata={"description": "the day the analysis is for (default: today, UTC)"})
    abc_cutoffs = fields.List(fields.Float(validate=validate.Range(min=0, min_inclusive=False)),
                              validate=validate.Length(equal=3),
                              metadata={"description": "A, B and C shares in percent, adding up to 100 (80, 15, 5)"})
    basis = fields.String(validate=validate.OneOf(BASES), metadata={"description": "what ABC ranks by (revenue)"})
    xyz_mode = fields.String(validate=validate.OneOf(XYZ_MODES), metadata={"description": "XYZ cut-offs (adaptive)"})
    period_months = fields.Integer(validate=validate.Range(min=1, max=12), metadata={"description": "XYZ period (1)"})
    horizon_months = fields.Integer(validate=validate.Range(min=2, max=120),
                                    metadata={"description": "XYZ horizon (24)"})
    min_purchases = fields.Integer(validate=validate.Range(min=1, max=1000),
                                   metadata={"description": "purchases a customer needs for XYZ (2)"})
    min_periods = fields.Integer(validate=validate.Range(min=2, max=120),
                                 metadata={"description": "periods a customer needs for XYZ (6)"})
    rates = fields.Dict(keys=fields.String(validate=validate.Length(min=1, max=8)),
                        values=fields.Float(validate=validate.Range(min=0, min_inclusive=False)),
                        metadata={"description": "units of `base` per unit of each currency; without it each "
                                                 "currency is analysed on its own"})
    base = fields.String(validate=validate.Length(min=1, max=8), metadata={"description": "needed with `rates`"})
    hysteresis = fields.Float(validate=validate.Range(min=0, max=5),
                              metadata={"description": "score points a customer must move past a segment's border "
                                                       "before its segment changes (0.5; 0 turns it off)"})
    acquisition_cost = fields.Float(validate=validate.Range(min=0, min_inclusive=False),
                                      metadata={"description": "per customer, for ROI"})


class RunSchema(Schema):
    """A portrait run and its progress (`done` of `total` purchases read)."""

    id = fields.Integer(required=True)
    status = fields.String(required=True, metadata={"description": "queued, running, done or failed"})
    trigger = fields.String(allow_none=True, required=True, metadata={"description": "api, cli or nightly"})
    params = fields.Dict(required=True)
    as_of = fields.Date(allow_none=True, required=True)
    done = fields.Integer(required=True)
    total = fields.Integer(required=True)
    progress = fields.Float(required=True, metadata={"description": "percent"})
    queued_at = fields.DateTime(required=True)
    started_at = fields.DateTime(allow_none=True, required=True)
    finished_at = fields.DateTime(allow_none=True, required=True)
    error = fields.String(allow_none=True, required=True)


class GroupSchema(Schema):
    """One segment or cell: customers and revenue with their shares, average check (revenue / purchases),
    purchases per customer-year, margin per customer and ROI (when known)."""

    name = fields.String(required=True)
    customers = fields.Integer(required=True)
    customer_share = _share()
    revenue = _share()
    revenue_share = _share()
    purchases = fields.Integer(required=True)
    average_check = _share()
    purchases_per_year = _share()
    margin_per_customer = _share()
    roi = _share()


class ClassRowSchema(Schema):
    """One ABC class: customers, value (revenue or margin) and their shares."""

    name = fields.String(required=True)
    customers = fields.Integer(required=True)
    customer_share = _share()
    value = _share()
    value_share = _share()


class AbcSchema(Schema):
    """The ABC classes."""

    rows = fields.List(fields.Nested(ClassRowSchema), required=True)
    total = _share()


class XyzSchema(Schema):
    """XYZ: the cut-offs used, customers per class and per Syntetos-Boylan demand class, and how many had too
    short a history (ABC only)."""

    mode = fields.String(required=True)
    cutoffs = fields.List(fields.Float(), allow_none=True, required=True)
    classes = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    abc_only = fields.Integer(required=True)
    demand = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)


class CheckSizesSchema(Schema):
    """Percentiles (p10..p90) of the purchase amounts of a class."""

    n = fields.Integer(required=True)
    quantiles = fields.Dict(keys=fields.String(), values=fields.Float(), required=True)


class FloorSchema(Schema):
    """One currency's analysis; below the data floor `enough` is false, `message` says what is missing and only
    the numbers (customers and months there are and needed) are given."""

    currency = fields.String(allow_none=True, required=True)
    enough = fields.Boolean(required=True)
    message = fields.String(allow_none=True, required=True)
    customers = fields.Integer(required=True)
    customers_needed = fields.Integer(allow_none=True)
    months = fields.Integer(allow_none=True)
    months_needed = fields.Integer(allow_none=True)


class AbcXyzCurrencySchema(FloorSchema):
    """The ABC classes, XYZ summary, 12-row matrix (AX..CZ, then A-, B-, C-: ABC only) and check sizes."""

    unclassified = fields.Integer(metadata={"description": "customers left out of ABC by margin (margin unknown)"})
    abc = fields.Nested(AbcSchema)
    xyz = fields.Nested(XyzSchema)
    matrix = fields.List(fields.Nested(GroupSchema))
    check_sizes = fields.Dict(keys=fields.String(), values=fields.Nested(CheckSizesSchema))


class GridCellSchema(Schema):
    """Customers with an R score and an F score."""

    r = fields.Integer(required=True)
    f = fields.Integer(required=True)
    customers = fields.Integer(required=True)


class RfmCurrencySchema(FloorSchema):
    """The RFM segments and the 5 x 5 R x F grid."""

    segments = fields.List(fields.Nested(GroupSchema))
    grid = fields.List(fields.Nested(GridCellSchema))


class _ResultSchema(Schema):
    run_id = fields.Integer(required=True)
    as_of = fields.String(required=True, metadata={"description": "the day the analysis is for"})
    computed_at = fields.String(required=True, metadata={"description": "when it was computed (UTC)"})
    converted = fields.Boolean(required=True, metadata={"description": "a rate table converted every amount"})
    base = fields.String(allow_none=True, required=True)


class AbcXyzSchema(_ResultSchema):
    """ABC x XYZ of the latest finished run, per currency."""

    currencies = fields.List(fields.Nested(AbcXyzCurrencySchema), required=True)


class RfmSchema(_ResultSchema):
    """RFM of the latest finished run, per currency."""

    currencies = fields.List(fields.Nested(RfmCurrencySchema), required=True)


class SegmentCustomerSchema(Schema):
    """A customer with its segment, RFM scores ("545": R, F, M), ABC and XYZ classes and previous segment."""

    id = fields.Integer(required=True)
    source = fields.String(required=True)
    kind = fields.String(required=True)
    external_id = fields.String(required=True)
    name = fields.String(allow_none=True, required=True)
    values = fields.Dict(required=True)
    segment = fields.String(allow_none=True, required=True)
    scores = fields.String(allow_none=True, required=True)
    abc = fields.String(allow_none=True, required=True)
    xyz = fields.String(allow_none=True, required=True)
    previous_segment = fields.String(allow_none=True, required=True)
    changed_at = fields.DateTime(allow_none=True, required=True)


class SegmentCustomerPageSchema(PageSchema):
    """A page of a segment's customers."""

    segment = fields.String(required=True)
    items = fields.List(fields.Nested(SegmentCustomerSchema), required=True)


class SuggestArgsSchema(Schema):
    """Which segment to portray and which to draw disqualifiers from."""

    segment = fields.String(load_default="Champions", validate=validate.Length(min=1, max=32),
                            metadata={"description": "an RFM segment (Champions) or an ABC x XYZ cell (AX)"})
    anti = fields.String(validate=validate.Length(min=1, max=32),
                         metadata={"description": "the worst segment (default Lost, or CZ for a cell)"})


class IndexRowSchema(Schema):
    """One attribute value: counts and shares in the segment and overall, index, 95 % Wilson interval, z, p."""

    field = fields.String(required=True)
    value = fields.String(required=True)
    segment_count = fields.Integer(required=True)
    segment_share = fields.Float(required=True)
    base_count = fields.Integer(required=True)
    base_share = fields.Float(required=True)
    index = fields.Float(required=True)
    low = fields.Float(required=True)
    high = fields.Float(required=True)
    z = fields.Float(required=True)
    p_value = fields.Float(required=True)


class IndexProfileSchema(Schema):
    """The index profile of a segment (rows under `min_support` are hidden and counted)."""

    segment = fields.String(required=True)
    segment_size = fields.Integer(required=True)
    base_size = fields.Integer(required=True)
    rows = fields.List(fields.Nested(IndexRowSchema), required=True)
    hidden = fields.Integer(required=True)
    min_support = fields.Integer(required=True)


class EvidenceSchema(Schema):
    """Why a criterion is in the draft."""

    field = fields.String(required=True)
    values = fields.List(fields.String(), required=True)
    kind = fields.String(required=True)
    weight = fields.Float(required=True)
    segment_share = fields.Float(required=True)
    base_share = fields.Float(required=True)
    index = fields.Float(required=True)
    n = fields.Integer(required=True)
    z = fields.Float(required=True)
    text = fields.String(required=True)


class ComparisonSchema(Schema):
    """How one criterion of a current persona compares with the segment."""

    persona_id = fields.Integer(required=True)
    persona = fields.String(required=True)
    field = fields.String(required=True)
    kind = fields.String(allow_none=True, required=True)
    values = fields.List(fields.String(), required=True)
    segment_share = _share()
    base_share = _share()
    index = _share()
    top_value = fields.String(allow_none=True, required=True)
    top_share = _share()
    agrees = fields.Boolean(allow_none=True, required=True)
    text = fields.String(required=True)


class SuggestedPersonaSchema(Schema):
    """The suggested persona: the index profiles, the draft (a body for POST /v1/personas), its evidence and the
    comparison with the current personas; under the data floor `enough` is false and `message` says why."""

    run_id = fields.Integer(required=True)
    as_of = fields.String(allow_none=True, required=True)
    enough = fields.Boolean(required=True)
    message = fields.String(allow_none=True, required=True)
    segment = fields.String(required=True)
    anti_segment = fields.String(required=True)
    profile = fields.Nested(IndexProfileSchema, required=True)
    anti_profile = fields.Nested(IndexProfileSchema, required=True)
    draft = fields.Dict(required=True, metadata={"description": "the body POST /v1/personas accepts"})
    evidence = fields.List(fields.Nested(EvidenceSchema), required=True)
    comparison = fields.List(fields.Nested(ComparisonSchema), required=True)


class SegmentPageArgsSchema(PageArgsSchema):
    """Page of a segment's customers, or (format csv or xlsx, or such an Accept header) every one of them."""

    format = format_field()
