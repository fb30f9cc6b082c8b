"""Gatekeeper: directions, which gates apply, outcomes, issue shape and completeness."""

# Russian labels and messages are intentional: Cyrillic letters are not Latin confusables.
# ruff: noqa: RUF001

from __future__ import annotations

import pytest

from service.domain.errors import ConditionError, FieldSpecError, PipelineError
from service.domain.fields import FieldSpec, FieldType
from service.domain.gating import Gatekeeper, decide
from service.domain.issues import Decision, Outcome, Reason
from service.domain.pipeline import (
    Direction,
    Gate,
    GateMode,
    Pipeline,
    Requirement,
    Stage,
    StageKind,
    parse_requirements,
    requirements_to_list,
)
from tests.unit.domain_fixtures import COMPLETE, FIELDS, GATES, PARTNERS, SALES, keeper, ref

EMPTY: dict[str, object] = {}


def fields_of(decision: Decision) -> list[str]:
    return [issue.field for issue in decision.issues]


# --- directions and gated stages ----------------------------------------------------------------


def test_a_single_step_forward_requires_the_target_gate() -> None:
    d = keeper().decide(ref("lead"), ref("qualification"), EMPTY)
    assert (d.outcome, d.direction, d.gated_stages) == (
        Outcome.BLOCKED,
        Direction.FORWARD,
        ("qualification",),
    )
    assert fields_of(d) == ["industry", "budget"]


def test_skipping_a_stage_requires_the_skipped_gate() -> None:
    values = {"decision_maker": "Ann", "email": "a@b.co"}
    d = keeper().decide(ref("lead"), ref("proposal"), values)
    assert d.gated_stages == ("qualification", "presentation", "proposal")
    assert d.outcome is Outcome.BLOCKED
    assert fields_of(d) == ["industry", "budget"]


def test_stages_to_gate_lists_every_open_stage_passed_over() -> None:
    direction, refs = keeper().stages_to_gate(ref("qualification"), ref("won"))
    assert direction is Direction.FORWARD
    assert refs == (ref("presentation"), ref("proposal"), ref("won"))


@pytest.mark.parametrize(
    ("source", "target"),
    [("proposal", "lead"), ("won", "proposal"), ("presentation", "lead"), ("qualification", "lead")],
)
def test_moving_backwards_is_always_allowed(source: str, target: str) -> None:
    d = keeper().decide(ref(source), ref(target), EMPTY)
    assert (d.outcome, d.direction, d.gated_stages, d.issues) == (Outcome.ALLOWED, Direction.BACKWARD, (), ())


@pytest.mark.parametrize("stage", ["lead", "presentation", "won", "lost"])
def test_staying_in_the_same_stage_is_allowed(stage: str) -> None:
    d = keeper().decide(ref(stage), ref(stage), EMPTY)
    assert (d.outcome, d.direction, d.issues) == (Outcome.ALLOWED, Direction.SAME, ())


def test_creating_a_deal_in_a_later_stage_requires_every_gate_up_to_it() -> None:
    d = keeper().decide(None, ref("presentation"), EMPTY)
    assert d.direction is Direction.ENTER
    assert d.gated_stages == ("lead", "qualification", "presentation")
    assert fields_of(d) == ["industry", "budget", "decision_maker"]


def test_creating_a_deal_in_the_first_stage_needs_nothing_when_it_has_no_gate() -> None:
    d = keeper().decide(None, ref("lead"), EMPTY)
    assert (d.outcome, d.direction, d.gated_stages) == (Outcome.ALLOWED, Direction.ENTER, ("lead",))


def test_entering_from_another_pipeline_requires_every_gate_up_to_the_target() -> None:
    d = keeper().decide(ref("p2", "partners"), ref("qualification"), EMPTY)
    assert d.direction is Direction.ENTER
    assert fields_of(d) == ["industry", "budget"]


@pytest.mark.parametrize("source", [ref("nope"), ref("lead", "ghost")])
def test_an_unknown_source_stage_is_treated_as_entering(source: object) -> None:
    d = keeper().decide(source, ref("qualification"), EMPTY)  # type: ignore[arg-type]
    assert d.direction is Direction.ENTER
    assert d.gated_stages == ("lead", "qualification")


def test_reopening_a_lost_deal_requires_every_gate_up_to_the_target() -> None:
    d = keeper().decide(ref("lost"), ref("presentation"), {"industry": "it", "budget": "2000"})
    assert d.direction is Direction.ENTER
    assert d.outcome is Outcome.WARNED
    assert fields_of(d) == ["decision_maker"]


