"""The admin pages of events and personas: an admin replays a failed event, scores an example lead against a
persona and creates a persona from a template; managers are refused; the pages speak Russian. Then the same
guards over Flask's test client, without a browser: CSRF, roles, the persona edit form."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest

from service.models import EventStatus, InboundEvent
from service.services.personas import get_persona, list_personas
from service.services.queries import get_event
from tests.conftest import make_key
from tests.e2e.browser import team as plan
from tests.e2e.browser.conftest import Web, new_page, shot, sign_in
from tests.e2e.browser.test_pages_http import signed_in_client

ADMIN_PAGES = ("/admin/events", "/admin/personas", "/admin/personas/{persona}")
ERROR = "CRMUnavailable: GET /crm/v3/objects/deals/9003 answered 503: upstream timeout (request id 7f3a)"
CSRF = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


def _failed_event(web: Web, team: plan.Team, deal: int, key: str) -> int:
    """A failed event of the team's deal number `deal`, as the worker leaves it after its last attempt."""
    now = web.runtime.clock()
    with web.runtime.uow() as uow:
        event = InboundEvent(
            connection_id=team.connection_id, delivery_key=key, object_id=str(9000 + deal), kind="property_change",
            occurred_at=now - timedelta(hours=2), payload={}, new_stage="qualified", status=EventStatus.FAILED,
            attempts=6, error=ERROR, received_at=now - timedelta(hours=2), processed_at=now - timedelta(hours=1))
        uow.session.add(event)
        uow.session.flush()
        event_id = event.id
        uow.commit()
    return event_id


@pytest.fixture(scope="module")
def retail_buyer(web: Web, team: plan.Team) -> int:
    """The id of the team's "Retail buyer" persona (industry retail, 100-5000 employees)."""
    found = list_personas(web.runtime, {"page": 1, "page_size": 100})["items"]
    return next(p["id"] for p in found if p["name"] == "Retail buyer")


def test_given_a_failed_event_when_the_admin_replays_it_then_it_is_queued_again_with_a_message(
        page: Any, web: Web, team: plan.Team) -> None:
    event_id = _failed_event(web, team, 3, "admin-pages-replay")
    sign_in(page, web.key("admin"))
    page.get_by_role("link", name="Events").click()
    row = page.locator(f"#event-{event_id}")
    assert "Deal 03" in row.inner_text()
    assert "Fake CRM" in row.inner_text()
    assert "CRMUnavailable" in row.inner_text()
    shot(page, "admin-events", full_page=True)
    row.get_by_role("button", name="Replay").click()
    assert page.locator(".flash").inner_text().startswith(f"Event {event_id} is queued again")
    assert page.locator(f"#event-{event_id}").count() == 0
    assert get_event(web.runtime, event_id)["status"] == EventStatus.RECEIVED
    shot(page, "admin-events-replayed")


def test_given_a_persona_when_the_admin_scores_an_example_lead_then_the_score_grade_and_reasons_show(
        page: Any, web: Web, retail_buyer: int) -> None:
    sign_in(page, web.key("admin"))
    page.get_by_role("link", name="Personas").click()
    assert "Retail buyer" in page.locator(f"#persona-{retail_buyer}").inner_text()
    shot(page, "admin-personas", full_page=True)
    page.get_by_role("link", name="Retail buyer").click()
    page.locator("#preview").get_by_label("Industry").select_option("retail")
    page.locator("#preview").get_by_label("Company size").fill("60")
    page.get_by_role("button", name="Score this lead").click()
    result = page.locator("#preview-result")
    assert result.locator("h3").inner_text() == "Score 50, grade C"
    assert "Industry is retail: matches the persona" in result.locator(".reasons .plus").inner_text()
    assert "Company size 60" in result.locator(".reasons .minus").inner_text()
    assert page.locator("#preview").get_by_label("Company size").input_value() == "60"
    shot(page, "admin-persona-preview", full_page=True)


def test_given_a_persona_template_when_the_admin_picks_it_then_the_persona_is_created(page: Any, web: Web) -> None:
    sign_in(page, web.key("admin"))
    page.goto("/admin/personas")
    page.get_by_label("Template").select_option(label="Customer portrait (B2C)")
    page.get_by_role("button", name="Create the persona").click()
    assert re.search(r"/admin/personas/\d+$", page.url)
    assert "is created with" in page.locator(".flash").inner_text()
    persona = get_persona(web.runtime, int(page.url.rsplit("/", 1)[1]))
    assert page.locator("h1").inner_text() == persona["name"]
    assert page.locator("#criteria-table tbody tr").count() == len(persona["criteria"])
    shot(page, "admin-persona-from-template", full_page=True)


def test_given_a_manager_then_every_admin_page_is_refused_and_not_linked(
        page: Any, web: Web, retail_buyer: int) -> None:
    sign_in(page, web.key("manager"))
    for link in ("Events", "Personas", "API keys"):
        assert page.get_by_role("link", name=link).count() == 0
    assert page.get_by_role("link", name="API reference").count() == 1
    for path in ADMIN_PAGES:
        answer = page.goto(path.format(persona=retail_buyer))
        assert answer.status == 403, path
        assert page.locator("h1").inner_text() == "This page is for administrators"


