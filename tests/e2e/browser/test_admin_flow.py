"""The whole admin flow in a browser, from an empty Qualify to an enforced gate, through the pages only: the admin
signs in with the bootstrap key, connects the HubSpot sandbox with the new form, pastes the wizard's webhook URL
into the CRM and tests the connection, creates a field mapped to a sandbox deal property, requires it at a stage
on the board in enforce mode, previews and saves. A manager's move in the sandbox of a deal lacking the field is
then reverted with a task; the downloaded YAML holds the field, its mapping and the gate; the pages speak
Russian. The admin's clicks and fills are counted and printed for issue 14's closing note."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import yaml
from sqlalchemy import select

from adapters.sandbox.hubspot import HubSpotSandbox
from service.models import Record
from service.services.config_io.export import export_config
from service.services.keys import bootstrap_admin_key
from service.services.webhook_health import connections_health
from tests.e2e.browser.conftest import Web, hubspot_sandbox, new_page, served, shot
from tests.e2e.browser.test_admin_board import signed_in_client
from tests.e2e.conftest import MANAGER, wait_until

SECRET, TOKEN = "flow-client-secret", "pat-flow-token"
PIPELINE, FIRST, GATED = "default", "appointmentscheduled", "qualifiedtobuy"
FIELD, PROPERTY = "company_size", "company_size"
DEALS = {"Filled Ltd": {"company_size": "120"}, "Empty Ltd": {}}  # name -> the portrait the manager entered


@pytest.fixture(scope="module")
def sandbox() -> Iterator[HubSpotSandbox]:
    """The HubSpot sandbox, seeded with its pipelines and the portrait properties (company_size among them)."""
    with hubspot_sandbox(SECRET, TOKEN) as crm:
        yield crm


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Web]:
    """An empty Qualify with its worker (so moves are acted on), allowed to call loopback CRMs (the sandbox)."""
    with served(tmp_path_factory.mktemp("admin-flow"), loopback_crm=True, with_worker=True) as running:
        yield running


@dataclass
class Admin:
    """The admin's hands on the page: every click, fill and choice goes through here and is counted."""

    page: Any
    clicks: int = 0
    fills: int = 0
    paths: set[str] = field(default_factory=set)

    def _seen(self) -> None:
        self.page.wait_for_load_state()
        self.paths.add(urlsplit(self.page.url).path)

    def click(self, locator: Any) -> None:
        locator.click()
        self.clicks += 1
        self._seen()

    def fill(self, locator: Any, value: str) -> None:
        locator.fill(value)
        self.fills += 1

    def choose(self, locator: Any, **option: str) -> None:
        locator.select_option(**option)
        self.clicks += 1

    def tick(self, locator: Any) -> None:
        locator.check()
        self.clicks += 1


def _sandbox_pipelines(sandbox: HubSpotSandbox) -> list[dict[str, Any]]:
    answer = httpx.get(f"{sandbox.base_url}/crm/v3/pipelines/deals", headers={"Authorization": f"Bearer {TOKEN}"},
                       timeout=10)
    answer.raise_for_status()
    return list(answer.json()["results"])


def _records(web: Web) -> set[str]:
    """The external ids of the deals Qualify has a record of."""
    with web.runtime.read_uow() as uow:
        return set(uow.session.scalars(select(Record.external_id)))