def test_reopening_a_lost_deal_into_an_earlier_stage_is_not_a_backward_move() -> None:
    d = keeper().decide(ref("dead"), ref("qualification"), EMPTY)
    assert (d.direction, d.outcome) == (Direction.ENTER, Outcome.BLOCKED)


@pytest.mark.parametrize(
    "source", [None, ref("lead"), ref("proposal"), ref("won"), ref("dead"), ref("p1", "partners")]
)
def test_moving_into_a_lost_stage_requires_only_its_own_gate(source: object) -> None:
    d = keeper().decide(source, ref("lost"), EMPTY)  # type: ignore[arg-type]
    assert (d.direction, d.gated_stages, fields_of(d)) == (Direction.TO_LOST, ("lost",), ["loss_reason"])
    assert d.outcome is Outcome.BLOCKED
    assert keeper().decide(source, ref("lost"), {"loss_reason": "Price"}).outcome is Outcome.ALLOWED  # type: ignore[arg-type]


def test_moving_into_a_lost_stage_without_a_gate_is_allowed() -> None:
    d = keeper().decide(ref("proposal"), ref("dead"), EMPTY)
    assert (d.direction, d.outcome, d.gated_stages) == (Direction.TO_LOST, Outcome.ALLOWED, ("dead",))


def test_lost_stages_are_never_gated_on_the_way_forward() -> None:
    pipeline = Pipeline(
        "p", "P", (Stage("a", "A", 1), Stage("x", "X", 2, StageKind.LOST), Stage("b", "B", 3))
    )
    gates = [Gate("p", "x", GateMode.ENFORCE, (Requirement("loss_reason"),))]
    k = Gatekeeper([pipeline], gates, FIELDS)
    assert k.stages_to_gate(ref("a", "p"), ref("b", "p")) == (Direction.FORWARD, (ref("b", "p"),))
    assert k.decide(ref("a", "p"), ref("b", "p"), EMPTY).outcome is Outcome.ALLOWED


def test_winning_from_the_previous_stage_requires_the_won_gate() -> None:
    d = keeper().decide(ref("proposal"), ref("won"), EMPTY)
    assert (d.direction, fields_of(d), d.outcome) == (Direction.FORWARD, ["contract_date"], Outcome.BLOCKED)


@pytest.mark.parametrize("target", [ref("nope"), ref("lead", "ghost")])
def test_an_unknown_target_raises_pipeline_error(target: object) -> None:
    with pytest.raises(PipelineError):
        keeper().decide(ref("lead"), target, EMPTY)  # type: ignore[arg-type]
    with pytest.raises(PipelineError):
        keeper().stages_to_gate(None, target)  # type: ignore[arg-type]


def test_stages_are_ordered_by_order_not_by_declaration() -> None:
    pipeline = Pipeline("p", "P", (Stage("c", "C", 3), Stage("a", "A", 1), Stage("b", "B", 2)))
    gates = [Gate("p", s, GateMode.ENFORCE, (Requirement(f),)) for s, f in (("b", "email"), ("c", "budget"))]
    k = Gatekeeper([pipeline], gates, FIELDS)
    assert fields_of(k.decide(ref("a", "p"), ref("c", "p"), EMPTY)) == ["email", "budget"]
    assert k.decide(ref("c", "p"), ref("a", "p"), EMPTY).direction is Direction.BACKWARD


def test_stages_with_equal_order_keep_declaration_order() -> None:
    pipeline = Pipeline("p", "P", (Stage("a", "A", 1), Stage("b", "B", 1)))
    k = Gatekeeper([pipeline], [], FIELDS)
    assert k.stages_to_gate(ref("a", "p"), ref("b", "p"))[0] is Direction.FORWARD
    assert k.stages_to_gate(ref("b", "p"), ref("a", "p"))[0] is Direction.BACKWARD


# --- outcomes -----------------------------------------------------------------------------------


def test_a_complete_deal_passes_every_gate() -> None:
    d = keeper().decide(None, ref("won"), COMPLETE)
    assert (d.outcome, d.issues) == (Outcome.ALLOWED, ())
    assert d.allowed and d.blocking_issues == ()


def test_enforce_wins_over_warn_and_audit() -> None:
    d = keeper().decide(ref("lead"), ref("proposal"), EMPTY)
    assert d.outcome is Outcome.BLOCKED
    assert not d.allowed
    assert [i.field for i in d.blocking_issues] == ["industry", "budget"]


