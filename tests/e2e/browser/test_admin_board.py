"""The pipeline board in a browser: an admin ticks a cell, sets the gate's mode and a condition, previews what
the proposal would block among the open deals, saves it and finds the gate in GET /v1/gates; the page in
Russian; managers refused. Expected counts come from a small model of the gating rules over the deals set up
here."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from service import create_app
from service.models import Record
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
    cell.get_by_label("Condition field for Board budget at Proposal").select_option("board_industry")
    cell.get_by_label("Condition operator for Board budget at Proposal").select_option("in")
    cell.get_by_label("Condition value for Board budget at Proposal").fill("it")
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
