"""The pipeline board in a browser: an admin ticks a cell, sets the gate's mode and a condition, previews what
the proposal would block among the open deals and among the recorded moves of the chosen days (by owner and by
stage), saves it and finds the gate in GET /v1/gates; a condition of two comparisons joined by "any of" is
stored in the condition format and gates POST /v1/gate/check; the page in Russian; managers refused. Expected
counts come from a small model of the gating rules over the deals and moves set up here."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from service import create_app
from service.models import Pipeline, Record, Transition
from service.services.gate_admin import list_gates
from tests.conftest import make_key
from tests.e2e.browser.conftest import Web, new_page, shot, sign_in
from tests.fakes import add_connection, add_field, add_gate, add_pipeline

OPEN = ("new", "qualified", "proposal")
STAGES = (("new", "New", "open"), ("qualified", "Qualified", "open"), ("proposal", "Proposal", "open"),
          ("won", "Won", "won"), ("lost", "Lost", "lost"))
DEALS = {"b1": ("new", {"board_industry": "retail", "board_budget": 100}), "b2": ("new", {"board_industry": "retail"}),
         "b3": ("new", {}), "b4": ("qualified", {"board_industry": "it"})}
CSRF = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')
Rule = dict[str, list[tuple[str, Callable[[dict[str, Any]], bool]]]]


def signed_in_client(web: Web, role: str) -> tuple[Any, str]:
    """A Flask test client signed in with a new key of `role`, and its session's CSRF token."""
    app = create_app(web.runtime.settings, runtime=web.runtime)
    app.testing = True
    client = app.test_client()
    token = CSRF.search(client.get("/signin").get_data(as_text=True))
    assert token
    assert client.post("/signin", data={"csrf_token": token.group(1), "api_key": make_key(web.runtime, role)}
                       ).status_code == 302
    token = CSRF.search(client.get("/").get_data(as_text=True))
    assert token
    return client, token.group(1)


def of(counts: tuple[int, int]) -> str:
    """How the preview writes n of m."""
    return f"{counts[0]} of {counts[1]}"


def always(values: dict[str, Any]) -> bool:
    return True


def blocked(rules: Rule, target: str) -> tuple[int, int]:
    """The model: an open deal before `target` moving into it passes the gates of every stage after its own up
    to the target; it is blocked when a field required there (its condition holding) is not filled."""
    checked = [(stage, values) for stage, values in DEALS.values() if OPEN.index(stage) < OPEN.index(target)]
    count = 0
    for stage, values in checked:
        passed = OPEN[OPEN.index(stage) + 1:OPEN.index(target) + 1]
        if any(values.get(f) is None for s in passed for f, when in rules.get(s, []) if when(values)):
            count += 1
    return count, len(checked)


@pytest.fixture(scope="module")
def board(web: Web) -> dict[str, Any]:
    """A connection with the "Board sales" pipeline, fields Board industry and Board budget, a gate on Qualified
    requiring the industry, and four open deals."""
    with web.runtime.uow() as uow:
        session = uow.session
        connection = add_connection(session, web.runtime.vault)
        connection.name = "Board CRM"
        pipeline = add_pipeline(session, connection, "board", "Board sales", STAGES)
        add_field(session, "board_industry", "Board industry", "enum", options=["retail", "it"])
        add_field(session, "board_budget", "Board budget", "number")
        add_gate(session, connection, pipeline, "qualified", "enforce", ["board_industry"])
        for external_id, (stage, values) in DEALS.items():
            session.add(Record(connection_id=connection.id, external_id=external_id, kind="deal",
                               pipeline_external_id="board", stage_external_id=stage, values=values, version=1))
        uow.commit()
        return {"connection_id": connection.id, "pipeline_id": pipeline.id}


