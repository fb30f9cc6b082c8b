"""The admin pages of fields against the HubSpot sandbox: an admin creates a field, finds a CRM property in the
live list by typing, maps its options to the field's values and saves (the API then shows the mapping); a
property the CRM does not have is refused with the closest ones; without JavaScript ?q= filters the list; a CRM
that cannot be read is said so and a name may be typed; the pages speak Russian; managers are refused."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from adapters.sandbox.hubspot import HubSpotSandbox
from service.errors import NotFoundError
from service.services.connections import create_connection
from service.services.fields import create_field, get_field
from service.services.mappings import get_mappings
from service.services.personas import create_persona
from tests.api.conftest import SANDBOX_SECRET, SANDBOX_TOKEN, connection_body
from tests.e2e.browser.conftest import Web, hubspot_sandbox, new_page, served, shot, sign_in

VALUE_MAP = {"retail": "retail", "it": "software", "finance": "other"}  # CRM option -> field value


@pytest.fixture(scope="module")
def crm() -> Iterator[HubSpotSandbox]:
    """The HubSpot sandbox (seeded with the portrait properties, `industry` among them)."""
    with hubspot_sandbox(SANDBOX_SECRET, SANDBOX_TOKEN) as crm:
        yield crm


@pytest.fixture(scope="module")
def fields_web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Web]:
    """Qualify that may call loopback CRMs (the sandbox), on its own SQLite database."""
    with served(tmp_path_factory.mktemp("fields-web"), loopback_crm=True, with_worker=False) as running:
        yield running


@pytest.fixture(scope="module")
def connections(fields_web: Web, crm: HubSpotSandbox) -> tuple[int, int]:
    """The ids of a connection to the sandbox and of one to a CRM nobody answers for."""
    live = create_connection(fields_web.runtime, connection_body(crm.base_url), fields_web.base_url)
    dead = create_connection(fields_web.runtime, connection_body("http://127.0.0.1:9", name="Old portal"),
                             fields_web.base_url)
    return live["id"], dead["id"]


@pytest.fixture
def admin_page(browser: Any, fields_web: Web) -> Iterator[Any]:
    """A signed-in admin's page in a fresh English-speaking browser context."""
    page = new_page(browser, fields_web)
    sign_in(page, fields_web.key("admin"))
    yield page
    page.context.close()


def _field(web: Web, key: str) -> int:
    created = create_field(web.runtime, {"key": key, "label": key.title(), "type": "enum",
                                         "constraints": {"options": ["retail", "software", "other"]}})
    return int(created["id"])


def _visible_options(select: Any) -> list[str]:
    return [str(v) for v in select.locator("option:not([hidden])").evaluate_all("os => os.map(o => o.value)")]


def test_given_the_sandbox_when_the_admin_creates_a_field_and_maps_an_enum_property_then_the_api_shows_it(
        admin_page: Any, fields_web: Web, connections: tuple[int, int]) -> None:
    page, (live, dead) = admin_page, connections
    page.get_by_role("link", name="Fields").click()
    page.get_by_label("Key").fill("sector")
    page.get_by_label("Label", exact=True).fill("Sector")
    page.get_by_label("Type").select_option(label="One of a list")
    page.get_by_label("Options, one a line").fill("retail\nsoftware\nother")
    page.get_by_role("button", name="Create the field").click()
    assert "is created" in page.locator(".flash").inner_text()
    field_id = int(page.url.rsplit("/", 1)[1])

    section = page.locator(f"#connection-{live}")
    listing = section.locator("select.property-list")
    everything = _visible_options(listing)
    page.locator("#property-filter").press_sequentially("indus")
    # The deal's own property and the company's (customer properties are listed with their object's prefix).
    assert _visible_options(listing) == [v for v in everything if "indus" in v.lower()] == ["company.industry",
                                                                                           "industry"]
    listing.select_option("industry")
    section.get_by_role("button", name="Show its options").click()
    section = page.locator(f"#connection-{live}")
    rows = section.locator("table.value-map tbody tr")
    assert rows.count() == 5  # the sandbox's industry options: retail, manufacturing, it, finance, other
    for option, value in VALUE_MAP.items():
        section.locator(f"select[name='vm:{option}']").select_option(value)
    section.get_by_role("button", name="Save the mapping").click()

    assert page.locator(".flash.info").inner_text() == "The mapping is saved."
    key = fields_web.key("admin")
    answer = httpx.get(f"{fields_web.base_url}/v1/connections/{live}/mappings",
                       headers={"Authorization": f"Bearer {key}"})
    assert answer.json() == {"mappings": [{"property": "industry", "field": "sector", "value_map": VALUE_MAP}]}
    assert page.locator(f"#connection-{live} .mapped-now").inner_text() == "Mapped from the property industry."
    unreachable = page.locator(f"#connection-{dead}")
    assert "could not be read" in unreachable.locator(".unreachable").inner_text()
    assert unreachable.locator("input[name=property]").count() == 1
    shot(page, "admin-field-mapping", full_page=True)

    page.get_by_role("link", name="All fields").click()
    assert page.locator("#field-sector .mapped").inner_text() == "Sandbox portal: industry"
    assert page.locator(f"a[href='/admin/fields/{field_id}']").count() == 1
    shot(page, "admin-fields", full_page=True)