def test_given_an_empty_qualify_when_an_admin_sets_up_a_gate_through_the_pages_then_a_managers_move_is_reverted(
        browser: Any, fresh: Web, sandbox: HubSpotSandbox) -> None:
    key = bootstrap_admin_key(fresh.runtime)
    assert key
    admin = Admin(new_page(browser, fresh))
    page = admin.page
    try:
        # Sign in with the bootstrap key.
        page.goto("/signin")
        admin.fill(page.get_by_label("API key"), key)
        admin.click(page.locator("main form button[type=submit]"))

        # Connect the sandbox: its API address replaces the prefilled public one.
        admin.click(page.get_by_role("link", name="Connections"))
        assert "no connections yet" in page.locator("main .empty").inner_text()
        admin.click(page.get_by_role("link", name="HubSpot", exact=True))
        assert page.get_by_label("API address").input_value() == "https://api.hubapi.com"
        admin.fill(page.get_by_label("Name"), "HubSpot sandbox")
        admin.fill(page.get_by_label("API address"), sandbox.base_url)
        admin.fill(page.get_by_label("Account id (optional)"), str(sandbox.portal_id))
        admin.fill(page.get_by_label("Access token"), TOKEN)
        admin.fill(page.get_by_label("Client secret"), SECRET)
        shot(page, "admin-flow-connect", full_page=True)
        admin.click(page.get_by_role("button", name="Connect and read its pipelines"))
        pipelines = _sandbox_pipelines(sandbox)
        assert f"connected with {len(pipelines)} pipelines" in page.locator(".flash.info").inner_text()
        assert page.locator("h1").inner_text() == "HubSpot sandbox"
        assert SECRET not in page.content() and TOKEN not in page.content()

        # In HubSpot the admin pastes the webhook URL the wizard shows, then tests the connection.
        hook = page.locator("#webhook-url").inner_text()
        httpx.post(f"{sandbox.base_url}/_sandbox/config", json={"webhook_url": hook}, timeout=10).raise_for_status()
        admin.click(page.get_by_role("button", name="Test connection"))
        assert page.locator("#check-auth .status").inner_text() == "ok"
        assert page.locator("#check-pipelines .status").inner_text() == "ok"

        # A field mapped to the sandbox's deal property.
        admin.click(page.get_by_role("link", name="Fields"))
        admin.fill(page.get_by_label("Key"), FIELD)
        admin.fill(page.get_by_label("Label", exact=True), "Company size")
        admin.choose(page.get_by_label("Type"), label="Number")
        admin.click(page.get_by_role("button", name="Create the field"))
        admin.choose(page.locator("select.property-list"), value=PROPERTY)
        admin.click(page.get_by_role("button", name="Save the mapping"))
        assert page.locator(".flash.info").inner_text() == "The mapping is saved."

        # The manager's deals reach Qualify by webhook, so the preview has something to count.
        deals = {name: sandbox.ui_create_deal({"dealname": name, "dealstage": FIRST, "pipeline": PIPELINE,
                                               "hubspot_owner_id": "101", **portrait}, user_id=MANAGER)
                 for name, portrait in DEALS.items()}
        wait_until(lambda: set(deals.values()) <= set(_records(fresh)))
        lacking = [deal for name, deal in deals.items() if not DEALS[name].get(PROPERTY)]

        # The board: the field required at the gated stage, enforced, previewed, saved.
        admin.click(page.get_by_role("link", name="Pipelines"))
        admin.click(page.get_by_role("link", name="Sales Pipeline"))
        stage_label = next(s["label"] for p in pipelines if p["id"] == PIPELINE for s in p["stages"]
                           if s["id"] == GATED)
        admin.tick(page.get_by_label(f"Company size required at {stage_label}"))
        admin.choose(page.get_by_label(f"Gate mode at {stage_label}"), value="enforce")
        shot(page, "admin-flow-board", full_page=True)
        admin.click(page.get_by_role("button", name="Preview"))
        blocked = f"{len(lacking)} of {len(deals)}"
        assert page.locator(f"#preview-stages tr[data-stage={GATED}] td.count").inner_text() == blocked
        shot(page, "admin-flow-preview", full_page=True)
        admin.click(page.get_by_role("button", name="Save these gates"))
        assert page.locator(".flash").inner_text().startswith("The gates are saved: 1 created")
        setup = (admin.clicks, admin.fills, len(admin.paths))

        # A manager drags the deal lacking the field into the gated stage: Qualify moves it back, with a task.
        deal = lacking[0]
        sandbox.ui_move_deal(deal, GATED, user_id=MANAGER)
        wait_until(lambda: sandbox.deal(deal)["properties"]["dealstage"] == FIRST
                   and sandbox.tasks_for_deal(deal), timeout=10)
        assert "Company size" in sandbox.tasks_for_deal(deal)[0]["properties"]["hs_task_body"]
        page.goto(urlsplit(hook).path.replace("/v1/webhooks/", "/admin/connections/"))
        events = page.locator("#accepted-count .n").inner_text()  # the deals' creations, the move, its echo
        assert int(events.split()[0]) >= len(deals) + 1, events
        shot(page, "admin-flow-reverted", full_page=True)

        # The configuration downloads as YAML with the field, its mapping and the gate.
        page.get_by_role("link", name="All connections").click()
        with page.expect_download() as download:
            page.get_by_role("link", name="Download configuration (YAML)").click()
        assert download.value.suggested_filename == "qualify.yaml"
        text = download.value.path().read_text(encoding="utf-8")
        config = yaml.safe_load(text)
        assert [(f["key"], f["type"]) for f in config["fields"]] == [(FIELD, "number")]
        [connection] = config["connections"]
        assert (connection["name"], connection["mappings"]) == ("HubSpot sandbox",
                                                                [{"property": PROPERTY, "field": FIELD}])
        assert [(g["connection"], g["pipeline"], g["stage"], g["mode"], [r["field"] for r in g["requirements"]])
                for g in config["gates"]] == [("HubSpot sandbox", PIPELINE, GATED, "enforce", [FIELD])]
        assert SECRET not in text and TOKEN not in text

        # The same pages in Russian.
        page.get_by_role("button", name="Русский").click()
        assert page.locator("h1").inner_text() == "Подключения"
        assert page.locator("#connect h2").inner_text() == "Подключить CRM"
        shot(page, "admin-flow-connections-ru", full_page=True)
        page.get_by_role("link", name="HubSpot", exact=True).click()
        assert page.locator("h1").inner_text() == "Подключить HubSpot"
        page.get_by_role("link", name="Воронки").click()
        page.get_by_role("link", name="Sales Pipeline").click()
        assert page.locator("h1").inner_text() == "Доска воронки «Sales Pipeline»"
        assert page.get_by_label(f"Режим ворот на этапе «{stage_label}»").input_value() == "enforce"
        shot(page, "admin-flow-ru", full_page=True)
    finally:
        page.context.close()
    clicks, fills, pages = setup
    print(f"ADMIN-FLOW: clicks={clicks} fills={fills} api_calls=0 pages={pages}")
    assert clicks > 0 and fills > 0


