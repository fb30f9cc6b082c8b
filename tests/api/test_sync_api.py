"""/v1/connections/{id}/sync: queue a sync, read status and history; rate limits and interval on connections."""

from __future__ import annotations

from typing import Any

from service.runtime import Runtime
from service.services.sync_runs import run_queued_syncs
from tests.api.conftest import assert_problem


def test_given_a_connection_when_sync_is_requested_then_it_is_queued_and_reported(
        client: Any, admin_headers: dict[str, str], manager_headers: dict[str, str], connection: dict[str, Any],
        runtime: Runtime) -> None:
    queued = client.post(f"/v1/connections/{connection['id']}/sync", json={}, headers=admin_headers)
    assert queued.status_code == 202
    assert queued.json["status"] == "queued" and queued.json["full"] is False
    status = client.get(f"/v1/connections/{connection['id']}/sync", headers=manager_headers).json
    assert status["current"]["id"] == queued.json["id"]
    again = client.post(f"/v1/connections/{connection['id']}/sync", json={"full": True}, headers=admin_headers)
    assert_problem(again, 409)
    run_queued_syncs(runtime)
    status = client.get(f"/v1/connections/{connection['id']}/sync", headers=manager_headers).json
    assert status["current"] is None
    assert status["history"][0]["status"] == "done"
    assert status["history"][0]["pages"] >= 1


def test_a_manager_cannot_start_a_sync(
        client: Any, manager_headers: dict[str, str], connection: dict[str, Any]) -> None:
    assert_problem(client.post(f"/v1/connections/{connection['id']}/sync", json={}, headers=manager_headers), 403)


def test_sync_of_an_unknown_connection_is_404(client: Any, admin_headers: dict[str, str]) -> None:
    assert_problem(client.post("/v1/connections/9999/sync", json={}, headers=admin_headers), 404)
    assert_problem(client.get("/v1/connections/9999/sync", headers=admin_headers), 404)


def test_rate_limits_and_sync_interval_are_validated_and_returned(
        client: Any, admin_headers: dict[str, str], connection: dict[str, Any]) -> None:
    ok = client.patch(f"/v1/connections/{connection['id']}", headers=admin_headers,
                      json={"rate_limits": {"default": {"requests": 180, "seconds": 10}},
                            "sync_interval_seconds": 600})
    assert ok.status_code == 200
    assert ok.json["rate_limits"] == {"default": {"requests": 180, "seconds": 10.0}}
    assert ok.json["sync_interval_seconds"] == 600
    for bad in ({"rate_limits": {"burst": {"requests": 1, "seconds": 1}}},
                {"rate_limits": {"default": {"requests": 0, "seconds": 10}}},
                {"rate_limits": {"default": {"requests": 10}}}, {"sync_interval_seconds": 5}):
        assert_problem(client.patch(f"/v1/connections/{connection['id']}", headers=admin_headers, json=bad), 422)
