"""Guardrail: POST /v1/connections/{id}/test checks a connection before its first refresh or sync: the
token, the scopes, the pipelines and (where the CRM allows reading them) the webhook subscriptions."""

from __future__ import annotations

from typing import Any

from adapters.sandbox.hubspot import HubSpotSandbox
from tests.api.conftest import assert_problem, connection_body


def test_given_a_bad_access_token_when_testing_the_connection_then_the_auth_check_fails_with_a_reason(
        client: Any, admin_headers: dict[str, str], manager_headers: dict[str, str],
        sandbox: HubSpotSandbox) -> None:
    good = client.post("/v1/connections", json=connection_body(sandbox.base_url), headers=admin_headers).get_json()
    bad = client.post("/v1/connections", json=connection_body(sandbox.base_url, access_token="pat-typo"),
                      headers=admin_headers).get_json()

    passed = client.post(f"/v1/connections/{good['id']}/test", headers=admin_headers)
    failed = client.post(f"/v1/connections/{bad['id']}/test", headers=admin_headers)

    assert passed.status_code == 200, passed.get_json()
    assert passed.get_json()["ok"] is True
    checks = {c["name"]: c for c in passed.get_json()["checks"]}
    assert {"auth", "scopes", "pipelines", "webhooks"} <= set(checks)
    assert checks["pipelines"]["status"] == "ok" and "2 pipelines" in checks["pipelines"]["reason"]
    assert failed.status_code == 200, failed.get_json()
    assert failed.get_json()["ok"] is False
    auth = next(c for c in failed.get_json()["checks"] if c["name"] == "auth")
    assert auth["status"] == "failed" and "token" in auth["reason"].lower()
    assert_problem(client.post(f"/v1/connections/{good['id']}/test", headers=manager_headers), 403)