def test_warn_wins_over_audit() -> None:
    d = keeper().decide(ref("qualification"), ref("proposal"), EMPTY)
    assert d.outcome is Outcome.WARNED
    assert d.allowed
    assert [(i.field, i.mode) for i in d.issues] == [
        ("decision_maker", GateMode.WARN),
        ("budget", GateMode.WARN),
        ("email", GateMode.AUDIT),
    ]
    assert [i.field for i in d.blocking_issues] == ["decision_maker", "budget"]


def test_audit_only_records() -> None:
    d = keeper().decide(ref("presentation"), ref("proposal"), EMPTY)
    assert (d.outcome, [i.field for i in d.blocking_issues]) == (Outcome.AUDITED, ["email"])


def test_a_field_required_by_several_stages_is_reported_once_at_the_first_with_the_strictest_mode() -> None:
    d = keeper().decide(ref("lead"), ref("presentation"), {"industry": "it"})
    budget = [i for i in d.issues if i.field == "budget"]
    assert len(budget) == 1
    assert (budget[0].stage_id, budget[0].mode) == ("qualification", GateMode.ENFORCE)


def test_the_strictest_mode_is_kept_even_when_a_later_stage_is_stricter() -> None:
    gates = (
        Gate("sales", "qualification", GateMode.AUDIT, (Requirement("email"),)),
        Gate("sales", "presentation", GateMode.WARN, (Requirement("email"),)),
        Gate("sales", "proposal", GateMode.ENFORCE, (Requirement("email"), Requirement("budget"))),
    )
    d = keeper(gates).decide(ref("lead"), ref("proposal"), EMPTY)
    assert [(i.field, i.stage_id, i.mode) for i in d.issues] == [
        ("email", "qualification", GateMode.ENFORCE),
        ("budget", "proposal", GateMode.ENFORCE),
    ]
    assert d.outcome is Outcome.BLOCKED


def test_issues_follow_stage_order_then_requirement_order() -> None:
    d = keeper().decide(None, ref("won"), {"industry": "b2b"})
    assert fields_of(d) == ["budget", "decision_maker", "company_size", "email", "contract_date"]
    assert [i.stage_id for i in d.issues] == [
        "qualification",
        "presentation",
        "presentation",
        "proposal",
        "won",
    ]


def test_several_gates_on_one_stage_all_apply_in_declaration_order() -> None:
    gates = (
        Gate("sales", "qualification", GateMode.WARN, (Requirement("email"),)),
        Gate("sales", "qualification", GateMode.ENFORCE, (Requirement("industry"),)),
    )
    d = keeper(gates).decide(ref("lead"), ref("qualification"), EMPTY)
    assert [(i.field, i.mode) for i in d.issues] == [("email", GateMode.WARN), ("industry", GateMode.ENFORCE)]
    assert d.outcome is Outcome.BLOCKED


def test_a_gate_mode_given_as_text_is_accepted() -> None:
    gates = (Gate("sales", "qualification", "warn", (Requirement("email"),)),)  # type: ignore[arg-type]
    assert keeper(gates).decide(ref("lead"), ref("qualification"), EMPTY).outcome is Outcome.WARNED


# --- requirements -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("industry", "required"), [("b2b", True), ("retail", False), (None, False), ("bank", False)]
)
def test_a_conditional_requirement_applies_only_when_its_condition_holds(
    industry: object, required: bool
) -> None:
    d = keeper().decide(ref("qualification"), ref("presentation"), {"industry": industry})
    assert ("company_size" in fields_of(d)) is required


def test_a_requirement_on_an_unconfigured_field_fails_explicitly() -> None:
    gates = (Gate("sales", "qualification", GateMode.ENFORCE, (Requirement("colour"),)),)
    d = keeper(gates).decide(ref("lead"), ref("qualification"), {"colour": "red"})
    assert d.outcome is Outcome.BLOCKED
    (issue,) = d.issues
    assert (issue.field, issue.label, issue.reason, issue.constraint) == (
        "colour",
        "colour",
        Reason.UNKNOWN_FIELD,
        None,
    )
    assert "colour" in issue.message


def test_an_invalid_value_is_reported_as_invalid_with_the_failed_constraint() -> None:
    d = keeper().decide(ref("lead"), ref("qualification"), {"industry": "bank", "budget": "500"})
    assert [(i.field, i.reason, i.constraint) for i in d.issues] == [
        ("industry", Reason.INVALID, "options"),
        ("budget", Reason.INVALID, "min"),
    ]
    assert d.invalid == d.issues and d.missing == ()
    assert d.issues[1].message == "Budget is invalid (must be at least 1000)"


