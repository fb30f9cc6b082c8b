"""The pipeline board's use cases (services/board.py) on SQLite and PostgreSQL: the read model (columns in
order, required cells, what a move skipping stages needs), the preview of a proposal, and apply_board creating,
changing and removing gates all at once or not at all, keeping persona requirements."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from service.errors import InvalidInputError
from service.models import Gate, Record, Transition
from service.runtime import Runtime
from service.services.board import MAX_ROWS, apply_board, board_view, pipelines_overview, preview_board
from service.services.gate_admin import list_gates
from tests.fakes import add_connection, add_field, add_gate, add_pipeline

# Declared with won before an open stage, so the board's order (open first) differs from the declared one.
STAGES = (("new", "New", "open"), ("qualified", "Qualified", "open"), ("won", "Won", "won"),
          ("proposal", "Proposal", "open"), ("lost", "Lost", "lost"))
FIT = {"persona_id": None, "min_score": None, "not_disqualified": True}


@pytest.fixture
def sales(runtime: Runtime) -> dict[str, Any]:
    """A connection with the Sales pipeline, fields industry (enum), budget (number) and pain (text); gates:
    Qualified requires industry (enforce); Lost asks for a persona fit and pain (audit)."""
    with runtime.uow() as uow:
        session = uow.session
        connection = add_connection(session, runtime.vault)
        pipeline = add_pipeline(session, connection, "sales", "Sales", STAGES)
        add_field(session, "industry", "Industry", "enum", options=["retail", "it"])
        add_field(session, "budget", "Budget", "number", min=0)
        add_field(session, "pain", "Pain", "text")
        add_gate(session, connection, pipeline, "qualified", "enforce", ["industry"])
        add_gate(session, connection, pipeline, "lost", "audit", ["pain"], persona_requirement=FIT)
        ids = {s.external_id: s.id for s in pipeline.stages}
        uow.commit()
        return {"connection_id": connection.id, "pipeline_id": pipeline.id, "stage": ids}


def gates(runtime: Runtime, connection_id: int) -> dict[str, dict[str, Any]]:
    """The connection's gates by stage id, as GET /v1/gates shows them (without timestamps)."""
    items = list_gates(runtime, connection_id, 1, 100)["items"]
    return {g["stage"]: {k: g[k] for k in ("id", "mode", "requirements", "persona_requirement")} for g in items}


def column(board: dict[str, Any], stage_id: int) -> dict[str, Any]:
    return next(s for s in board["stages"] if s["id"] == stage_id)


def test_given_a_pipeline_then_the_board_has_open_stages_then_closed_ones_every_field_and_the_required_cells(
        runtime: Runtime, sales: dict[str, Any]) -> None:
    board = board_view(runtime, sales["pipeline_id"])

    assert [s["external_id"] for s in board["stages"]] == ["new", "qualified", "proposal", "won", "lost"]
    assert [f["key"] for f in board["fields"]] == ["industry", "budget", "pain"]
    qualified = column(board, sales["stage"]["qualified"])
    assert (qualified["mode"], qualified["required"]) == ("enforce", {"industry": {"kind": "none"}})
    assert column(board, sales["stage"]["new"])["mode"] == "audit"  # a stage without a gate starts in audit
    assert column(board, sales["stage"]["lost"])["persona_requirement"] == FIT
    overview = [p for p in pipelines_overview(runtime) if p["id"] == sales["pipeline_id"]]
    assert [(p["label"], p["stages"], p["gates"]) for p in overview] == [("Sales", len(STAGES), 2)]