def test_given_a_pipeline_when_the_admin_ticks_previews_and_saves_then_the_gate_exists(
        page: Any, web: Web, board: dict[str, Any]) -> None:
    key = web.key("admin")
    sign_in(page, key)
    page.get_by_role("link", name="Pipelines").click()
    row = page.locator(f"#pipeline-{board['pipeline_id']}")
    assert row.locator("td.count").all_inner_texts() == [str(len(STAGES)), "1"]
    row.get_by_role("link", name="Board sales").click()
    assert page.locator("h1").inner_text() == "Board of Board sales"
    assert page.get_by_label("Board industry required at Qualified").is_checked()
    page.get_by_label("Board budget required at Proposal").check()
    page.get_by_label("Gate mode at Proposal").select_option("warn")
    shot(page, "admin-board", full_page=True)

    page.get_by_role("button", name="Preview").click()
    rules: Rule = {"qualified": [("board_industry", always)], "proposal": [("board_budget", always)]}
    stages = page.locator("#preview-stages")
    for stage in ("proposal", "qualified"):
        assert stages.locator(f"tr[data-stage={stage}] td.count").inner_text() == of(blocked(rules, stage))
    assert "proposal" not in {g["stage"] for g in list_gates(web.runtime, board["connection_id"], 1, 50)["items"]}

    # The ticked cell can now take a condition: the budget only for IT companies.
    cell = page.locator("#field-board_budget td.required")
    cell.locator("summary").click()
    cell.get_by_label("Condition 1 field for Board budget at Proposal").select_option("board_industry")
    cell.get_by_label("Condition 1 operator for Board budget at Proposal").select_option("in")
    cell.get_by_label("Condition 1 value for Board budget at Proposal").fill("it")
    page.get_by_role("button", name="Preview").click()
    rules["proposal"] = [("board_budget", lambda values: values.get("board_industry") in ("it",))]
    expected = blocked(rules, "proposal")
    assert page.locator("#preview-stages tr[data-stage=proposal] td.count").inner_text() == of(expected)
    assert page.locator("#preview-open").inner_text() == f"Open deals blocked on their next move: {of(expected)}"
    shot(page, "admin-board-preview", full_page=True)

    page.get_by_role("button", name="Save these gates").click()
    assert page.locator(".flash").inner_text().startswith("The gates are saved: 1 created, 0 changed, 0 removed")
    answer = page.request.get(f"/v1/gates?connection_id={board['connection_id']}",
                              headers={"Authorization": f"Bearer {key}"})
    saved = {g["stage"]: g for g in answer.json()["items"]}
    assert (saved["proposal"]["mode"], saved["proposal"]["requirements"]) == ("warn", [
        {"field": "board_budget", "required_if": {"field": "board_industry", "op": "in", "value": ["it"]}}])
    assert saved["qualified"]["mode"] == "enforce"
    assert page.get_by_label("Board budget required at Proposal").is_checked()


def test_given_russian_chosen_then_the_board_is_russian(browser: Any, web: Web, board: dict[str, Any]) -> None:
    page = new_page(browser, web)
    try:
        sign_in(page, web.key("admin"))
        page.get_by_role("button", name="Русский").click()
        page.get_by_role("link", name="Воронки").click()
        assert page.locator("h1").inner_text() == "Воронки"
        page.get_by_role("link", name="Board sales").click()
        assert page.locator("h1").inner_text() == "Доска воронки «Board sales»"
        assert page.get_by_label("Режим ворот на этапе «Qualified»").input_value() == "enforce"
        # Needs the catalog of /work/prompts/ru-board.tsv merged.
        assert page.get_by_label("Сколько дней записанных переходов проигрывает предпросмотр").input_value() == "90"
        shot(page, "admin-board-ru", full_page=True)
    finally:
        page.context.close()


def test_given_a_manager_then_the_board_is_refused_and_not_linked(page: Any, web: Web, board: dict[str, Any]) -> None:
    sign_in(page, web.key("manager"))
    assert page.get_by_role("link", name="Pipelines").count() == 0
    for path in ("/admin/pipelines", f"/admin/pipelines/{board['pipeline_id']}"):
        assert page.goto(path).status == 403, path
    manager, token = signed_in_client(web, "manager")
    form = {"csrf_token": token, f"mode-{board['pipeline_id']}": "audit"}
    for action in ("preview", "save"):
        assert manager.post(f"/admin/pipelines/{board['pipeline_id']}/{action}", data=form).status_code == 403


