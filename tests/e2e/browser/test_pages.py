"""What a person does in the browser: sign in and out, switch language, reach only what their role allows,
manage API keys; and the guards a browser relies on (CSRF, cookie attributes)."""

from __future__ import annotations

from typing import Any

from service.services.keys import list_keys
from service.services.web_sessions import sign_in as key_user
from tests.e2e.browser.conftest import Web, new_page, shot, sign_in


def _live(web: Web, prefix: str) -> bool:
    return any(k["prefix"] == prefix and k["revoked_at"] is None for k in list_keys(web.runtime))


def _prefix(key: str) -> str:
    return key.split("_")[1]


def test_given_a_manager_key_when_signing_in_then_the_home_page_says_who_and_which_role(
        page: Any, web: Web) -> None:
    page.goto("/")
    assert page.url.endswith("/signin?next=/")
    shot(page, "signin")
    key = web.key("manager")
    sign_in(page, key)
    assert page.url == f"{web.base_url}/"
    assert page.locator("h1").inner_text() == "Welcome, manager"
    assert "Manager" in page.locator(".facts").inner_text()
    assert _prefix(key) in page.locator(".facts").inner_text()
    assert key not in page.content()
    assert page.get_by_role("link", name="API keys").count() == 0
    shot(page, "home-manager")


def test_given_a_wrong_key_when_signing_in_then_a_readable_error_and_no_session(page: Any, web: Web) -> None:
    answer = sign_in(page, "qk_00000000_not-a-real-key")
    assert answer.status == 401
    assert page.locator(".error").inner_text() == "This key is unknown or revoked. Check that you copied all of it."
    shot(page, "signin-wrong-key")
    page.goto("/")
    assert "/signin" in page.url


def test_given_a_signed_in_manager_when_signing_out_then_pages_ask_to_sign_in_again(page: Any, web: Web) -> None:
    sign_in(page, web.key("manager"))
    page.get_by_role("button", name="Sign out").click()
    assert page.url.endswith("/signin")
    assert page.locator(".flash").inner_text() == "You are signed out."
    shot(page, "signed-out")
    page.goto("/")
    assert "/signin" in page.url


def test_given_russian_chosen_with_the_switcher_then_pages_render_in_russian_and_stay_so(
        page: Any, web: Web) -> None:
    page.goto("/signin")
    page.get_by_role("button", name="Русский").click()
    assert page.locator("html").get_attribute("lang") == "ru"
    assert page.locator("h1").inner_text() == "Войти"
    sign_in(page, web.key("admin"))
    assert page.locator("h1").inner_text() == "Добро пожаловать, admin"
    assert "Администратор" in page.locator(".facts").inner_text()
    shot(page, "home-admin-ru")
    page.get_by_role("button", name="Выйти").click()
    assert page.locator(".flash").inner_text() == "Вы вышли."


def test_given_a_russian_browser_then_the_first_page_is_russian(browser: Any, web: Web) -> None:
    page = new_page(browser, web, locale="ru-RU")
    try:
        page.goto("/signin")
        assert page.locator("h1").inner_text() == "Войти"
        page.get_by_role("button", name="English").click()
        assert page.locator("h1").inner_text() == "Sign in"
    finally:
        page.context.close()


def test_given_a_manager_when_opening_the_keys_page_then_a_403_page(page: Any, web: Web) -> None:
    sign_in(page, web.key("manager"))
    answer = page.goto("/admin/keys")
    assert answer.status == 403
    assert page.locator("h1").inner_text() == "This page is for administrators"
    shot(page, "forbidden-manager")


def test_given_an_admin_when_creating_a_key_then_it_is_shown_once_and_listed_without_its_secret(
        page: Any, web: Web) -> None:
    sign_in(page, web.key("admin"))
    page.get_by_role("link", name="API keys").first.click()
    page.get_by_label("Name").fill("Reporting robot")
    page.get_by_label("Role").select_option("manager")
    page.get_by_role("button", name="Create the key").click()
    new_key = page.locator("#new-key").inner_text()
    assert key_user(web.runtime, new_key) is not None
    assert key_user(web.runtime, new_key).role == "manager"  # type: ignore[union-attr]
    shot(page, "admin-keys-created", full_page=True)
    page.goto("/admin/keys")
    assert page.locator("#new-key").count() == 0
    assert new_key not in page.content()
    assert "Reporting robot" in page.locator(f"#key-{_prefix(new_key)}").inner_text()
    shot(page, "admin-keys", full_page=True)


def test_given_an_admin_when_revoking_a_key_then_its_browser_session_ends_on_its_next_page(
        browser: Any, page: Any, web: Web) -> None:
    manager_key = web.key("manager")
    manager = new_page(browser, web)
    try:
        sign_in(manager, manager_key)
        assert manager.locator("h1").inner_text() == "Welcome, manager"
        sign_in(page, web.key("admin"))
        page.goto("/admin/keys")
        page.locator(f"#key-{_prefix(manager_key)}").get_by_role("button", name="Revoke").click()
        assert page.locator(".flash").inner_text() == f"Key {_prefix(manager_key)} is revoked."
        assert not _live(web, _prefix(manager_key))
        manager.reload()
        assert "/signin" in manager.url
        assert "revoked" in manager.locator(".flash").inner_text()
        shot(manager, "signed-out-by-revocation")
    finally:
        manager.context.close()


def test_given_a_form_without_its_csrf_token_when_posted_then_refused_and_nothing_changed(
        page: Any, web: Web) -> None:
    victim = web.key("manager")
    sign_in(page, web.key("admin"))
    page.goto("/admin/keys")
    row = page.locator(f"#key-{_prefix(victim)}")
    row.locator("input[name=csrf_token]").evaluate("input => input.remove()")
    with page.expect_navigation() as navigation:
        row.get_by_role("button", name="Revoke").click()
    assert navigation.value.status == 400
    assert page.locator("h1").inner_text() == "The form has expired or did not come from this site"
    assert _live(web, _prefix(victim))
    shot(page, "csrf-refused")


def test_the_session_cookie_is_httponly_and_samesite_lax_and_holds_no_key(page: Any, web: Web) -> None:
    key = web.key("manager")
    sign_in(page, key)
    cookie = next(c for c in page.context.cookies() if c["name"] == "qualify_session")
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Lax"
    assert cookie["secure"] is False  # served over plain http here; see tests of the https case
    assert page.evaluate("document.cookie") == ""
    assert key.split("_", 2)[2] not in cookie["value"]


def test_given_an_unknown_page_then_a_readable_404_page(page: Any, web: Web) -> None:
    answer = page.goto("/no-such-page")
    assert answer.status == 404
    assert page.locator("h1").inner_text() == "Page not found"
    shot(page, "not-found")