def test_given_gates_on_earlier_stages_then_a_cell_shows_what_a_move_skipping_them_needs(
        runtime: Runtime, sales: dict[str, Any]) -> None:
    stage = sales["stage"]
    proposal = {"stages": {stage["proposal"]: {"mode": "warn", "requirements": [{"field": "budget"}]}}}

    board = board_view(runtime, sales["pipeline_id"], proposal=proposal)

    # In declared order, entering Proposal passes New, Qualified and Won; entering Won passes New and Qualified;
    # a lost stage needs only its own gate.
    assert column(board, stage["proposal"])["via"] == {"industry": "Qualified"}
    assert column(board, stage["proposal"])["needs"] == 2
    assert column(board, stage["won"])["via"] == {"industry": "Qualified"}
    assert column(board, stage["new"])["via"] == {}
    assert (column(board, stage["lost"])["via"], column(board, stage["lost"])["needs"]) == ({}, 1)
    assert gates(runtime, sales["connection_id"]).keys() == {"qualified", "lost"}  # nothing stored


def test_given_ticked_cells_and_modes_then_apply_creates_changes_and_removes_gates(
        runtime: Runtime, sales: dict[str, Any]) -> None:
    stage, before = sales["stage"], gates(runtime, sales["connection_id"])
    proposal = {"stages": {
        stage["new"]: {"mode": "warn", "requirements": [{"field": "pain"}]},  # ticked: a new gate
        stage["qualified"]: {"mode": "audit", "requirements": []},  # all unticked, no fit: removed
        stage["proposal"]: {"mode": "enforce", "requirements": []},  # nothing ticked, no gate: nothing
        stage["lost"]: {"mode": "enforce", "requirements": [{"field": "pain"}]},  # mode changed
    }}

    summary = apply_board(runtime, sales["pipeline_id"], proposal)

    after = gates(runtime, sales["connection_id"])
    assert summary == {"created": ["New"], "changed": ["Lost"], "removed": ["Qualified"], "unchanged": 0}
    assert after.keys() == {"new", "lost"}
    assert (after["new"]["mode"], after["new"]["requirements"]) == ("warn", [{"field": "pain", "required_if": None}])
    stored_form = [{"field": "pain", "required_if": None}]
    assert after["lost"] == {**before["lost"], "mode": "enforce", "requirements": stored_form}
    again = apply_board(runtime, sales["pipeline_id"], proposal)
    assert again == {"created": [], "changed": [], "removed": [], "unchanged": 2}


def test_given_a_condition_typed_in_a_cell_then_it_is_stored_as_the_required_if_of_the_field_type(
        runtime: Runtime, sales: dict[str, Any]) -> None:
    stage = sales["stage"]
    proposal = {"stages": {stage["qualified"]: {"mode": "enforce", "requirements": [
        {"field": "industry"},
        {"field": "budget", "when": {"field": "industry", "op": "in", "value": " retail, it "}},
        {"field": "pain", "when": {"field": "budget", "op": "gte", "value": "1000"}}]}}}

    apply_board(runtime, sales["pipeline_id"], proposal)

    assert gates(runtime, sales["connection_id"])["qualified"]["requirements"] == [
        {"field": "industry", "required_if": None},
        {"field": "budget", "required_if": {"field": "industry", "op": "in", "value": ["retail", "it"]}},
        {"field": "pain", "required_if": {"field": "budget", "op": "gte", "value": 1000}}]
    cell = column(board_view(runtime, sales["pipeline_id"]), stage["qualified"])["required"]["budget"]
    assert cell == {"kind": "comparisons", "join": "all",
                    "rows": [{"field": "industry", "op": "in", "value": "retail, it"}]}