def test_given_a_stage_of_another_pipeline_when_saving_then_an_error_page_and_nothing_saved(
        web: Web, board: dict[str, Any]) -> None:
    admin, token = signed_in_client(web, "admin")
    before = list_gates(web.runtime, board["connection_id"], 1, 50)["items"]
    answer = admin.post(f"/admin/pipelines/{board['pipeline_id']}/save",
                        data={"csrf_token": token, "mode-2147483000": "warn", "req-2147483000": "board_budget"})
    assert answer.status_code == 422
    assert "Nothing was saved" in answer.get_data(as_text=True)
    assert list_gates(web.runtime, board["connection_id"], 1, 50)["items"] == before
    assert admin.get("/admin/pipelines/2147483000").status_code == 404


# The replay's pipeline: deals already past the moves recorded below, each move from the stage before its target.
# (deal, values now, from, to, owner then, decision then, days ago, fields the move reported missing then)
MOVES = [
    ("r1", {"rp_budget": 900, "rp_pain": "slow"}, "new", "qualified", "701", "allowed", 2, ()),
    ("r2", {}, "new", "qualified", "701", "audited", 5, ()),
    ("r3", {"rp_budget": 50}, "new", "qualified", "702", "allowed", 8, ("rp_budget",)),
    ("r4", {"rp_budget": 70}, "new", "qualified", "702", "blocked", 9, ()),
    ("r5", {"rp_budget": 10}, "qualified", "proposal", "701", "allowed", 12, ()),
    ("r6", {"rp_pain": "late"}, "qualified", "proposal", None, "warned", 20, ()),
    ("r7", {"rp_budget": 1, "rp_pain": "x"}, "qualified", "proposal", "703", "allowed", 25, ("rp_pain",)),
    ("r8", {}, "qualified", "proposal", "703", "allowed", 60, ()),  # older than the days chosen
    ("r9", {}, "proposal", "won", "701", "allowed", 3, ()),  # into a stage the proposal does not gate
]
REPLAY_DAYS = 30
REPLAY_RULES = {"qualified": "rp_budget", "proposal": "rp_pain"}  # what the admin ticks: one field per stage


def replayed(days: int, rules: dict[str, str]) -> tuple[Counter[str], Counter[str], Counter[str], Counter[str]]:
    """The model of the replay: the moves of the last `days` days into a ticked stage, counted by owner and by
    stage; of those not blocked then, the ones whose target's field is unfilled (now, or reported missing
    then) would be blocked."""
    owner_moves: Counter[str] = Counter()
    owner_blocked: Counter[str] = Counter()
    stage_moves: Counter[str] = Counter()
    stage_blocked: Counter[str] = Counter()
    for _deal, values, _source, target, owner, decision, ago, missing in MOVES:
        if ago > days or target not in rules:
            continue
        owner_moves[owner or ""] += 1
        stage_moves[target] += 1
        unfilled = rules[target] not in values or rules[target] in missing
        if decision != "blocked" and unfilled:
            owner_blocked[owner or ""] += 1
            stage_blocked[target] += 1
    return owner_moves, owner_blocked, stage_moves, stage_blocked


@pytest.fixture(scope="module")
def replay_board(web: Web) -> dict[str, Any]:
    """A connection with the "Replay sales" pipeline (its deals and recorded moves, no gate) and the "Any-of
    sales" pipeline, and the fields Replay budget, Replay pain and Replay industry."""
    with web.runtime.uow() as uow:
        session = uow.session
        connection = add_connection(session, web.runtime.vault)
        connection.name = "Replay CRM"
        pipeline = add_pipeline(session, connection, "replay", "Replay sales", STAGES)
        other = add_pipeline(session, connection, "anyof", "Any-of sales", STAGES)
        add_field(session, "rp_budget", "Replay budget", "number")
        add_field(session, "rp_pain", "Replay pain", "text")
        add_field(session, "rp_industry", "Replay industry", "enum", options=["retail", "it"])
        now = web.runtime.clock()
        for deal, values, source, target, owner, decision, ago, missing in MOVES:
            record = Record(connection_id=connection.id, external_id=deal, kind="deal", pipeline_external_id="replay",
                            stage_external_id=target, values=values, owner_external_id=owner, version=1)
            session.add(record)
            session.flush()
            issues = [{"field": key, "label": key, "reason": "missing", "constraint": None, "stage": target,
                       "mode": "audit", "message": f"{key} is missing"} for key in missing]
            session.add(Transition(connection_id=connection.id, record_id=record.id, from_pipeline="replay",
                                   from_stage=source, to_pipeline="replay", to_stage=target,
                                   occurred_at=now - timedelta(days=ago), owner_id=owner, source="webhook",
                                   direction="forward", decision=decision, issues=issues, mover_kind="ui"))
        uow.commit()
        return {"connection_id": connection.id, "pipeline_id": pipeline.id, "other_id": other.id}


