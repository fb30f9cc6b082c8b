"""The admin pages of connections: an admin finds a HubSpot sandbox connection in the list, opens its setup
wizard, sees the webhook URL to paste and the deliveries refused after bad ones, tests the connection and sees
each check; the wizard speaks Russian; a manager is refused."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from adapters.hubspot_webhooks import sign_v3
from adapters.sandbox.hubspot import HubSpotSandbox
from service.services.connections import create_connection
from tests.e2e.browser.conftest import Web, hubspot_sandbox, new_page, served, shot, sign_in

SECRET, TOKEN = "wizard-client-secret", "pat-wizard-token"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[HubSpotSandbox]:
    with hubspot_sandbox(SECRET, TOKEN) as crm:
        yield crm


@pytest.fixture(scope="module")
def wizard_web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Web]:
    """Qualify that may call CRMs on loopback (the sandbox), no worker."""
    with served(tmp_path_factory.mktemp("wizard"), loopback_crm=True, with_worker=False) as running:
        yield running


@pytest.fixture(scope="module")
def hubspot(wizard_web: Web, sandbox: HubSpotSandbox) -> int:
    """A HubSpot connection to the sandbox; its id."""
    created = create_connection(wizard_web.runtime, {
        "name": "HubSpot sandbox", "kind": "hubspot", "base_url": sandbox.base_url, "access_token": TOKEN,
        "client_secret": SECRET, "signature_versions": ["v3"], "language": "en", "sync_interval_seconds": 300,
        "self_hosted": False}, wizard_web.base_url)
    return int(created["id"])


def _refuse(web: Web, connection_id: int) -> list[str]:
    """Send deliveries that must be refused (signed with another secret at a stale time, unsigned); the reasons
    the answers give."""
    url = f"{web.base_url}/v1/webhooks/{connection_id}"
    body = json.dumps([{"eventId": 1, "portalId": 1, "objectId": 5, "occurredAt": 1,
                        "subscriptionType": "deal.creation"}]).encode()
    signed = {"X-HubSpot-Signature-v3": sign_v3("not-the-secret", "POST", url, body, "1"),
              "X-HubSpot-Request-Timestamp": "1"}
    reasons = []
    for headers in (signed, {}):
        answer = httpx.post(url, content=body, headers={**headers, "Content-Type": "application/json"}, timeout=10)
        assert answer.status_code == 401, answer.text
        reasons.extend(answer.json()["errors"]["reason"])
    return reasons


def test_given_refused_deliveries_when_the_admin_opens_the_wizard_and_tests_then_url_counts_and_checks_show(
        browser: Any, wizard_web: Web, hubspot: int) -> None:
    refused = _refuse(wizard_web, hubspot)
    page = new_page(browser, wizard_web)
    sign_in(page, wizard_web.key("admin"))
    page.get_by_role("link", name="Connections").click()
    row = page.locator(f"#connection-{hubspot}")
    assert "HubSpot" in row.inner_text()
    assert row.locator(".rejected").inner_text() == str(len(refused))
    row.get_by_role("link", name="HubSpot sandbox").click()

    assert page.locator("#webhook-url").inner_text() == f"{wizard_web.base_url}/v1/webhooks/{hubspot}"
    assert "deal.propertyChange · dealstage" in page.locator("#webhook-events").inner_text()
    assert page.locator("#rejected-count").inner_text() == str(len(refused))
    for reason in set(refused):
        assert page.locator(f"#rejection-{reason} td.count").inner_text() == str(refused.count(reason))
    assert "every one was refused" in page.locator("#health-hint").inner_text()

    page.get_by_role("button", name="Test connection").click()
    checks = page.locator("#checks-table tbody tr")
    assert checks.count() >= 2
    assert page.locator("#check-auth .status").inner_text() == "ok"
    assert page.locator("#check-pipelines .status").inner_text() == "ok"
    assert page.locator("#webhook-url").count() == 1  # the wizard is shown again around the results
    shot(page, "admin-connection-wizard", full_page=True)
    page.context.close()


def test_the_wizard_speaks_russian(browser: Any, wizard_web: Web, hubspot: int) -> None:
    page = new_page(browser, wizard_web, locale="ru-RU")
    sign_in(page, wizard_web.key("admin"))
    page.goto(f"/admin/connections/{hubspot}")

    assert page.locator("html").get_attribute("lang") == "ru"
    assert page.locator("#health h2").inner_text() == "Состояние вебхуков"
    assert page.get_by_role("button", name="Проверить подключение").count() == 1
    assert re.search(r"HubSpot", page.locator("#setup h2").inner_text())
    shot(page, "admin-connection-wizard-ru", full_page=True)
    page.context.close()


def test_a_manager_and_an_unknown_connection_get_error_pages(browser: Any, wizard_web: Web, hubspot: int) -> None:
    page = new_page(browser, wizard_web)
    sign_in(page, wizard_web.key("admin"))
    assert page.goto("/admin/connections/2147483000").status == 404
    page.context.close()
    page = new_page(browser, wizard_web)
    sign_in(page, wizard_web.key("manager"))
    assert page.goto("/admin/connections").status == 403
    assert page.goto(f"/admin/connections/{hubspot}").status == 403
    page.context.close()