def test_given_comparisons_joined_by_any_of_then_stored_in_the_condition_format_and_shown_as_rows(
        runtime: Runtime, sales: dict[str, Any]) -> None:
    stage = sales["stage"]
    rows = [{"field": "industry", "op": "eq", "value": "it"}, {"field": "budget", "op": "gt", "value": " 500 "},
            {"field": "pain", "op": "filled", "value": "ignored"}]
    proposal = {"stages": {stage["qualified"]: {"mode": "enforce", "requirements": [
        {"field": "industry"}, {"field": "pain", "when": {"join": "any", "rows": rows}}]}}}

    summary = apply_board(runtime, sales["pipeline_id"], proposal)

    stored = gates(runtime, sales["connection_id"])["qualified"]["requirements"]
    assert summary["changed"] == ["Qualified"]
    assert stored == [{"field": "industry", "required_if": None}, {"field": "pain", "required_if": {"any": [
        {"field": "industry", "op": "eq", "value": "it"}, {"field": "budget", "op": "gt", "value": 500},
        {"field": "pain", "op": "filled"}]}}]
    cell = column(board_view(runtime, sales["pipeline_id"]), stage["qualified"])["required"]["pain"]
    assert cell == {"kind": "comparisons", "join": "any", "rows": [
        {"field": "industry", "op": "eq", "value": "it"}, {"field": "budget", "op": "gt", "value": "500"},
        {"field": "pain", "op": "filled", "value": ""}]}
    # The rows posted back as shown change nothing.
    again = {"stages": {stage["qualified"]: {"mode": "enforce", "requirements": [
        {"field": "industry"}, {"field": "pain", "when": {"join": cell["join"], "rows": cell["rows"]}}]}}}
    assert apply_board(runtime, sales["pipeline_id"], again)["unchanged"] == 1


def test_given_one_row_or_none_then_stored_as_one_comparison_or_no_condition(
        runtime: Runtime, sales: dict[str, Any]) -> None:
    stage = sales["stage"]
    proposal = {"stages": {stage["new"]: {"mode": "audit", "requirements": [
        {"field": "budget", "when": {"join": "any", "rows": [{"field": "industry", "op": "ne", "value": "it"}]}},
        {"field": "pain", "when": {"join": "all", "rows": []}}]}}}

    apply_board(runtime, sales["pipeline_id"], proposal)

    assert gates(runtime, sales["connection_id"])["new"]["requirements"] == [
        {"field": "budget", "required_if": {"field": "industry", "op": "ne", "value": "it"}},
        {"field": "pain", "required_if": None}]


def test_given_a_bad_comparison_among_several_then_refused_as_by_the_api_and_nothing_saved(
        runtime: Runtime, sales: dict[str, Any]) -> None:
    stage, before = sales["stage"], gates(runtime, sales["connection_id"])
    for rows, path in (
            ([{"field": "industry", "op": "eq", "value": "it"}, {"field": "no_such", "op": "filled"}], "any[1]"),
            ([{"field": "budget", "op": "gte", "value": "lots"}, {"field": "industry", "op": "in", "value": "x"}],
             "any[")):
        proposal = {"stages": {stage["new"]: {"mode": "warn", "requirements": [
            {"field": "pain", "when": {"join": "any", "rows": rows}}]}}}
        with pytest.raises(InvalidInputError) as raised:
            apply_board(runtime, sales["pipeline_id"], proposal)
        assert any(path in key for key in raised.value.errors or {}), raised.value.errors
        with pytest.raises(InvalidInputError):
            preview_board(runtime, sales["pipeline_id"], proposal)
    bad_join = {"stages": {stage["new"]: {"mode": "warn", "requirements": [{"field": "pain", "when": {
        "join": "either", "rows": [{"field": "industry", "op": "filled"}]}}]}}}
    with pytest.raises(InvalidInputError):
        apply_board(runtime, sales["pipeline_id"], bad_join)
    assert gates(runtime, sales["connection_id"]) == before