def test_given_a_property_the_crm_lacks_when_saving_then_it_is_refused_with_the_closest_on_the_page(
        admin_page: Any, fields_web: Web, connections: tuple[int, int]) -> None:
    live = connections[0]
    field_id = _field(fields_web, "branch")
    page = admin_page
    page.goto(f"/admin/fields/{field_id}")
    # As if the property was renamed in the CRM after the list was read: the page offers a name it lacks now.
    page.locator(f"#property-{live} option[value=industry]").evaluate("o => { o.value = 'industy'; }")
    page.locator(f"#property-{live}").select_option("industy")
    page.locator(f"#connection-{live}").get_by_role("button", name="Save the mapping").click()

    problem = page.locator(f"#mapping-problem-{live}")
    assert "unknown properties industy" in problem.inner_text()
    assert "Closest: industry, company.industry." in page.locator(f"#connection-{live} .field .error").inner_text()
    assert all(m["field"] != "branch" for m in get_mappings(fields_web.runtime, live))


def test_given_no_javascript_then_q_filters_the_list_on_the_server_and_show_brings_the_options(
        browser: Any, fields_web: Web, connections: tuple[int, int]) -> None:
    live = connections[0]
    field_id = _field(fields_web, "trade")
    context = browser.new_context(base_url=fields_web.base_url, java_script_enabled=False)
    try:
        page = context.new_page()
        sign_in(page, fields_web.key("admin"))
        page.goto(f"/admin/fields/{field_id}")
        total = page.locator(f"#property-{live} option").count()
        page.locator("#property-filter").fill("budg")
        page.get_by_role("button", name="Filter").click()
        assert page.url.endswith(f"/admin/fields/{field_id}?q=budg")
        assert [page.locator(f"#property-{live} option").get_attribute("value")] == ["budget"] and total > 1
        page.locator(f"#property-{live}").select_option("budget")
        page.locator(f"#connection-{live}").get_by_role("button", name="Save the mapping").click()
        assert page.locator(".flash.info").inner_text() == "The mapping is saved."
        assert {"property": "budget", "field": "trade", "value_map": {}} in get_mappings(fields_web.runtime, live)
    finally:
        context.close()


def test_given_a_duplicate_key_when_creating_then_the_problem_shows_and_the_form_is_kept(
        admin_page: Any, fields_web: Web) -> None:
    _field(fields_web, "region")
    page = admin_page
    page.goto("/admin/fields")
    page.get_by_label("Key").fill("region")
    page.get_by_label("Label", exact=True).fill("Region again")
    page.get_by_role("button", name="Create the field").click()
    assert "A field with key 'region' already exists." in page.locator("#field-problem").inner_text()
    assert page.get_by_label("Label", exact=True).input_value() == "Region again"


def test_given_a_field_when_its_options_are_emptied_then_refused_and_when_relabelled_then_saved(
        admin_page: Any, fields_web: Web) -> None:
    field_id = _field(fields_web, "segment")
    page = admin_page
    page.goto(f"/admin/fields/{field_id}")
    edit = page.locator("#edit")
    edit.get_by_label("Options, one a line").fill("")
    edit.get_by_role("button", name="Save the field").click()
    assert "constraints.options" in page.locator("#field-problem").inner_text()
    assert get_field(fields_web.runtime, field_id)["constraints"]["options"] == ["retail", "software", "other"]

    edit.get_by_label("Options, one a line").fill("retail\nsoftware\nother\npublic")
    edit.get_by_label("Label in Russian (optional)").fill("Сегмент")
    edit.get_by_role("button", name="Save the field").click()
    assert page.locator(".flash.info").inner_text().startswith("The field is saved")
    saved = get_field(fields_web.runtime, field_id)
    assert (saved["label_ru"], saved["constraints"]["options"]) == ("Сегмент", ["retail", "software", "other",
                                                                               "public"])