def test_given_recorded_moves_when_previewing_then_the_replay_of_the_chosen_days_shows_owners_and_stages(
        page: Any, web: Web, replay_board: dict[str, Any]) -> None:
    sign_in(page, web.key("admin"))
    page.goto(f"/admin/pipelines/{replay_board['pipeline_id']}")
    assert page.get_by_label("Days of recorded moves the preview replays").input_value() == "90"
    page.get_by_label("Replay budget required at Qualified").check()
    page.get_by_label("Replay pain required at Proposal").check()
    page.get_by_label("Days of recorded moves the preview replays").fill(str(REPLAY_DAYS))

    page.get_by_role("button", name="Preview").click()

    owner_moves, owner_blocked, stage_moves, stage_blocked = replayed(REPLAY_DAYS, REPLAY_RULES)
    assert page.locator("#preview-replay").inner_text().endswith(
        f"Moves into these stages in the last {REPLAY_DAYS} days: {sum(stage_moves.values())}")
    owners = page.locator("#preview-owners tbody tr")
    shown = {owners.nth(i).get_attribute("data-owner"): (owners.nth(i).locator("td.moves").inner_text(),
                                                         owners.nth(i).locator("td.would-block").inner_text())
             for i in range(owners.count())}
    assert shown == {o: (str(owner_moves[o]), str(owner_blocked[o])) for o in owner_moves}
    stages = page.locator("#preview-replay-stages tbody tr")
    by_stage = {stages.nth(i).get_attribute("data-stage"): (stages.nth(i).locator("td.moves").inner_text(),
                                                            stages.nth(i).locator("td.would-block").inner_text())
                for i in range(stages.count())}
    assert by_stage == {s: (str(stage_moves[s]), str(stage_blocked[s])) for s in REPLAY_RULES}
    assert page.get_by_label("Days of recorded moves the preview replays").input_value() == str(REPLAY_DAYS)
    shot(page, "admin-board-replay", full_page=True)

    # The default, 90 days, takes in the older move too.
    page.get_by_label("Days of recorded moves the preview replays").fill("90")
    page.get_by_role("button", name="Preview").click()
    _, _, moves_90, blocked_90 = replayed(90, REPLAY_RULES)
    stages = page.locator("#preview-replay-stages tr[data-stage=proposal]")
    assert (stages.locator("td.moves").inner_text(), stages.locator("td.would-block").inner_text()) == (
        str(moves_90["proposal"]), str(blocked_90["proposal"]))
    assert moves_90 != stage_moves
    assert {g["stage"] for g in list_gates(web.runtime, replay_board["connection_id"], 1, 50)["items"]} == set()


def needs_pain(values: dict[str, Any]) -> bool:
    """The condition the admin builds: pain is required when the budget is over 1000 or the industry is IT."""
    budget = values.get("rp_budget")
    return (budget is not None and budget > 1000) or values.get("rp_industry") == "it"