def test_missing_and_invalid_are_split() -> None:
    d = keeper().decide(ref("lead"), ref("qualification"), {"budget": "cheap"})
    assert [i.field for i in d.missing] == ["industry"]
    assert [i.field for i in d.invalid] == ["budget"]


def test_issue_labels_and_messages_follow_the_language() -> None:
    d = keeper().decide(ref("lead"), ref("qualification"), EMPTY, language="ru")
    assert [i.label for i in d.issues] == ["Отрасль", "Бюджет"]
    assert d.issues[0].message == "Не заполнено поле «Отрасль»"
    assert d.message.startswith("Переход на этап «Qualification» запрещён")
    en = keeper().decide(ref("lead"), ref("qualification"), EMPTY, language="fr")
    assert en.issues[0].message == "Industry is missing"


def test_the_decision_message_names_the_target_and_the_fields() -> None:
    d = keeper().decide(ref("lead"), ref("qualification"), EMPTY)
    assert d.message == "Move to Qualification is blocked: fill 2 fields: Industry, Budget"
    assert keeper().decide(ref("won"), ref("lead"), EMPTY).message == "Move to Lead is allowed"


def test_custom_placeholders_count_as_missing() -> None:
    k = Gatekeeper([SALES], GATES, FIELDS, placeholders=frozenset({"xxx"}))
    d = k.decide(ref("lead"), ref("qualification"), {"industry": "xxx", "budget": "n/a"})
    assert [(i.field, i.reason) for i in d.issues] == [
        ("industry", Reason.MISSING),
        ("budget", Reason.INVALID),
    ]


def test_the_module_level_decide_matches_the_gatekeeper() -> None:
    args = (ref("lead"), ref("won"), {"industry": "b2b"})
    assert decide([SALES, PARTNERS], GATES, FIELDS, *args, language="ru") == keeper().decide(
        *args, language="ru"
    )


# --- construction -------------------------------------------------------------------------------


def test_gates_for_unknown_stages_are_ignored_and_listed() -> None:
    orphan = Gate("sales", "ghost", GateMode.ENFORCE, (Requirement("email"),))
    k = keeper((*GATES, orphan))
    assert k.orphan_gates == (orphan,)
    assert keeper().orphan_gates == ()


def test_duplicate_field_keys_are_rejected() -> None:
    with pytest.raises(FieldSpecError):
        keeper(fields=(*FIELDS, FieldSpec("email", "Mail", FieldType.TEXT)))


def test_an_invalid_field_definition_is_rejected() -> None:
    with pytest.raises(FieldSpecError):
        keeper(fields=(FieldSpec("Bad Key", "x", FieldType.TEXT),))


def test_duplicate_pipelines_and_stages_are_rejected() -> None:
    with pytest.raises(PipelineError):
        Gatekeeper([SALES, SALES], [], FIELDS)
    with pytest.raises(PipelineError):
        Pipeline("p", "P", (Stage("a", "A", 1), Stage("a", "Again", 2)))


def test_pipeline_stage_finds_a_stage_or_raises() -> None:
    assert SALES.stage("won").kind is StageKind.WON
    with pytest.raises(PipelineError):
        SALES.stage("ghost")


def test_fields_exposes_the_configured_specs() -> None:
    assert set(keeper().fields) == {f.key for f in FIELDS}


# --- completeness -------------------------------------------------------------------------------


def test_completeness_covers_later_stages_and_gated_lost_stages() -> None:
    stages = keeper().completeness(ref("qualification"), {"industry": "b2b", "budget": "5000"})
    assert [s.stage_id for s in stages] == ["presentation", "proposal", "won", "lost"]
    presentation, proposal, won, lost = stages
    assert (presentation.required, presentation.filled, presentation.outcome) == (3, 1, Outcome.WARNED)
    assert [i.field for i in presentation.issues] == ["decision_maker", "company_size"]
    assert (proposal.required, proposal.filled, proposal.outcome) == (4, 1, Outcome.WARNED)
    assert (won.required, won.filled, won.outcome) == (5, 1, Outcome.BLOCKED)
    assert (lost.required, lost.filled, lost.outcome, lost.label) == (1, 0, Outcome.BLOCKED, "Lost")


