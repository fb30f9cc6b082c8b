"""Properties of gating over random pipelines, gates and values (hypothesis)."""

from __future__ import annotations

from decimal import Decimal
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from service.domain.conditions import AllOf, AnyOf, Comparison, Condition
from service.domain.fields import Constraints, FieldSpec, FieldType
from service.domain.gating import Gatekeeper
from service.domain.issues import Decision, Outcome, Reason
from service.domain.pipeline import Direction, Gate, GateMode, Pipeline, Requirement, Stage, StageKind, StageRef

# The same examples every run: a rare slow draw never turns CI red by chance.
PROPERTY = settings(max_examples=200, deadline=None, derandomize=True)

SPECS = (
    FieldSpec("industry", "Industry", FieldType.ENUM, Constraints(options=("retail", "b2b", "it"))),
    FieldSpec("budget", "Budget", FieldType.MONEY, Constraints(min=Decimal(1000))),
    FieldSpec("size", "Size", FieldType.INTEGER),
    FieldSpec("city", "City", FieldType.TEXT, Constraints(min_length=2)),
    FieldSpec("vip", "VIP", FieldType.BOOLEAN),
    FieldSpec("deadline", "Deadline", FieldType.DATE),
    FieldSpec("channels", "Channels", FieldType.MULTI_ENUM, Constraints(options=("web", "phone"))),
    FieldSpec("email", "Email", FieldType.EMAIL),
)
KEYS = [s.key for s in SPECS]
VALID = {
    "industry": "retail",
    "budget": "5000",
    "size": 3,
    "city": "Kyiv",
    "vip": False,
    "deadline": "2024-05-01",
    "channels": ["web"],
    "email": "a@b.co",
}
RAW = {
    "industry": st.sampled_from(["retail", "b2b", "it", None, "", "n/a", "bank", 5]),
    "budget": st.one_of(st.integers(-10, 10**7), st.sampled_from([None, "", "tbd", "abc", "1500.50", "999"])),
    "size": st.one_of(st.integers(-5, 500), st.sampled_from([None, "1.5", "12", " "])),
    "city": st.one_of(st.none(), st.text(max_size=4)),
    "vip": st.sampled_from([True, False, "yes", "no", None, "maybe"]),
    "deadline": st.sampled_from(["2024-05-01", "1714521600000", None, "2024-02-30", "", "2023-12-31"]),
    "channels": st.one_of(
        st.lists(st.sampled_from(["web", "phone", "fax"]), max_size=3),
        st.sampled_from(["web;phone", "", None]),
    ),
    "email": st.sampled_from(["a@b.co", "bad", None, "?"]),
}
_LEAVES: list[Condition] = [
    Comparison("industry", "eq", "b2b"),
    Comparison("industry", "in", ("retail", "it")),
    Comparison("budget", "gte", 5000),
    Comparison("vip", "eq", True),
    Comparison("vip", "ne", True),
    Comparison("channels", "in", ("web",)),
    Comparison("deadline", "lt", "2024-06-01"),
    Comparison("city", "filled"),
    Comparison("size", "empty"),
    Comparison("ghost", "empty"),
]
# A fixed pool of leaves and two-level trees: sampling from it is much cheaper than st.recursive.
_POOL: list[Condition] = [
    *_LEAVES,
    AllOf(()),
    AnyOf(()),
    *(AllOf((a, b)) for a, b in zip(_LEAVES, _LEAVES[3:], strict=False)),
    *(AnyOf((a, b)) for a, b in zip(_LEAVES, _LEAVES[5:], strict=False)),
    AnyOf((AllOf((_LEAVES[0], _LEAVES[2])), AllOf((_LEAVES[3], _LEAVES[7])))),
]
CONDITIONS = st.sampled_from(_POOL)
VALUES = st.fixed_dictionaries({}, optional=RAW)

RANK = {Outcome.ALLOWED: 0, Outcome.AUDITED: 1, Outcome.WARNED: 2, Outcome.BLOCKED: 3}
MODE_RANK = {GateMode.AUDIT: 1, GateMode.WARN: 2, GateMode.ENFORCE: 3}


# Strategies are built once: constructing them inside draws costs more than the tests themselves.
STAGES = st.lists(
    st.tuples(st.sampled_from([StageKind.OPEN] * 3 + [StageKind.WON, StageKind.LOST]), st.integers(0, 50)),
    min_size=2,
    max_size=7,
    unique_by=lambda kind_order: kind_order[1],  # distinct orders, drawn in random (declaration) order
)
GATE_COUNT = st.integers(0, 2)
GATE_KEYS = st.lists(st.sampled_from([*KEYS, "ghost"]), max_size=4, unique=True)
MAYBE_CONDITION = st.one_of(st.none(), CONDITIONS)
MODES = st.sampled_from(list(GateMode))
INDEX = st.integers(0, 1000)