def test_given_the_api_reference_link_then_swagger_ui_shows_the_api_with_nothing_fetched_elsewhere(
        page: Any, web: Web) -> None:
    sign_in(page, web.key("manager"))
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.get_by_role("link", name="API reference").click()
    page.wait_for_selector(".swagger-ui .opblock")
    assert "/v1/events/{event_id}/replay" in page.locator(".swagger-ui").inner_text()
    assert requested and all(url.startswith(web.base_url) for url in requested), requested
    shot(page, "api-reference")


def test_given_russian_chosen_then_the_admin_pages_are_russian(browser: Any, web: Web, retail_buyer: int) -> None:
    page = new_page(browser, web)
    try:
        sign_in(page, web.key("admin"))
        page.get_by_role("button", name="Русский").click()
        page.get_by_role("link", name="События").click()
        assert page.locator("h1").inner_text() == "События, которым нужно внимание"
        shot(page, "admin-events-ru")
        page.get_by_role("link", name="Персоны").click()
        assert page.locator("h1").inner_text() == "Персоны"
        page.get_by_role("link", name="Retail buyer").click()
        page.locator("#preview").get_by_label("Отрасль").select_option("retail")
        page.get_by_role("button", name="Оценить этот лид").click()
        assert page.locator("#preview-result h3").inner_text().startswith("Балл ")
        shot(page, "admin-persona-ru", full_page=True)
    finally:
        page.context.close()


# Over Flask's test client (no browser): quick checks of the guards.

def _token(client: Any, path: str) -> str:
    match = CSRF.search(client.get(path).get_data(as_text=True))
    assert match, path
    return match.group(1)


def test_given_a_replay_without_its_csrf_token_then_refused_and_the_event_stays_failed(
        web_admin: Any, web: Web, team: plan.Team) -> None:
    event_id = _failed_event(web, team, 4, "admin-pages-csrf")
    answer = web_admin.post(f"/admin/events/{event_id}/replay", data={"page": "1"})
    assert answer.status_code == 400
    assert "The form has expired" in answer.get_data(as_text=True)
    assert get_event(web.runtime, event_id)["status"] == EventStatus.FAILED


def test_given_a_manager_then_the_admin_forms_are_refused(web_app: Any, web: Web, team: plan.Team,
                                                          retail_buyer: int) -> None:
    event_id = _failed_event(web, team, 5, "admin-pages-manager")
    manager = signed_in_client(web_app, make_key(web.runtime, "manager"))
    token = _token(manager, "/")
    for path in (f"/admin/events/{event_id}/replay", "/admin/personas/from-template",
                 f"/admin/personas/{retail_buyer}", f"/admin/personas/{retail_buyer}/preview",
                 f"/admin/personas/{retail_buyer}/reviewed"):
        assert manager.post(path, data={"csrf_token": token, "template": "b2b-icp"}).status_code == 403, path
    assert get_event(web.runtime, event_id)["status"] == EventStatus.FAILED
    assert web_app.test_client().get("/admin/events").headers["Location"] == "/signin?next=/admin/events"


def test_given_an_event_replayed_twice_then_the_second_time_says_there_is_nothing_to_replay(
        web_admin: Any, web: Web, team: plan.Team) -> None:
    event_id = _failed_event(web, team, 6, "admin-pages-twice")
    token = _token(web_admin, "/admin/events")
    for _ in range(2):
        answer = web_admin.post(f"/admin/events/{event_id}/replay", data={"csrf_token": token, "page": "1"})
        assert answer.headers["Location"] == "/admin/events?show=failed&page=1"
    assert "already waiting to be processed" in web_admin.get("/admin/events").get_data(as_text=True)
    waiting = web_admin.get("/admin/events?show=waiting").get_data(as_text=True)
    assert f'<tr id="event-{event_id}" data-status="received">' in waiting  # queued again, waiting for the worker
    assert web_admin.get("/admin/events?show=everything").status_code == 400


def test_given_new_weights_and_name_then_a_new_version_and_a_stale_form_is_refused(
        web_admin: Any, web: Web, retail_buyer: int) -> None:
    before = get_persona(web.runtime, retail_buyer)
    token = _token(web_admin, f"/admin/personas/{retail_buyer}")
    form = {"csrf_token": token, "name": "Retail buyer", "version": str(before["version"]),
            "weights-0": "3", "weights-1": "1"}
    assert web_admin.post(f"/admin/personas/{retail_buyer}", data=form).status_code == 302
    after = get_persona(web.runtime, retail_buyer)
    assert after["version"] == before["version"] + 1
    assert [c.get("weight", 1) for c in after["criteria"]] == [3, 1]
    stale = web_admin.post(f"/admin/personas/{retail_buyer}", data=form)
    assert stale.status_code == 409
    assert "changed by someone else" in stale.get_data(as_text=True)
    bad = web_admin.post(f"/admin/personas/{retail_buyer}", data={**form, "version": str(after["version"]),
                                                                "weights-0": "0"})
    assert bad.status_code == 400
    assert web_admin.post(f"/admin/personas/{retail_buyer}", data={"csrf_token": token, "name": "x"}).status_code == 400
    restore = {**form, "version": str(after["version"]), "weights-0": "1"}
    assert web_admin.post(f"/admin/personas/{retail_buyer}", data=restore).status_code == 302
    assert web_admin.post(f"/admin/personas/{retail_buyer}/reviewed", data={"csrf_token": token}).status_code == 302
    assert get_persona(web.runtime, retail_buyer)["last_reviewed_on"] == web.runtime.clock().date()
