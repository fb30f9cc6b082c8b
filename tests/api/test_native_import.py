"""POST /v1/connections/{id}/gates/import: the CRM's own required fields become gates (dry run first)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from adapters.sandbox.pipedrive import PipedriveSandbox
from tests.api.conftest import assert_problem, define_field


@pytest.fixture
def pipedrive() -> Iterator[PipedriveSandbox]:
    sandbox = PipedriveSandbox()
    sandbox.start()
    yield sandbox
    sandbox.stop()


@pytest.fixture
def connection(client: Any, admin_headers: dict[str, str], pipedrive: PipedriveSandbox) -> int:
    """A Pipedrive connection with pipelines mirrored and only the Budget property mapped."""
    body = {"name": "Pipedrive", "kind": "pipedrive", "base_url": pipedrive.base_url, "access_token": "sandbox-token",
            "webhook_password": "secret"}
    cid = int(client.post("/v1/connections", json=body, headers=admin_headers).get_json()["id"])
    assert client.post(f"/v1/connections/{cid}/pipelines/refresh", headers=admin_headers).status_code == 200
    define_field(client, admin_headers, "budget", "money")
    props = client.get(f"/v1/connections/{cid}/properties", headers=admin_headers).get_json()["items"]
    budget = next(p["name"] for p in props if p["label"] == "Budget")
    client.put(f"/v1/connections/{cid}/mappings", json={"mappings": [{"property": budget, "field": "budget"}]},
               headers=admin_headers)
    return cid


def test_a_dry_run_shows_the_gates_and_changes_nothing(client: Any, admin_headers: dict[str, str],
                                                       connection: int) -> None:
    plan = client.post(f"/v1/connections/{connection}/gates/import", json={}, headers=admin_headers).get_json()
    assert plan["dry_run"] is True
    assert plan["gates"] and {g["action"] for g in plan["gates"]} == {"create"}
    assert all(g["fields"] == ["budget"] for g in plan["gates"])
    assert any(s["reason"] == "not mapped to a Qualify field" for s in plan["skipped"])
    assert client.get("/v1/gates", headers=admin_headers).get_json()["total"] == 0


def test_applying_creates_the_gates_once(client: Any, admin_headers: dict[str, str], connection: int) -> None:
    applied = client.post(f"/v1/connections/{connection}/gates/import", json={"dry_run": False, "mode": "warn"},
                          headers=admin_headers).get_json()
    created = [g for g in applied["gates"] if g["action"] == "create"]
    gates = client.get("/v1/gates", headers=admin_headers).get_json()
    assert gates["total"] == len(created) > 0
    assert {g["mode"] for g in gates["items"]} == {"warn"}
    again = client.post(f"/v1/connections/{connection}/gates/import", json={"dry_run": False},
                        headers=admin_headers).get_json()
    assert {g["action"] for g in again["gates"]} == {"unchanged"}


def test_a_manager_cannot_import(client: Any, manager_headers: dict[str, str], connection: int) -> None:
    assert_problem(client.post(f"/v1/connections/{connection}/gates/import", json={}, headers=manager_headers), 403)
