"""The pages' guards seen over HTTP without a browser: cookie attributes under https, one session secret for
every process, the sign-in throttle, redirects that stay on the site, and the API left as it was."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from service import create_app
from service.config import Settings
from service.migrate import upgrade
from service.runtime import Runtime, build_runtime
from tests.conftest import TEST_FERNET_KEY, make_key

CSRF = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


@pytest.fixture(scope="module")
def base_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    folder = tmp_path_factory.mktemp("pages")
    return Settings(instance_path=str(folder / "instance"), secret_key=TEST_FERNET_KEY,
                    database_url=f"sqlite:///{folder / 'qualify.db'}", auth_failures_per_minute=0).resolved()


@pytest.fixture(scope="module")
def web_runtime(base_settings: Settings) -> Iterator[Runtime]:
    runtime = build_runtime(base_settings)
    upgrade(runtime.engine)
    yield runtime
    runtime.dispose()


def app_with(runtime: Runtime, settings: Settings, **changes: Any) -> Any:
    """An app on the module's database with some settings changed."""
    app = create_app(dataclasses.replace(settings, **changes), runtime=runtime)
    app.testing = True
    return app


def csrf_token(client: Any, base_url: str = "http://localhost") -> str:
    """The CSRF token of the sign-in form (fetching it also starts the client's session)."""
    match = CSRF.search(client.get("/signin", base_url=base_url).get_data(as_text=True))
    assert match, "the page has no CSRF token"
    return match.group(1)


def signed_in_client(app: Any, key: str, base_url: str = "http://localhost") -> Any:
    """A test client signed in with `key` through the sign-in form (over https a browser sends a Referer)."""
    client = app.test_client()
    answer = client.post("/signin", base_url=base_url, headers={"Referer": f"{base_url}/signin"},
                         data={"csrf_token": csrf_token(client, base_url), "api_key": key})
    assert answer.status_code == 302, answer.get_data(as_text=True)
    return client


def session_cookie(client: Any) -> Any:
    return client.get_cookie("qualify_session")


def test_given_an_https_public_url_then_the_session_cookie_is_secure(web_runtime: Runtime,
                                                                      base_settings: Settings) -> None:
    app = app_with(web_runtime, base_settings, public_url="https://qualify.example.com")
    answer = app.test_client().get("/signin")
    assert "; Secure" in answer.headers["Set-Cookie"]
    assert "; HttpOnly" in answer.headers["Set-Cookie"]
    assert "SameSite=Lax" in answer.headers["Set-Cookie"]


def test_given_a_request_over_https_then_the_session_cookie_is_secure_without_a_public_url(
        web_runtime: Runtime, base_settings: Settings) -> None:
    app = app_with(web_runtime, base_settings)
    client = signed_in_client(app, make_key(web_runtime, "manager"), base_url="https://localhost")
    assert session_cookie(client).secure is True
    assert "; Secure" not in app.test_client().get("/signin").headers["Set-Cookie"]


def test_given_two_processes_with_the_same_keys_then_each_reads_the_other_sessions(
        web_runtime: Runtime, base_settings: Settings, tmp_path: Path) -> None:
    first = signed_in_client(app_with(web_runtime, base_settings), make_key(web_runtime, "manager"))
    cookie = session_cookie(first).value
    second = app_with(web_runtime, base_settings).test_client()
    second.set_cookie("qualify_session", cookie)
    assert second.get("/").status_code == 200
    other_key = Fernet.generate_key().decode()
    stranger = build_runtime(dataclasses.replace(base_settings, secret_key=other_key))
    third = app_with(stranger, base_settings, secret_key=other_key).test_client()
    third.set_cookie("qualify_session", cookie)
    assert third.get("/").status_code == 302
    rotated = build_runtime(dataclasses.replace(base_settings, secret_key=f"{other_key},{TEST_FERNET_KEY}"))
    fourth = app_with(rotated, base_settings).test_client()
    fourth.set_cookie("qualify_session", cookie)
    assert fourth.get("/").status_code == 200
    for runtime in (stranger, rotated):
        runtime.dispose()