def test_given_a_field_when_the_admin_deletes_it_unconfirmed_then_refused_and_confirmed_then_gone(
        admin_page: Any, fields_web: Web, connections: tuple[int, int]) -> None:
    field_id = _field(fields_web, "scratch")
    page = admin_page
    page.goto(f"/admin/fields/{field_id}")
    deletion = page.locator("#delete")
    deletion.get_by_role("checkbox").evaluate("box => box.required = false")  # what a browser without it sends
    deletion.get_by_role("button", name="Delete the field").click()
    assert deletion.locator(".error").inner_text() == "Tick the box to confirm the deletion."
    assert get_field(fields_web.runtime, field_id)["key"] == "scratch"

    deletion.get_by_label("Yes, delete this field and its mappings").check()
    deletion.get_by_role("button", name="Delete the field").click()
    assert page.url.endswith("/admin/fields")
    assert page.locator(".flash.info").inner_text() == "Field “scratch” is deleted, with its mappings."
    with pytest.raises(NotFoundError):
        get_field(fields_web.runtime, field_id)


def test_given_a_field_a_persona_uses_when_deleting_then_refused_with_the_persona_named(
        admin_page: Any, fields_web: Web) -> None:
    field_id = _field(fields_web, "vertical")
    persona = create_persona(fields_web.runtime, {"name": "Vertical buyer", "criteria": [
        {"field": "vertical", "matcher": "in", "values": ["retail"]}]})
    page = admin_page
    page.goto(f"/admin/fields/{field_id}")
    deletion = page.locator("#delete")
    deletion.get_by_label("Yes, delete this field and its mappings").check()
    deletion.get_by_role("button", name="Delete the field").click()
    assert page.locator("#delete-problem").inner_text().startswith("Nothing was deleted: ")
    assert f"used by personas [{persona['id']}]" in page.locator("#delete-problem").inner_text()
    deletion.scroll_into_view_if_needed()
    shot(page, "admin-field-delete-refused")
    assert get_field(fields_web.runtime, field_id)["key"] == "vertical"


def test_given_russian_then_the_field_page_is_russian(browser: Any, fields_web: Web,
                                                      connections: tuple[int, int]) -> None:
    field_id = _field(fields_web, "otrasl")
    page = new_page(browser, fields_web, locale="ru-RU")
    try:
        sign_in(page, fields_web.key("admin"))
        page.get_by_role("link", name="Поля").click()
        assert page.locator("h1").inner_text() == "Поля"
        page.goto(f"/admin/fields/{field_id}")
        assert page.locator("#mappings h2").inner_text() == "Откуда берётся значение"
        assert page.locator("#delete").get_by_label("Да, удалить это поле и его сопоставления").count() == 1  # noqa: RUF001
        assert page.locator(f"#connection-{connections[0]}").get_by_role(
            "button", name="Сохранить сопоставление").count() == 1
        shot(page, "admin-field-ru", full_page=True)
    finally:
        page.context.close()


def test_given_a_manager_then_the_fields_pages_are_refused_and_not_linked(
        browser: Any, fields_web: Web, connections: tuple[int, int]) -> None:
    field_id = _field(fields_web, "manager_probe")
    page = new_page(browser, fields_web)
    try:
        sign_in(page, fields_web.key("manager"))
        assert page.get_by_role("link", name="Fields").count() == 0
        for path in ("/admin/fields", f"/admin/fields/{field_id}"):
            assert page.goto(path).status == 403, path
        token = page.locator("input[name=csrf_token]").first.get_attribute("value")
        for path in ("/admin/fields", f"/admin/fields/{field_id}",
                     f"/admin/fields/{field_id}/mappings/{connections[0]}"):
            answer = page.request.post(path, form={"csrf_token": token, "key": "x", "label": "X",
                                                   "property": "industry", "action": "save"})
            assert answer.status == 403, path
        assert all(m["field"] != "manager_probe" for m in get_mappings(fields_web.runtime, connections[0]))
    finally:
        page.context.close()