def _connection_names(web: Web) -> list[str]:
    return [c["name"] for c in connections_health(web.runtime)["items"]]


def _connect(client: Any, token: str, kind: str, **form: str) -> Any:
    return client.post(f"/admin/connections/new/{kind}", data={"csrf_token": token, "language": "en", **form})


def test_given_a_missing_secret_when_connecting_then_the_form_says_which_and_keeps_only_what_is_not_secret(
        fresh: Web, sandbox: HubSpotSandbox) -> None:
    admin, csrf = signed_in_client(fresh, "admin")
    before = _connection_names(fresh)
    answer = _connect(admin, csrf, "hubspot", name="Half done", base_url=sandbox.base_url, access_token=TOKEN)
    html = answer.get_data(as_text=True)
    assert answer.status_code == 400
    assert 'id="client_secret-errors">Required for this CRM.' in html
    assert 'value="Half done"' in html and f'value="{sandbox.base_url}"' in html
    assert TOKEN not in html
    assert _connection_names(fresh) == before


def test_given_a_bitrix24_webhook_url_holding_a_secret_when_refused_then_it_is_not_shown_back(fresh: Web) -> None:
    admin, csrf = signed_in_client(fresh, "admin")
    code = "s3cr3tw3bh00kc0de"
    answer = _connect(admin, csrf, "bitrix24", name="Portal", base_url=f"https://acme.bitrix24.ru/rest/1/{code}/")
    html = answer.get_data(as_text=True)
    assert answer.status_code == 400
    assert 'id="application_token-errors"' in html and 'value="Portal"' in html
    assert code not in html


@pytest.mark.parametrize(("base_url", "status", "says"), [
    ("ftp://example.com", 400, "Give an address starting with http:// or https://."),
    ("http://10.1.2.3:8080", 422, "The CRM was not connected: Refused CRM base URL"),
    ("http://127.0.0.1:9", 502, "The CRM was not connected: The CRM answered"),
])
def test_given_an_address_refused_or_unreachable_when_connecting_then_nothing_is_stored(
        fresh: Web, base_url: str, status: int, says: str) -> None:
    admin, csrf = signed_in_client(fresh, "admin")
    before = _connection_names(fresh)
    answer = _connect(admin, csrf, "hubspot", name="Elsewhere", base_url=base_url, access_token=TOKEN,
                      client_secret=SECRET)
    html = answer.get_data(as_text=True)
    assert (answer.status_code, says in html, 'value="Elsewhere"' in html) == (status, True, True), html[-3000:]
    assert TOKEN not in html and SECRET not in html
    assert _connection_names(fresh) == before


def test_given_a_token_the_crm_refuses_when_connecting_then_the_crm_answer_is_shown_and_nothing_kept(
        fresh: Web, sandbox: HubSpotSandbox) -> None:
    admin, csrf = signed_in_client(fresh, "admin")
    before = _connection_names(fresh)
    answer = _connect(admin, csrf, "hubspot", name="Wrong token", base_url=sandbox.base_url,
                      access_token="pat-not-the-token", client_secret=SECRET)
    html = answer.get_data(as_text=True)
    assert answer.status_code == 502
    assert "The CRM was not connected: The CRM answered" in html and "pat-not-the-token" not in html
    assert _connection_names(fresh) == before


def test_the_configuration_downloads_for_admins_only_and_unknown_crms_are_not_found(fresh: Web) -> None:
    admin, _ = signed_in_client(fresh, "admin")
    answer = admin.get("/admin/config.yaml")
    assert answer.status_code == 200
    assert answer.headers["Content-Disposition"] == "attachment; filename=qualify.yaml"
    assert yaml.safe_load(answer.get_data(as_text=True)) == export_config(fresh.runtime)
    assert admin.get("/admin/connections/new/salesforce").status_code == 404
    manager, _ = signed_in_client(fresh, "manager")
    for path in ("/admin/config.yaml", "/admin/connections/new/hubspot"):
        assert manager.get(path).status_code == 403, path
