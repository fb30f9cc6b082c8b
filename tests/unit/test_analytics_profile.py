"""The index profile, the draft persona, and a planted-truth base: wholesale buyers in the north buy monthly and a
lot, one-off retail buyers rarely return; the profile of the top segment must find wholesale + north and the
anti-profile retail, and nothing of a field that was drawn at random."""

from __future__ import annotations

import math
import random
from datetime import date, timedelta
from decimal import Decimal

import pytest

from schemas.personas import PersonaInSchema
from service.domain.analytics.abc import abc_classes
from service.domain.analytics.index_profile import UNKNOWN, index_profile, two_proportion_z
from service.domain.analytics.persona_draft import draft_persona, weight_for
from service.domain.analytics.purchases import Purchase, histories
from service.domain.analytics.rfm import Segment, rfm_scores
from service.domain.analytics.xyz import xyz_classes
from service.domain.fieldtypes import Constraints, FieldSpec, FieldType
from service.domain.personas import CriterionKind, Matcher, parse_criteria
from service.domain.report_math import wilson

AS_OF = date(2026, 12, 31)
REGIONS = ("north", "south", "east", "west")
CHANNELS = ("web", "phone", "referral")
FIELDS = {
    "customer_type": FieldSpec("customer_type", "Customer type", FieldType.ENUM,
                               Constraints(options=("wholesale", "retail"))),
    "region": FieldSpec("region", "Region", FieldType.ENUM, Constraints(options=REGIONS)),
    "channel": FieldSpec("channel", "Channel", FieldType.ENUM, Constraints(options=CHANNELS)),
}


def test_index_rows_by_hand() -> None:
    # Base of 10: retail r0..r3, it i0..i5; the segment is r0, r1, r2, i0. i5 has no industry (unknown).
    attributes: dict[str, dict[str, str | None]] = {f"r{i}": {"industry": "retail"} for i in range(4)}
    attributes.update({f"i{i}": {"industry": "it"} for i in range(5)})
    attributes["i5"] = {"industry": None}
    profile = index_profile("seg", ["r0", "r1", "r2", "i0", "stranger"], attributes, min_support=1)
    assert (profile.segment_size, profile.base_size, profile.hidden) == (4, 10, 1)  # unknown: none in the segment
    retail, it = profile.rows
    assert (retail.value, retail.segment_count, retail.base_count) == ("retail", 3, 4)
    assert retail.index == pytest.approx((3 / 4) / (4 / 10) * 100)
    assert it.index == pytest.approx((1 / 4) / (5 / 10) * 100)
    rate = wilson(3, 4)
    assert (retail.low, retail.high) == (rate.low, rate.high)
    # segment 3/4 vs the other six customers 1/6, pooled 4/10
    z = (3 / 4 - 1 / 6) / math.sqrt(0.4 * 0.6 * (1 / 4 + 1 / 6))
    assert retail.z == pytest.approx(z)
    assert retail.p_value == pytest.approx(math.erfc(z / math.sqrt(2)))
    assert index_profile("seg", ["r0", "r1", "r2", "i0"], attributes, min_support=2).hidden == 2


def test_two_proportion_z_edge_cases() -> None:
    assert two_proportion_z(0, 0, 1, 2) == (0.0, 1.0)
    assert two_proportion_z(3, 3, 5, 5) == (0.0, 1.0)  # everyone holds the value
    z, p = two_proportion_z(10, 20, 10, 20)
    assert (z, p) == (0.0, 1.0)


def test_unknown_values_are_shown_but_never_promoted() -> None:
    attributes: dict[str, dict[str, str | None]] = {f"s{i}": {"region": ""} for i in range(40)}
    attributes.update({f"o{i}": {"region": "north"} for i in range(60)})
    profile = index_profile("seg", [f"s{i}" for i in range(40)], attributes, min_support=30)
    assert [(r.value, r.index) for r in profile.rows] == [(UNKNOWN, 250.0)]
    assert draft_persona(profile).body["criteria"] == []


def test_weights_grow_with_the_log_of_the_index() -> None:
    assert [weight_for(i) for i in (50, 100, 200, 400, 10**40)] == [1.0, 1.0, 10.0, 20.0, 100.0]


def planted_base() -> tuple[list[Purchase], dict[str, dict[str, str | None]]]:
    """100 northern wholesale buyers buying about 1000 every month for two years up to last week; 100 wholesale
    buyers elsewhere buying about 300 every quarter, last 30-120 days ago; 300 retail buyers in any region, one
    (80 %) or two purchases of about 50, 60-730 days ago. The channel is drawn at random for everyone."""
    rng = random.Random(15)
    purchases: list[Purchase] = []
    attributes: dict[str, dict[str, str | None]] = {}

    def add(cid: str, kind: str, region: str, days: list[int], low: int, high: int) -> None:
        attributes[cid] = {"customer_type": kind, "region": region, "channel": rng.choice(CHANNELS)}
        purchases.extend(Purchase(cid, Decimal(rng.randint(low, high)), "EUR", AS_OF - timedelta(days=d), None)
                         for d in days)

    for i in range(100):
        last = rng.randint(0, 9)
        add(f"wn{i}", "wholesale", "north", [last + 30 * m for m in range(24)], 900, 1100)
    for i in range(100):
        last = rng.randint(30, 120)
        add(f"wo{i}", "wholesale", rng.choice(REGIONS[1:]), [last + 91 * q for q in range(7)], 200, 400)
    for i in range(300):
        count = 1 if rng.random() < 0.8 else 2
        add(f"r{i}", "retail", rng.choice(REGIONS), [rng.randint(60, 730) for _ in range(count)], 20, 80)
    return purchases, attributes