def test_given_failed_sign_ins_over_the_budget_then_429_even_with_a_good_key(
        web_runtime: Runtime, base_settings: Settings) -> None:
    app = app_with(web_runtime, base_settings, auth_failures_per_minute=2)
    client = app.test_client()
    token = csrf_token(client)
    bad = {"csrf_token": token, "api_key": "qk_00000000_wrong"}
    assert [client.post("/signin", data=bad).status_code for _ in range(2)] == [401, 401]
    answer = client.post("/signin", data={"csrf_token": token, "api_key": make_key(web_runtime, "admin")})
    assert answer.status_code == 429
    assert int(answer.headers["Retry-After"]) >= 1
    assert "Too many failed attempts" in answer.get_data(as_text=True)


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil.example", "javascript:x",
                                    "/\t/evil.example", "/home\\..\\\\evil.example"])
def test_given_a_next_outside_the_site_when_signing_in_then_home(web_runtime: Runtime, base_settings: Settings,
                                                                target: str) -> None:
    client = app_with(web_runtime, base_settings).test_client()
    answer = client.post("/signin", data={"csrf_token": csrf_token(client), "next": target,
                                          "api_key": make_key(web_runtime, "manager")})
    assert answer.headers["Location"] == "/"


def test_given_a_next_on_the_site_when_signing_in_then_back_there(web_runtime: Runtime,
                                                                 base_settings: Settings) -> None:
    client = app_with(web_runtime, base_settings).test_client()
    assert client.get("/admin/keys?x=1").headers["Location"] == "/signin?next=/admin/keys?x%3D1"
    answer = client.post("/signin", data={"csrf_token": csrf_token(client), "next": "/admin/keys?x=1",
                                          "api_key": make_key(web_runtime, "admin")})
    assert answer.headers["Location"] == "/admin/keys?x=1"


def test_pages_are_kept_out_of_caches_and_frames_and_load_only_qualify_assets(
        web_runtime: Runtime, base_settings: Settings) -> None:
    answer = app_with(web_runtime, base_settings).test_client().get("/signin")
    assert answer.headers["Cache-Control"] == "no-store"
    assert "default-src 'self'" in answer.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]
    assert answer.headers["X-Frame-Options"] == "DENY"
    assert not re.search(r'(?:src|href)="(?:https?:)?//', answer.get_data(as_text=True))


def test_the_api_answers_problem_json_as_before_even_to_a_browser(web_runtime: Runtime,
                                                                 base_settings: Settings) -> None:
    client = app_with(web_runtime, base_settings).test_client()
    html = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    assert client.get("/v1/no-such-thing", headers=html).mimetype == "application/problem+json"
    assert client.get("/v1/fields", headers=html).status_code == 401
    assert client.get("/no-such-page").mimetype == "application/problem+json"
    page = client.get("/no-such-page", headers=html)
    assert (page.status_code, page.mimetype) == (404, "text/html")
    assert "Set-Cookie" not in client.get("/healthz").headers


def test_web_routes_are_not_in_the_openapi_document(web_runtime: Runtime, base_settings: Settings) -> None:
    app = app_with(web_runtime, base_settings)
    pages = {rule.rule for rule in app.url_map.iter_rules() if rule.endpoint.startswith(("web.", "admin."))}
    assert {"/", "/signin", "/signout", "/language", "/admin/keys"} <= pages
    documented = set(app.test_client().get("/openapi.json").get_json()["paths"])
    assert documented
    assert not documented & pages


def test_given_an_unexpected_error_on_a_page_then_a_readable_500_page_without_internals(
        web_runtime: Runtime, base_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(runtime: Runtime) -> list[dict[str, Any]]:
        raise RuntimeError("secret internals")

    monkeypatch.setattr("service.web.admin.list_keys", broken)
    client = signed_in_client(app_with(web_runtime, base_settings), make_key(web_runtime, "admin"))
    answer = client.get("/admin/keys", headers={"X-Request-Id": "req-500"})
    text = answer.get_data(as_text=True)
    assert (answer.status_code, answer.mimetype) == (500, "text/html")
    assert "Something went wrong" in text
    assert "req-500" in text
    assert "secret internals" not in text
