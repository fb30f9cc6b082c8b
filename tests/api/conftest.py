"""Fixtures for the API tests: a HubSpot sandbox over loopback, a connection configured against it,
apps built with changed settings, and helpers that check the problem+json envelope."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from adapters.sandbox.hubspot import HubSpotSandbox
from service import create_app
from service.config import Settings
from service.runtime import Runtime, build_runtime

SANDBOX_TOKEN = "pat-api-test-token"
SANDBOX_SECRET = "api-test-client-secret"
PORTAL = 62515  # the HubSpot portal of the webhook tests' connection
PROBLEM = "application/problem+json"
# Requests schemathesis generated in this session (set by test_schemathesis, shown in the summary).
GENERATED_CASES = pytest.StashKey[int]()


def assert_problem(response: Any, status: int, *, detail_contains: str | None = None) -> dict[str, Any]:
    """Assert an RFC 9457 problem answer with `status`; return its body."""
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    assert response.mimetype == PROBLEM, response.content_type
    body = response.get_json(force=True)
    assert {"type", "title", "status", "detail"} <= set(body), body
    assert body["status"] == status
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    assert "Traceback" not in response.get_data(as_text=True)
    if detail_contains is not None:
        assert detail_contains.lower() in body["detail"].lower(), body["detail"]
    return body  # type: ignore[no-any-return]


def error_paths(body: dict[str, Any]) -> set[str]:
    """The field paths a validation problem names in `errors`."""
    return set(body.get("errors") or {})


@pytest.fixture
def sandbox() -> Iterator[HubSpotSandbox]:
    """A started HubSpot simulator (seeded with a second pipeline and the portrait properties)."""
    crm = HubSpotSandbox(client_secret=SANDBOX_SECRET, access_token=SANDBOX_TOKEN)
    crm.start()
    yield crm
    crm.stop()


def connection_body(url: str, **changes: Any) -> dict[str, Any]:
    """A valid POST /v1/connections body pointing at `url`; `changes` override or add keys."""
    body = {"name": "Sandbox portal", "kind": "hubspot", "base_url": url, "access_token": SANDBOX_TOKEN,
            "client_secret": SANDBOX_SECRET}
    return {**body, **changes}


@pytest.fixture
def connection(client: Any, admin_headers: dict[str, str], sandbox: HubSpotSandbox) -> dict[str, Any]:
    """A connection to the sandbox with its pipelines refreshed; the refreshed API view."""
    created = client.post("/v1/connections", json=connection_body(sandbox.base_url), headers=admin_headers)
    assert created.status_code == 201, created.get_json()
    refreshed = client.post(f"/v1/connections/{created.get_json()['id']}/pipelines/refresh", headers=admin_headers)
    assert refreshed.status_code == 200, refreshed.get_json()
    return refreshed.get_json()  # type: ignore[no-any-return]


@pytest.fixture
def make_client(runtime: Runtime, settings: Settings) -> Callable[..., Any]:
    """Build a test client of an app (and runtime, on the same database) whose settings differ by `changes`."""

    def build(**changes: Any) -> Any:
        changed = dataclasses.replace(settings, **changes)
        application = create_app(changed, runtime=build_runtime(changed, engine=runtime.engine))
        application.testing = True
        return application.test_client()

    return build


def define_field(client: Any, headers: dict[str, str], key: str, type_: str = "text", **extra: Any) -> dict[str, Any]:
    """Create a field through the API and return it."""
    response = client.post("/v1/fields", json={"key": key, "label": key.replace("_", " ").title(), "type": type_,
                                               **extra}, headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()  # type: ignore[no-any-return]


def define_gate(client: Any, headers: dict[str, str], connection_id: int, stage: str, fields: list[str],
                pipeline: str = "default", mode: str = "enforce", **extra: Any) -> dict[str, Any]:
    """Create a gate requiring `fields` on `stage` (enforcing unless told: the API's default is audit) and return
    it as GET shows it (without the creation answer's `would_block`)."""
    body = {"connection_id": connection_id, "pipeline": pipeline, "stage": stage, "mode": mode,
            "requirements": [{"field": f} for f in fields], **extra}
    response = client.post("/v1/gates", json=body, headers=headers)
    assert response.status_code == 201, response.get_json()
    return {k: v for k, v in response.get_json().items() if k != "would_block"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Give each schemathesis item its own node id (`test[GET /path]`).

    schemathesis 4 passes the bare function name as `originalname`, from which pytest >= 9.1 builds
    the node id, so every operation's test would share one id (and one report line).
    """
    for item in items:
        if getattr(item, "operation_label", None) and item.nodeid.endswith(f"::{getattr(item, 'originalname', '')}"):
            item._id = item.parent.id.child(item.name)  # type: ignore[union-attr]


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """Report how many requests schemathesis generated, when it ran."""
    count = config.stash.get(GENERATED_CASES, None)
    if count is not None:
        terminalreporter.write_sep("-", f"schemathesis: {count} generated requests sent")


@pytest.fixture
def hook(client: Any, admin_headers: dict[str, str]) -> int:
    """A HubSpot connection receiving webhooks (no CRM calls are needed to receive)."""
    body = {"name": "Hooks", "kind": "hubspot", "access_token": "pat-unused", "client_secret": SANDBOX_SECRET,
            "account_id": str(PORTAL)}
    response = client.post("/v1/connections", json=body, headers=admin_headers)
    assert response.status_code == 201
    return int(response.get_json()["id"])