def _criteria(body: dict[str, object]) -> list[dict[str, object]]:
    criteria = body["criteria"]
    assert isinstance(criteria, list)
    return criteria


def test_planted_truth_champions_are_northern_wholesale_and_lost_are_retail() -> None:
    purchases, attributes = planted_base()
    found = histories(purchases)
    scores = rfm_scores(found, AS_OF)
    champions = [c for c, s in scores.items() if s.segment is Segment.CHAMPIONS]
    lost = [c for c, s in scores.items() if s.segment is Segment.LOST]
    profile = index_profile("Champions", champions, attributes)
    anti = index_profile("Lost", lost, attributes)
    draft = draft_persona(profile, anti, fields=FIELDS)
    criteria = _criteria(draft.body)
    assert {(c["field"], c.get("value"), c["kind"]) for c in criteria} == {
        ("customer_type", "wholesale", "nice"), ("region", "north", "nice"),
        ("customer_type", "retail", "disqualifier")}
    top = {(r.field, r.value): r for r in profile.rows}
    base_north = sum(1 for a in attributes.values() if a["region"] == "north") / len(attributes)
    assert top["region", "north"].index == pytest.approx(
        top["region", "north"].segment_share / base_north * 100)
    assert top["customer_type", "wholesale"].index > 200 and top["region", "north"].p_value < 1e-6
    # The evidence says it in words and the draft is directly creatable.
    assert [e.field for e in draft.evidence] == ["customer_type", "region", "customer_type"]
    assert draft.evidence[1].text.startswith("region = north: ")
    parsed = parse_criteria(criteria, FIELDS)
    assert [(c.matcher, c.kind) for c in parsed] == [
        (Matcher.EQUALS, CriterionKind.NICE), (Matcher.EQUALS, CriterionKind.NICE),
        (Matcher.EQUALS, CriterionKind.DISQUALIFIER)]
    loaded = PersonaInSchema().load(draft.body)
    assert loaded["name"] == "Suggested: Champions" and loaded["ring"] == "core"


def test_planted_truth_ax_customers_recover_the_same_portrait() -> None:
    purchases, attributes = planted_base()
    found = histories(purchases)
    abc = abc_classes({c: h.revenue for c, h in found.items()})
    xyz = xyz_classes(found, AS_OF)
    ax = [c for c, cls in abc.classes.items() if cls == "A" and xyz.classes.get(c) == "X"]
    assert len(ax) >= 30 and all(c.startswith("wn") for c in ax)
    draft = draft_persona(index_profile("AX", ax, attributes), fields=FIELDS)
    assert {(c["field"], c.get("value")) for c in _criteria(draft.body)} == {
        ("customer_type", "wholesale"), ("region", "north")}


def test_the_draft_skips_fields_and_values_the_persona_api_would_refuse() -> None:
    purchases, attributes = planted_base()
    scores = rfm_scores(histories(purchases), AS_OF)
    champions = [c for c, s in scores.items() if s.segment is Segment.CHAMPIONS]
    profile = index_profile("Champions", champions, attributes)
    only_type = {"customer_type": FIELDS["customer_type"],
                 "region": FieldSpec("region", "Region", FieldType.ENUM, Constraints(options=("south",)))}
    criteria = _criteria(draft_persona(profile, fields=only_type).body)
    assert [c["field"] for c in criteria] == ["customer_type"]
    multi = {"region": FieldSpec("region", "Region", FieldType.MULTI_ENUM, Constraints(options=REGIONS))}
    assert _criteria(draft_persona(profile, fields=multi).body) == []


def test_several_over_represented_values_make_one_in_criterion_weighted_by_their_joint_index() -> None:
    # Base 100: region a 20, b 20, c 60; the segment is the 40 customers of a and b.
    attributes: dict[str, dict[str, str | None]] = {f"c{i}": {"region": "abc"[min(i // 20, 2)]} for i in range(100)}
    profile = index_profile("seg", [f"c{i}" for i in range(40)], attributes, min_support=10)
    draft = draft_persona(profile)
    # joint share 100 % vs 40 % -> index 250 -> weight 10 x log2(2.5)
    assert _criteria(draft.body) == [
        {"field": "region", "kind": "nice", "weight": round(10 * math.log2(2.5), 1), "matcher": "in",
         "values": ["a", "b"]}]
    assert draft.evidence[0].index == pytest.approx(250.0)
    # An anti-profile naming a value the segment holds often gives no disqualifier for it.
    anti = index_profile("anti", [f"c{i}" for i in range(20)], attributes, min_support=10)
    assert [e.kind for e in draft_persona(profile, anti).evidence] == ["nice"]