@st.composite
def configs(draw: st.DrawFn, conditional: bool = True) -> tuple[Pipeline, list[Gate]]:
    stages = tuple(Stage(f"s{i}", f"S{i}", order, kind) for i, (kind, order) in enumerate(draw(STAGES)))
    gates: list[Gate] = []
    for stage in stages:
        for _ in range(draw(GATE_COUNT)):
            requirements = tuple(
                Requirement(key, draw(MAYBE_CONDITION) if conditional else None) for key in draw(GATE_KEYS)
            )
            gates.append(Gate("p", stage.id, draw(MODES), requirements))
    return Pipeline("p", "P", stages), gates


def pick(data: st.DataObject, items: list[Stage] | tuple[Stage, ...]) -> Stage:
    return items[data.draw(INDEX) % len(items)]


def two_positions(data: st.DataObject, count: int) -> tuple[int, int] | None:
    """Two distinct sorted positions below ``count`` (None when impossible or drawn equal)."""
    i, j = data.draw(INDEX) % count, data.draw(INDEX) % count
    return None if i == j else (min(i, j), max(i, j))


def maybe_ref(data: st.DataObject, pipeline: Pipeline) -> StageRef | None:
    return None if data.draw(INDEX) % 4 == 0 else ref(pick(data, pipeline.stages))


def open_positions(pipeline: Pipeline) -> list[Stage]:
    return [s for s in pipeline.ordered_stages if s.kind is not StageKind.LOST]


def earlier_and_later(data: st.DataObject, pipeline: Pipeline) -> tuple[list[Stage], int, int] | None:
    """The pipeline's open/won stages and two drawn positions i < j in them (None when impossible)."""
    stages = open_positions(pipeline)
    positions = two_positions(data, len(stages)) if len(stages) >= 2 else None
    return None if positions is None else (stages, *positions)


def ref(stage: Stage) -> StageRef:
    return StageRef("p", stage.id)


def rank(decision: Decision) -> int:
    return RANK[decision.outcome]


@PROPERTY
@given(configs(), VALUES, st.data())
def test_backward_moves_are_always_allowed(
    config: tuple[Pipeline, list[Gate]], values: dict[str, object], data: st.DataObject
) -> None:
    pipeline, gates = config
    drawn = earlier_and_later(data, pipeline)
    if drawn is None:
        return
    stages, i, j = drawn
    d = Gatekeeper([pipeline], gates, SPECS).decide(ref(stages[j]), ref(stages[i]), values)
    assert (d.outcome, d.direction, d.issues, d.gated_stages) == (Outcome.ALLOWED, Direction.BACKWARD, (), ())


@PROPERTY
@given(configs(), VALUES, st.data())
def test_staying_put_is_always_allowed(
    config: tuple[Pipeline, list[Gate]], values: dict[str, object], data: st.DataObject
) -> None:
    pipeline, gates = config
    stage = pick(data, pipeline.stages)
    d = Gatekeeper([pipeline], gates, SPECS).decide(ref(stage), ref(stage), values)
    assert (d.outcome, d.direction, d.issues) == (Outcome.ALLOWED, Direction.SAME, ())


@PROPERTY
@given(configs(), VALUES, st.data())
def test_a_skip_fails_exactly_the_fields_of_the_stepwise_path(
    config: tuple[Pipeline, list[Gate]], values: dict[str, object], data: st.DataObject
) -> None:
    pipeline, gates = config
    drawn = earlier_and_later(data, pipeline)
    if drawn is None:
        return
    stages, i, j = drawn
    keeper = Gatekeeper([pipeline], gates, SPECS)
    direct = keeper.decide(ref(stages[i]), ref(stages[j]), values)
    steps = [keeper.decide(ref(a), ref(b), values) for a, b in pairwise(stages[i : j + 1])]
    step_pairs = {(issue.stage_id, issue.field) for step in steps for issue in step.issues}
    direct_pairs = {(issue.stage_id, issue.field) for issue in direct.issues}
    # Same failing fields; each reported at the first stage that needs it, with the strictest mode.
    assert {f for _, f in direct_pairs} == {f for _, f in step_pairs}
    assert direct_pairs <= step_pairs
    position = {s.id: n for n, s in enumerate(pipeline.ordered_stages)}
    for issue in direct.issues:
        same_field = [x for step in steps for x in step.issues if x.field == issue.field]
        assert issue.stage_id == min((x.stage_id for x in same_field), key=position.__getitem__)
        assert MODE_RANK[issue.mode] == max(MODE_RANK[x.mode] for x in same_field)
        assert {x.reason for x in same_field} == {issue.reason}
    assert rank(direct) == max(rank(step) for step in steps)
    assert len(direct.issues) >= max(len(step.issues) for step in steps)
    assert direct.gated_stages == tuple(s.id for s in stages[i + 1 : j + 1])