def test_completeness_of_a_complete_deal_is_full_everywhere() -> None:
    for stage in keeper().completeness(ref("lead"), COMPLETE):
        assert stage.required == stage.filled
        assert stage.outcome is Outcome.ALLOWED and stage.issues == ()


def test_completeness_from_a_lost_stage_covers_every_open_stage() -> None:
    stages = keeper().completeness(ref("lost"), EMPTY)
    assert [s.stage_id for s in stages] == ["lead", "qualification", "presentation", "proposal", "won"]
    assert stages[0].required == 0 and stages[0].outcome is Outcome.ALLOWED


def test_completeness_of_the_last_stage_lists_only_gated_lost_stages() -> None:
    assert [s.stage_id for s in keeper().completeness(ref("won"), EMPTY)] == ["lost"]


def test_completeness_uses_the_language() -> None:
    (lost,) = keeper().completeness(ref("won"), EMPTY, language="ru")
    assert lost.issues[0].message == "Не заполнено поле «Причина отказа»"


@pytest.mark.parametrize("current", [ref("ghost"), ref("lead", "ghost")])
def test_completeness_of_an_unknown_stage_raises(current: object) -> None:
    with pytest.raises(PipelineError):
        keeper().completeness(current, EMPTY)  # type: ignore[arg-type]


def test_completeness_agrees_with_decide() -> None:
    values = {"industry": "b2b", "email": "bad"}
    k = keeper()
    for stage in k.completeness(ref("lead"), values):
        d = k.decide(ref("lead"), ref(stage.stage_id), values)
        assert (stage.outcome, stage.issues) == (d.outcome, d.issues)


def test_partners_pipeline_is_independent() -> None:
    k = Gatekeeper([PARTNERS], GATES, FIELDS)
    assert fields_of(k.decide(ref("p1", "partners"), ref("p2", "partners"), EMPTY)) == ["industry"]
    assert len(k.orphan_gates) == 5


def test_filling_a_field_can_switch_on_a_conditional_requirement() -> None:
    # The one way filling a field adds a new issue: it makes another requirement's condition true.
    before = keeper().decide(ref("qualification"), ref("presentation"), {"decision_maker": "Ann"})
    after = keeper().decide(
        ref("qualification"), ref("presentation"), {"decision_maker": "Ann", "industry": "b2b"}
    )
    assert "company_size" not in fields_of(before)
    assert "company_size" in fields_of(after)


def test_stage_kinds_and_modes_given_as_plain_text_work() -> None:
    pipeline = Pipeline("p", "P", (Stage("a", "A", 1), Stage("x", "X", 2, "lost")))  # type: ignore[arg-type]
    k = Gatekeeper([pipeline], [Gate("p", "x", "enforce", (Requirement("loss_reason"),))], FIELDS)  # type: ignore[arg-type]
    d = k.decide(ref("a", "p"), ref("x", "p"), EMPTY)
    assert (d.direction, d.outcome) == (Direction.TO_LOST, Outcome.BLOCKED)


def test_placeholders_are_normalized_by_the_gatekeeper() -> None:
    k = Gatekeeper([SALES], GATES, FIELDS, placeholders=frozenset({" NONE "}))
    d = k.decide(ref("lead"), ref("qualification"), {"industry": "None", "budget": "2000"})
    assert [(i.field, i.reason) for i in d.missing] == [("industry", Reason.MISSING)]


def test_requirements_parse_from_and_render_to_their_json_shape() -> None:
    data = [
        {"field": "industry", "required_if": None},
        {"field": "company_size", "required_if": {"field": "industry", "op": "eq", "value": "b2b"}},
    ]
    requirements = parse_requirements(data, {"industry", "company_size"})
    assert requirements[0] == Requirement("industry")
    assert requirements_to_list(requirements) == data


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ("industry", "requirements"),
        (["industry"], "requirements[0]"),
        ([{"field": "Industry"}], "requirements[0].field"),
        ([{"field": "colour"}], "requirements[0].field"),
        ([{"field": "industry"}, {"field": "industry"}], "requirements[1].field"),
        ([{"field": "industry", "why": 1}], "requirements[0].why"),
        (
            [{"field": "industry", "required_if": {"field": "budget", "op": "??"}}],
            "requirements[0].required_if.op",
        ),
    ],
)
def test_bad_requirements_are_rejected_with_the_failing_path(data: object, path: str) -> None:
    with pytest.raises(ConditionError) as caught:
        parse_requirements(data, {"industry", "budget"})
    assert path in caught.value.errors