def test_given_an_any_of_condition_of_two_comparisons_when_saved_then_stored_and_it_gates_moves(
        page: Any, web: Web, replay_board: dict[str, Any]) -> None:
    key = web.key("admin")
    sign_in(page, key)
    page.goto(f"/admin/pipelines/{replay_board['other_id']}")
    page.get_by_label("Replay pain required at Proposal").check()
    page.get_by_label("Gate mode at Proposal").select_option("enforce")
    page.get_by_role("button", name="Preview").click()
    cell = page.locator("#field-rp_pain td.required")
    cell.locator("summary").click()
    cell.get_by_label("Condition join for Replay pain at Proposal").select_option("any")
    cell.get_by_label("Condition 1 field for Replay pain at Proposal").select_option("rp_budget")
    cell.get_by_label("Condition 1 operator for Replay pain at Proposal").select_option("gt")
    cell.get_by_label("Condition 1 value for Replay pain at Proposal").fill("1000")
    cell.get_by_label("Condition 2 field for Replay pain at Proposal").select_option("rp_industry")
    cell.get_by_label("Condition 2 operator for Replay pain at Proposal").select_option("eq")
    cell.get_by_label("Condition 2 value for Replay pain at Proposal").fill("it")
    page.get_by_role("button", name="Preview").click()
    assert page.locator("#board-errors").count() == 0
    page.get_by_role("button", name="Save these gates").click()
    assert page.locator(".flash").inner_text().startswith("The gates are saved: 1 created")

    auth = {"Authorization": f"Bearer {key}"}
    stored = [g for g in page.request.get(f"/v1/gates?connection_id={replay_board['connection_id']}",
                                          headers=auth).json()["items"] if g["pipeline"] == "anyof"]
    assert [(g["stage"], g["mode"], g["requirements"]) for g in stored] == [("proposal", "enforce", [
        {"field": "rp_pain", "required_if": {"any": [{"field": "rp_budget", "op": "gt", "value": 1000},
                                                     {"field": "rp_industry", "op": "eq", "value": "it"}]}}])]
    for values in ({"rp_budget": 5000}, {"rp_budget": 10, "rp_industry": "retail"}, {"rp_industry": "it"},
                   {"rp_industry": "it", "rp_pain": "slow"}, {}):
        answer = page.request.post("/v1/gate/check", headers=auth, data={
            "connection_id": replay_board["connection_id"], "pipeline": "anyof", "from_stage": "qualified",
            "to_stage": "proposal", "values": values})
        expected = "blocked" if needs_pain(values) and "rp_pain" not in values else "allowed"
        assert answer.json()["outcome"] == expected, values

    # The board shows the condition as its rows again, joined by "any of".
    cell = page.locator("#field-rp_pain td.required")
    assert cell.get_by_label("Condition join for Replay pain at Proposal").input_value() == "any"
    assert cell.get_by_label("Condition 2 value for Replay pain at Proposal").input_value() == "it"
    assert cell.get_by_label("Condition 3 operator for Replay pain at Proposal").input_value() == ""
    shot(page, "admin-board-any-of", full_page=True)


def test_given_a_nested_condition_then_the_board_says_it_is_kept_as_text(
        page: Any, web: Web, replay_board: dict[str, Any]) -> None:
    nested = {"all": [{"any": [{"field": "rp_budget", "op": "filled"}, {"field": "rp_industry", "op": "eq",
                                                                          "value": "it"}]},
                      {"field": "rp_budget", "op": "gt", "value": 5}]}
    with web.runtime.uow() as uow:
        pipeline = next(p for p in uow.session.scalars(select(Pipeline)) if p.id == replay_board["other_id"])
        gate = add_gate(uow.session, pipeline.connection, pipeline, "new", "audit", ["rp_pain"])
        gate.requirements = [{"field": "rp_pain", "required_if": nested}]
        uow.commit()
    sign_in(page, web.key("admin"))
    page.goto(f"/admin/pipelines/{replay_board['other_id']}")
    cell = page.locator("#field-rp_pain td.required").first
    assert "kept unchanged" in cell.inner_text()
    page.get_by_role("button", name="Preview").click()
    page.get_by_role("button", name="Save these gates").click()
    gates = list_gates(web.runtime, replay_board["connection_id"], 1, 50)["items"]
    assert [g["requirements"] for g in gates if g["stage"] == "new"] == [[{"field": "rp_pain", "required_if": nested}]]