@PROPERTY
@given(configs(), VALUES, st.data())
def test_entering_equals_walking_from_the_first_stage(
    config: tuple[Pipeline, list[Gate]], values: dict[str, object], data: st.DataObject
) -> None:
    pipeline, gates = config
    stages = open_positions(pipeline)
    if not stages:
        return
    j = data.draw(INDEX) % len(stages)
    keeper = Gatekeeper([pipeline], gates, SPECS)
    entered = keeper.decide(None, ref(stages[j]), values)
    walk = [keeper.decide(None, ref(stages[0]), values)]
    walk += [keeper.decide(ref(a), ref(b), values) for a, b in pairwise(stages[: j + 1])]
    assert {i.field for i in entered.issues} == {i.field for step in walk for i in step.issues}
    assert rank(entered) == max(rank(step) for step in walk)
    assert entered.direction is Direction.ENTER


@PROPERTY
@given(configs(), VALUES, st.data())
def test_moving_to_a_lost_stage_checks_only_its_own_gates(
    config: tuple[Pipeline, list[Gate]], values: dict[str, object], data: st.DataObject
) -> None:
    pipeline, gates = config
    lost = [s for s in pipeline.stages if s.kind is StageKind.LOST]
    if not lost:
        return
    target = pick(data, lost)
    source = maybe_ref(data, pipeline)
    if source == ref(target):
        return
    keeper = Gatekeeper([pipeline], gates, SPECS)
    d = keeper.decide(source, ref(target), values)
    own = Gatekeeper([pipeline], [g for g in gates if g.stage_id == target.id], SPECS)
    assert d == own.decide(None, ref(target), values)
    assert (d.direction, d.gated_stages) == (Direction.TO_LOST, (target.id,))


@PROPERTY
@given(configs(conditional=False), VALUES, st.data())
def test_filling_a_missing_required_field_never_adds_a_missing_field(
    config: tuple[Pipeline, list[Gate]], values: dict[str, object], data: st.DataObject
) -> None:
    pipeline, gates = config
    keeper = Gatekeeper([pipeline], gates, SPECS)
    source = maybe_ref(data, pipeline)
    target = ref(pick(data, pipeline.stages))
    before = keeper.decide(source, target, values)
    fillable = [i.field for i in before.missing if i.field in VALID]
    if not fillable:
        return
    field = fillable[data.draw(INDEX) % len(fillable)]
    after = keeper.decide(source, target, {**values, field: VALID[field]})
    assert {i.field for i in after.missing} <= {i.field for i in before.missing} - {field}
    assert {i.field for i in after.issues} <= {i.field for i in before.issues} - {field}
    assert rank(after) <= rank(before)


@PROPERTY
@given(configs(), VALUES, st.data())
def test_decide_is_deterministic_and_independent_of_input_order(
    config: tuple[Pipeline, list[Gate]], values: dict[str, object], data: st.DataObject
) -> None:
    pipeline, gates = config
    source = maybe_ref(data, pipeline)
    target = ref(pick(data, pipeline.stages))
    keeper = Gatekeeper([pipeline], gates, SPECS)
    first = keeper.decide(source, target, values, "ru")
    assert keeper.decide(source, target, values, "ru") == first
    shuffled = Gatekeeper([pipeline], gates, list(reversed(SPECS)))
    assert shuffled.decide(source, target, dict(reversed(list(values.items()))), "ru") == first


@PROPERTY
@given(configs(), VALUES, st.data())
def test_the_outcome_is_the_strictest_mode_among_the_issues(
    config: tuple[Pipeline, list[Gate]], values: dict[str, object], data: st.DataObject
) -> None:
    pipeline, gates = config
    source = maybe_ref(data, pipeline)
    d = Gatekeeper([pipeline], gates, SPECS).decide(source, ref(pick(data, pipeline.stages)), values)
    modes = {i.mode for i in d.issues}
    expected = (
        Outcome.BLOCKED
        if GateMode.ENFORCE in modes
        else Outcome.WARNED
        if GateMode.WARN in modes
        else Outcome.AUDITED
        if modes
        else Outcome.ALLOWED
    )
    assert d.outcome is expected
    assert len({i.field for i in d.issues}) == len(d.issues)
    assert bool(d.blocking_issues) is (d.outcome is not Outcome.ALLOWED)
    assert all(i.reason is Reason.UNKNOWN_FIELD for i in d.issues if i.field == "ghost")
    assert set(d.missing) | set(d.invalid) == {i for i in d.issues if i.reason is not Reason.UNKNOWN_FIELD}


@PROPERTY
@given(configs(), VALUES, st.data())
def test_completeness_agrees_with_decide_for_every_listed_stage(
    config: tuple[Pipeline, list[Gate]], values: dict[str, object], data: st.DataObject
) -> None:
    pipeline, gates = config
    keeper = Gatekeeper([pipeline], gates, SPECS)
    current = ref(pick(data, pipeline.stages))
    for stage in keeper.completeness(current, values):
        d = keeper.decide(current, StageRef("p", stage.stage_id), values)
        assert (stage.outcome, stage.issues) == (d.outcome, d.issues)
        assert 0 <= stage.filled <= stage.required
        assert stage.required - stage.filled == len(stage.issues)