def test_given_a_nested_condition_then_the_board_shows_it_as_text_and_keeps_it(
        runtime: Runtime, sales: dict[str, Any]) -> None:
    nested = {"all": [{"any": [{"field": "industry", "op": "eq", "value": "it"}, {"field": "budget", "op": "filled"}]},
                      {"field": "budget", "op": "gt", "value": 10}]}
    with runtime.uow() as uow:
        gate = uow.session.get_one(Gate, gates(runtime, sales["connection_id"])["qualified"]["id"])
        gate.requirements = [{"field": "pain", "required_if": nested}]
        uow.commit()

    cell = column(board_view(runtime, sales["pipeline_id"]), sales["stage"]["qualified"])["required"]["pain"]

    assert cell["kind"] == "complex" and json.loads(cell["value"]) == nested
    kept = {"stages": {sales["stage"]["qualified"]: {"mode": "enforce", "requirements": [
        {"field": "pain", "required_if": json.loads(cell["value"])}]}}}
    assert apply_board(runtime, sales["pipeline_id"], kept)["unchanged"] == 1
    assert gates(runtime, sales["connection_id"])["qualified"]["requirements"] == [
        {"field": "pain", "required_if": nested}]


@pytest.mark.parametrize("stored", [
    {"any": [{"field": "budget", "op": "gt", "value": n} for n in range(MAX_ROWS + 2)]},  # more rows than the form
    {"all": [{"field": "budget", "op": "gt", "value": 10}]},  # one comparison wrapped: the form would unwrap it
], ids=["longer-than-the-form", "one-wrapped"])
def test_given_a_list_the_rows_cannot_give_back_as_stored_then_it_is_shown_as_text_and_kept(
        runtime: Runtime, sales: dict[str, Any], stored: dict[str, Any]) -> None:
    with runtime.uow() as uow:
        gate = uow.session.get_one(Gate, gates(runtime, sales["connection_id"])["qualified"]["id"])
        gate.requirements = [{"field": "pain", "required_if": stored}]
        uow.commit()

    cell = column(board_view(runtime, sales["pipeline_id"]), sales["stage"]["qualified"])["required"]["pain"]

    assert cell["kind"] == "complex" and json.loads(cell["value"]) == stored
    kept = {"stages": {sales["stage"]["qualified"]: {"mode": "enforce", "requirements": [
        {"field": "pain", "required_if": json.loads(cell["value"])}]}}}
    assert apply_board(runtime, sales["pipeline_id"], kept)["unchanged"] == 1
    assert gates(runtime, sales["connection_id"])["qualified"]["requirements"] == [
        {"field": "pain", "required_if": stored}]


def test_given_an_unknown_field_in_one_stage_then_nothing_is_saved(runtime: Runtime, sales: dict[str, Any]) -> None:
    stage, before = sales["stage"], gates(runtime, sales["connection_id"])
    proposal = {"stages": {
        stage["new"]: {"mode": "warn", "requirements": [{"field": "pain"}]},
        stage["qualified"]: {"mode": "audit", "requirements": []},
        stage["proposal"]: {"mode": "enforce", "requirements": [{"field": "no_such_field"}]}}}

    with pytest.raises(InvalidInputError) as raised:
        apply_board(runtime, sales["pipeline_id"], proposal)

    assert any("no_such_field" in " ".join(m) for m in (raised.value.errors or {}).values()), raised.value.errors
    assert gates(runtime, sales["connection_id"]) == before


def test_given_a_stage_of_another_pipeline_or_a_bad_mode_then_refused(runtime: Runtime, sales: dict[str, Any]) -> None:
    stage, before = sales["stage"], gates(runtime, sales["connection_id"])
    for proposal in ({"stages": {stage["new"] + 1000: {"mode": "warn", "requirements": [{"field": "pain"}]}}},
                     {"stages": {stage["new"]: {"mode": "block", "requirements": [{"field": "pain"}]}}}):
        with pytest.raises(InvalidInputError):
            apply_board(runtime, sales["pipeline_id"], proposal)
    assert gates(runtime, sales["connection_id"]) == before


def test_given_a_gate_with_a_persona_fit_when_its_fields_are_unticked_then_the_gate_and_fit_stay(
        runtime: Runtime, sales: dict[str, Any]) -> None:
    before = gates(runtime, sales["connection_id"])["lost"]

    summary = apply_board(runtime, sales["pipeline_id"],
                          {"stages": {sales["stage"]["lost"]: {"mode": "audit", "requirements": []}}})

    after = gates(runtime, sales["connection_id"])["lost"]
    assert summary["changed"] == ["Lost"]
    assert after == {**before, "requirements": []}
    assert after["persona_requirement"] == FIT


