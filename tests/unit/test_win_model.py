"""The win model's arithmetic (service/domain/analytics/win_model.py, win_eval.py): tables and probabilities
computed by hand, smoothing, the support threshold, Odoo's stage counting, AUC, Brier, deciles, the time split,
the data floor and the replacement rule; and properties over random histories (hypothesis)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.domain.analytics.win_eval import (
    auc,
    brier,
    build,
    calibration,
    deciles,
    floor_reason,
    replaces,
    time_split,
)
from service.domain.analytics.win_model import Example, add, empty, from_tables, probability, to_tables, train

T0 = datetime(2026, 1, 1, tzinfo=UTC)
STAGES = ("s1", "s2", "s3")


def ex(industry: str, won: bool, reached: str | None = None, day: int = 0) -> Example:
    return Example({"industry": industry}, won, T0 + timedelta(days=day), reached)


HISTORY = [ex("wholesale", True), ex("wholesale", True), ex("retail", False, "s2"), ex("wholesale", False, "s1"),
           ex("retail", False)]


def test_tables_count_won_and_lost_per_value_and_stages_the_way_odoo_does() -> None:
    model = train(HISTORY, STAGES, min_support=1)
    assert (model.won, model.lost) == (2, 3)
    assert model.fields == {"industry": {"wholesale": (2, 1), "retail": (0, 2)}}
    # Won deals count in every open stage; a lost one up to the furthest it reached (unknown: the first).
    assert model.stage_counts == {"s1": (2, 3), "s2": (2, 1), "s3": (2, 0)}


def test_probability_is_the_smoothed_naive_bayes_ratio() -> None:
    model = train(HISTORY, STAGES, min_support=1)
    s_won = 2 / 5 * (2.1 / 2.2) * (2.1 / 2.1)  # prior x P(wholesale | won) x P(s2 | won), each count +0.1
    s_lost = 3 / 5 * (1.1 / 3.2) * (1.1 / 3.1)
    assert probability(model, {"industry": "wholesale"}, "s2") == pytest.approx(s_won / (s_won + s_lost))


def test_smoothing_keeps_a_value_never_seen_won_from_zeroing_the_probability() -> None:
    model = train(HISTORY, STAGES, min_support=1)
    s_won = 2 / 5 * (0.1 / 2.2)
    s_lost = 3 / 5 * (2.1 / 3.2)
    p = probability(model, {"industry": "retail"}, None)
    assert p == pytest.approx(s_won / (s_won + s_lost))
    assert p > 0


def test_values_under_the_support_threshold_and_unknown_values_are_ignored() -> None:
    model = train(HISTORY, STAGES, min_support=3)  # wholesale: 3 deals, retail: 2
    prior = 2 / 5
    assert probability(model, {"industry": "retail"}, None) == pytest.approx(prior)
    assert probability(model, {"industry": "unseen", "other": "x"}, None) == pytest.approx(prior)
    assert probability(model, {"industry": "wholesale"}, None) != pytest.approx(prior)


def test_a_later_stage_raises_the_probability() -> None:
    model = train(HISTORY, STAGES, min_support=1)
    p = [probability(model, {}, s) for s in STAGES]
    assert p[0] < p[1] < p[2]


def test_a_model_without_won_or_lost_deals_gives_no_probability() -> None:
    with pytest.raises(ValueError):
        probability(train([ex("a", True)], STAGES), {}, None)


def test_tables_survive_json_and_malformed_tables_are_refused() -> None:
    model = train(HISTORY, STAGES, min_support=1)
    assert from_tables(to_tables(model)) == model
    with pytest.raises(ValueError):
        from_tables({"won": 1})


def test_auc_on_known_rankings_counts_ties_half() -> None:
    assert auc([(0.9, True), (0.8, False), (0.7, True), (0.1, False)]) == pytest.approx(3 / 4)
    assert auc([(0.9, True), (0.1, False)]) == 1.0
    assert auc([(0.1, True), (0.9, False)]) == 0.0
    assert auc([(0.5, True), (0.5, False)]) == 0.5
    assert auc([(0.5, True), (0.5, False), (0.7, True), (0.2, False)]) == pytest.approx((1 + 1 + 1 + 0.5) / 4)
    assert auc([(0.5, True)]) is None


def test_brier_is_the_mean_squared_gap() -> None:
    assert brier([(0.8, True), (0.3, False)]) == pytest.approx((0.2**2 + 0.3**2) / 2)
    assert brier([]) is None


def test_deciles_bin_by_probability_with_n_and_win_rate() -> None:
    bins = deciles([(0.05, False), (0.1, True), (0.15, False), (0.95, True), (1.0, True)])
    assert [b["n"] for b in bins] == [1, 2, 0, 0, 0, 0, 0, 0, 0, 2]
    assert bins[1]["win_rate"] == 0.5 and bins[1]["predicted"] == pytest.approx(0.125)
    assert bins[2]["win_rate"] is None and bins[9]["win_rate"] == 1.0


def test_time_split_holds_out_the_latest_fifth_and_keeps_same_instant_deals_together() -> None:
    examples = [ex("a", i % 2 == 0, day=i) for i in range(10)]
    before, after = time_split(list(reversed(examples)))
    assert [e.closed_at for e in before] == [e.closed_at for e in examples[:8]]
    assert [e.closed_at for e in after] == [e.closed_at for e in examples[8:]]
    tied = [ex("a", True, day=min(i, 7)) for i in range(10)]  # the last three closed at one instant
    before, after = time_split(tied)
    assert (len(before), len(after)) == (7, 3)


def test_the_data_floor_says_what_is_missing() -> None:
    assert floor_reason(40, 40) is None
    assert floor_reason(39, 40) == "not enough closed deals: 39 won deals, 40 needed"
    reason = floor_reason(3, 12) or ""
    assert "3 won deals, 40 needed" in reason and "12 lost deals, 40 needed" in reason


def test_a_rebuilt_model_replaces_the_current_only_within_95_percent_of_its_auc() -> None:
    assert replaces(0.77, 0.8)
    assert replaces(0.9, 0.8)
    assert not replaces(0.75, 0.8)
    assert replaces(None, None) and replaces(0.5, None)
    assert not replaces(None, 0.8)


def test_calibration_scores_the_holdout_without_a_stage() -> None:
    model = train(HISTORY, STAGES, min_support=1)
    holdout = [ex("wholesale", True, "s3"), ex("retail", False, "s3")]
    check = calibration(model, holdout)
    p_w, p_r = probability(model, {"industry": "wholesale"}, None), probability(model, {"industry": "retail"}, None)
    assert check.n == 2 and check.won == 1 and check.auc == 1.0
    assert check.brier == pytest.approx(((1 - p_w) ** 2 + p_r**2) / 2)


def test_build_calibrates_on_the_latest_deals_and_keeps_every_deal_in_the_model() -> None:
    examples = [ex("wholesale" if i % 3 else "retail", i % 3 != 0, day=i) for i in range(30)]
    built = build(examples, STAGES)
    assert built.model == train(examples, STAGES)
    assert built.calibration.n == 6


# --- properties -------------------------------------------------------------------------------------------------

PROPERTY = settings(max_examples=150, deadline=None, derandomize=True)
example = st.builds(
    lambda a, b, won, reached, day: Example({k: v for k, v in (("a", a), ("b", b)) if v is not None}, won,
                                            T0 + timedelta(days=day), reached),
    st.none() | st.sampled_from(["x", "y", "z"]), st.none() | st.sampled_from(["p", "q"]), st.booleans(),
    st.none() | st.sampled_from(STAGES), st.integers(0, 400))
histories = st.lists(example, min_size=1, max_size=60)


@PROPERTY
@given(histories)
def test_adding_deals_one_by_one_gives_the_tables_of_retraining(examples: list[Example]) -> None:
    model = train(examples[:-1], STAGES)
    assert add(model, examples[-1]) == train(examples, STAGES)
    grown = empty(STAGES)
    for e in examples:
        grown = add(grown, e)
    assert grown == train(examples, STAGES)


@PROPERTY
@given(histories, example)
def test_a_probability_is_strictly_between_0_and_1(examples: list[Example], deal: Example) -> None:
    model = train([*examples, ex("x", True), ex("x", False)], STAGES, min_support=1)
    for stage in (None, *STAGES):
        assert 0 < probability(model, deal.values, stage) < 1


@PROPERTY
@given(histories, st.integers(0, 2**32 - 1))
def test_the_ranking_does_not_depend_on_the_order_of_the_deals(examples: list[Example], seed: int) -> None:
    shuffled = list(examples)
    random.Random(seed).shuffle(shuffled)
    examples = [*examples, ex("x", True), ex("x", False)]
    shuffled = [*shuffled, ex("x", False), ex("x", True)]
    first, second = train(examples, STAGES, min_support=1), train(shuffled, STAGES, min_support=1)
    assert first == second
    deals = [(e.values, e.reached) for e in examples]
    assert [probability(first, v, s) for v, s in deals] == [probability(second, v, s) for v, s in deals]
