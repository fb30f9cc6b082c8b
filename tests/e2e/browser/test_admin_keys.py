"""The API keys page in the browser: an admin creates a key that expires, sees it listed with its expiry and
state, and revokes it; a wrong number of days is a readable error; the page speaks Russian."""

from __future__ import annotations

from datetime import UTC, timedelta
from typing import Any

from babel.dates import format_datetime

from service.db import utcnow
from service.services.keys import list_keys
from service.services.web_sessions import sign_in as key_user
from tests.e2e.browser.conftest import Web, new_page, shot, sign_in


def _stored(web: Web, prefix: str) -> dict[str, Any]:
    return next(k for k in list_keys(web.runtime) if k["prefix"] == prefix)


def test_given_an_admin_when_creating_a_key_that_expires_then_it_is_listed_with_its_expiry_and_can_be_revoked(
        page: Any, web: Web) -> None:
    sign_in(page, web.key("admin"))
    page.goto("/admin/keys")
    page.get_by_label("Name").fill("Contractor, two weeks")
    page.get_by_label("Role").select_option("manager")
    page.get_by_label("Expires in days (optional)").fill("14")
    before = utcnow()
    page.get_by_role("button", name="Create the key").click()
    new_key = page.locator("#new-key").inner_text()
    prefix = new_key.split("_")[1]
    stored = _stored(web, prefix)
    assert before + timedelta(days=14) <= stored["expires_at"] <= utcnow() + timedelta(days=14)
    assert key_user(web.runtime, new_key) is not None
    row = page.locator(f"#key-{prefix}")
    assert row.locator(".expires").inner_text() == format_datetime(stored["expires_at"], "short", tzinfo=UTC,
                                                                    locale="en")
    assert row.locator(".state").inner_text() == "active"
    assert row.locator(".last-used").inner_text() == "never"
    shot(page, "admin-keys-expiry", full_page=True)
    row.get_by_role("button", name="Revoke").click()
    assert page.locator(".flash").inner_text() == f"Key {prefix} is revoked."
    assert page.locator(f"#key-{prefix} .state").inner_text().startswith("revoked ")
    assert page.locator(f"#key-{prefix}").get_by_role("button", name="Revoke").count() == 0
    assert _stored(web, prefix)["state"] == "revoked"
    assert key_user(web.runtime, new_key) is None


def test_given_zero_days_when_creating_a_key_then_a_readable_error_and_no_key(page: Any, web: Web) -> None:
    sign_in(page, web.key("admin"))
    page.goto("/admin/keys")
    count = len(list_keys(web.runtime))
    page.get_by_label("Name").fill("Never valid")
    days = page.get_by_label("Expires in days (optional)")
    assert (days.get_attribute("min"), days.get_attribute("max")) == ("1", "3650")
    days.evaluate("input => input.removeAttribute('min')")  # past the browser's own check, to the server's
    days.fill("0")
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name="Create the key").click()
    assert navigation.value.status == 400
    assert "from 1 to 3650" in page.locator(".field.invalid .error").inner_text()
    assert page.locator("#new-key").count() == 0
    assert len(list_keys(web.runtime)) == count


def test_given_russian_chosen_then_the_keys_page_shows_last_use_and_expiry_in_russian(browser: Any, web: Web) -> None:
    page = new_page(browser, web)
    try:
        admin = web.key("admin")
        sign_in(page, admin)
        page.get_by_role("button", name="Русский").click()
        page.goto("/admin/keys")
        headers = page.locator("table.keys thead").inner_text()
        assert "Последнее использование" in headers and "Истекает" in headers and "Состояние" in headers
        own = page.locator(f"#key-{admin.split('_')[1]}")
        assert own.locator(".state").inner_text() == "действует"
        assert own.locator(".expires").inner_text() == "бессрочный"
        assert page.get_by_label("Истекает через, дней (необязательно)").count() == 1
        shot(page, "admin-keys-ru", full_page=True)
    finally:
        page.context.close()