def test_given_open_deals_then_the_preview_counts_those_a_proposal_would_block(
        runtime: Runtime, sales: dict[str, Any]) -> None:
    deals = {"a": {"budget": 10}, "b": {}, "c": {"budget": 20, "industry": "it"}}
    with runtime.uow() as uow:
        for external_id, values in deals.items():
            uow.session.add(Record(connection_id=sales["connection_id"], external_id=external_id, kind="deal",
                                   pipeline_external_id="sales", stage_external_id="new", values=values, version=1))
        uow.commit()
    proposal = {"stages": {sales["stage"]["proposal"]: {"mode": "audit", "requirements": [{"field": "budget"}]}}}

    result = preview_board(runtime, sales["pipeline_id"], proposal)

    # From New to Proposal the move passes Qualified (industry) and Proposal (budget), all enforced in a preview.
    blocked = [k for k, v in deals.items() if not {"industry", "budget"} <= v.keys()]
    stages = {s["stage"]: s for s in result["preview"]["open_deals"]["stages"]}
    assert (stages["proposal"]["would_block"], stages["proposal"]["of"]) == (len(blocked), len(deals))
    assert column(result["board"], sales["stage"]["proposal"])["required"] == {"budget": {"kind": "none"}}
    assert "proposal" not in gates(runtime, sales["connection_id"])


def test_given_recorded_moves_then_the_preview_replays_the_chosen_days_by_owner_and_stage(
        runtime: Runtime, sales: dict[str, Any]) -> None:
    # Moves from New into Proposal; a move replays as blocked when budget (required at Proposal) is unfilled.
    # (deal values, owner, decision then, days ago)
    moves = [({"budget": 5}, "71", "allowed", 3), ({}, "71", "allowed", 10), ({}, "72", "allowed", 20),
             ({}, "72", "blocked", 5), ({}, "71", "allowed", 45)]
    days = 30
    with runtime.uow() as uow:
        now = runtime.clock()
        for i, (values, owner, decision, ago) in enumerate(moves):
            record = Record(connection_id=sales["connection_id"], external_id=f"m{i}", kind="deal",
                            pipeline_external_id="sales", stage_external_id="proposal",
                            values={"industry": "it", **values}, version=1)
            uow.session.add(record)
            uow.session.flush()
            uow.session.add(Transition(connection_id=sales["connection_id"], record_id=record.id,
                                       from_pipeline="sales", from_stage="qualified", to_pipeline="sales",
                                       to_stage="proposal", occurred_at=now - timedelta(days=ago), owner_id=owner,
                                       source="webhook", direction="forward", decision=decision, issues=[]))
        uow.commit()
    proposal = {"stages": {sales["stage"]["proposal"]: {"mode": "audit", "requirements": [{"field": "budget"}]}}}

    replay = preview_board(runtime, sales["pipeline_id"], proposal, days=days)["preview"]["replay"]

    recent = [m for m in moves if m[3] <= days]
    would = [m for m in recent if m[2] != "blocked" and "budget" not in m[0]]
    assert (replay["days"], replay["moves"], replay["would_block"]) == (days, len(recent), len(would))
    assert [(s["stage"], s["moves"], s["would_block"]) for s in replay["by_stage"]] == [
        ("proposal", len(recent), len(would))]
    assert {o["owner_id"]: (o["moves"], o["would_block"]) for o in replay["by_owner"]} == {
        owner: (sum(1 for m in recent if m[1] == owner), sum(1 for m in would if m[1] == owner))
        for owner in {m[1] for m in recent}}
    with pytest.raises(InvalidInputError):
        preview_board(runtime, sales["pipeline_id"], proposal, days=0)
