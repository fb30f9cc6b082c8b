"""Security findings of the production review, seen through the API: webhook secrets for admins only and
never cached, no webhook URL built from the Host header in production, immediate key revocation, throttled
failed authentication (never on webhooks), security headers and sanitized request ids."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from service.db import make_engine
from service.runtime import Runtime
from service.services.keys import list_keys, revoke_key
from tests.api.conftest import assert_problem, connection_body
from tests.conftest import make_key


def amocrm_body() -> dict[str, Any]:
    """A connection whose webhook URL carries Qualify's secret (amoCRM signs nothing)."""
    body = connection_body("http://127.0.0.1:9", kind="amocrm", access_token="amo-token")
    del body["client_secret"]
    return body


def test_given_an_amocrm_connection_when_a_manager_reads_it_then_no_webhook_url_and_nothing_cached(
        client: Any, admin_headers: dict[str, str], manager_headers: dict[str, str]) -> None:
    created = client.post("/v1/connections", json=amocrm_body(), headers=admin_headers)
    cid = created.get_json()["id"]

    as_admin = client.get(f"/v1/connections/{cid}", headers=admin_headers)
    as_manager = client.get(f"/v1/connections/{cid}", headers=manager_headers)
    listed = client.get("/v1/connections", headers=manager_headers).get_json()["items"]

    assert "?secret=" in as_admin.get_json()["webhook_url"]
    assert "webhook_url" not in as_manager.get_json() and all("webhook_url" not in c for c in listed)
    assert "secret=" not in as_manager.get_data(as_text=True)
    for response in (created, as_admin, as_manager):
        assert response.headers["Cache-Control"] == "no-store"


def test_given_production_without_a_public_url_then_the_webhook_url_is_never_taken_from_the_host_header(
        make_client: Callable[..., Any], admin_headers: dict[str, str], caplog: pytest.LogCaptureFixture) -> None:
    production = make_client(database_url="postgresql+psycopg://db.example/qualify")

    created = production.post("/v1/connections", json=amocrm_body(), headers={**admin_headers,
                                                                              "Host": "evil.example"})

    assert created.status_code == 201, created.get_json()
    assert created.get_json()["webhook_url"] is None
    assert "evil.example" not in created.get_data(as_text=True)
    assert any("QUALIFY_PUBLIC_URL is not set" in r.getMessage() for r in caplog.records)


def test_given_a_key_in_use_when_revoked_then_the_next_call_is_refused_at_once(
        client: Any, runtime: Runtime, manager_headers: dict[str, str]) -> None:
    assert client.get("/v1/fields", headers=manager_headers).status_code == 200
    prefix = manager_headers["Authorization"].split("_")[1]

    assert revoke_key(runtime, prefix) is True
    response = client.get("/v1/fields", headers=manager_headers)

    assert_problem(response, 401, detail_contains="revoked")
    assert [k["revoked_at"] is not None for k in list_keys(runtime) if k["prefix"] == prefix] == [True]
    assert revoke_key(runtime, prefix) is False


def test_given_repeated_bad_keys_from_one_address_then_429_with_retry_after_while_webhooks_still_answer(
        make_client: Callable[..., Any], runtime: Runtime) -> None:
    limited = make_client(auth_failures_per_minute=3)
    good = {"Authorization": f"Bearer {make_key(runtime, 'manager')}"}
    bad = {"Authorization": "Bearer qk_12345678_notarealkeynotarealkey"}

    refused = [limited.get("/v1/fields", headers=bad).status_code for _ in range(3)]
    throttled = limited.get("/v1/fields", headers=bad)
    also_throttled = limited.get("/v1/fields", headers=good)
    webhook = limited.post("/v1/webhooks/999", data=b"[]", content_type="application/json")

    assert refused == [401, 401, 401]
    assert_problem(throttled, 429)
    assert int(throttled.headers["Retry-After"]) > 0
    assert also_throttled.status_code == 429
    assert webhook.status_code == 404  # judged on its own merits, never throttled


def test_given_good_keys_then_any_number_of_calls_is_never_throttled(
        make_client: Callable[..., Any], runtime: Runtime) -> None:
    limited = make_client(auth_failures_per_minute=3)
    good = {"Authorization": f"Bearer {make_key(runtime, 'manager')}"}

    statuses = {limited.get("/v1/fields", headers=good).status_code for _ in range(10)}

    assert statuses == {200}


@pytest.mark.parametrize("path", ["/healthz", "/v1/fields", "/v1/webhooks/1"])
def test_every_answer_carries_the_security_headers(client: Any, path: str) -> None:
    response = client.get(path)

    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert "Strict-Transport-Security" not in response.headers  # plain http


def test_given_https_then_hsts_is_sent(client: Any) -> None:
    response = client.get("/healthz", base_url="https://qualify.example.com")

    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


@pytest.mark.parametrize("given, echoed", [
    ("req-42.a:b", True),
    ("bad id; X-Injected: 1", False),
    ("<script>alert(1)</script>", False),
    ("x" * 65, False),
])
def test_a_request_id_is_echoed_only_when_it_is_a_plain_token(client: Any, given: str, echoed: bool) -> None:
    response = client.get("/v1/fields", headers={"X-Request-Id": given})

    body = response.get_json()
    assert response.headers["X-Request-Id"] == body["request_id"]
    assert (body["request_id"] == given) is echoed
    assert "X-Injected" not in response.headers


def test_the_embedded_database_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "qualify.db"
    path.touch(mode=0o644)
    os.chmod(path, 0o644)
    fresh = tmp_path / "fresh.db"

    for file in (path, fresh):
        engine = make_engine(f"sqlite:///{file}")
        with engine.connect():
            pass
        engine.dispose()

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o600
