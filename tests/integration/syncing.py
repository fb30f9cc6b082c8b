"""Helpers for the integration tests that sync a sandbox: connect it without rate limits, run one sync."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from adapters.registry import REGISTRY
from adapters.sandbox.hubspot import HubSpotSandbox
from service.models import SyncRun
from service.runtime import Runtime
from service.services import sync, sync_runs
from service.services.connections import add_connection, refresh_pipelines

UNLIMITED = {"requests": 1_000_000, "seconds": 1}
SANDBOX_UNLIMITED = (10_000_000, 1.0)


@contextmanager
def hubspot_with_deals(token: str, deals: int) -> Iterator[HubSpotSandbox]:
    """A running HubSpot sandbox without rate limits holding `deals` new deals, stopped afterwards."""
    sandbox = HubSpotSandbox(access_token=token, rate_limit=SANDBOX_UNLIMITED, search_rate_limit=SANDBOX_UNLIMITED)
    sandbox.start()
    try:
        for i in range(deals):
            sandbox.ui_create_deal({"dealname": f"D{i}", "dealstage": "appointmentscheduled", "pipeline": "default"})
        yield sandbox
    finally:
        sandbox.stop()


def connect(runtime: Runtime, payload: dict[str, Any]) -> int:
    """A new connection from `payload` with its pipelines read; its id."""
    with runtime.uow() as uow:
        connection = add_connection(runtime, uow.session, payload)
        uow.commit()
        connection_id = connection.id
    refresh_pipelines(runtime, connection_id, "")
    return connection_id


def connect_hubspot(runtime: Runtime, sandbox: HubSpotSandbox, token: str) -> int:
    """A HubSpot connection to `sandbox` with both of its rate-limit buckets lifted."""
    return connect(runtime, {"name": "hubspot", "kind": "hubspot", "base_url": sandbox.base_url,
                             "access_token": token, "client_secret": "s",
                             "rate_limits": {"default": UNLIMITED, "search": UNLIMITED}})


def lower_search_cap(monkeypatch: pytest.MonkeyPatch, cap: int, kind: str = "hubspot") -> None:
    """Make the registry say the CRM's search serves at most `cap` results per query (for this test)."""
    entry = REGISTRY[kind]
    monkeypatch.setitem(REGISTRY, kind, dataclasses.replace(
        entry, paging=dataclasses.replace(entry.paging, result_cap=cap)))


def run_sync(runtime: Runtime, connection_id: int, progress: sync.Progress | None = None) -> SyncRun:
    """Queue and run one incremental sync of the connection; the finished run."""
    run_id = sync_runs.queue_sync(runtime, connection_id, full=False, trigger="test")["id"]
    sync_runs.run_queued_syncs(runtime, progress)
    with runtime.uow() as uow:
        return uow.session.get_one(SyncRun, run_id)
