"""Sync over more deals than HubSpot's search serves per query (its 10,000-result window), end to end
against the HubSpot sandbox on SQLite and PostgreSQL.

Both caps are lowered to CAP so 1,500 deals need three query windows: the sandbox's (the same check
that answers 400 past 10,000) and the one sync plans its windows by.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from adapters.registry import kind_of
from adapters.sandbox import hubspot_search
from adapters.sandbox.hubspot import HubSpotSandbox
from service.models import Record, SyncRun
from service.runtime import Runtime
from tests.integration.syncing import connect_hubspot, hubspot_with_deals, lower_search_cap, run_sync

CAP = 600
DEALS = 1_500
TOKEN = "pat-cap-test"
SEARCH = "/crm/v3/objects/deals/search"


@pytest.fixture
def crm(monkeypatch: pytest.MonkeyPatch) -> Iterator[HubSpotSandbox]:
    """A sandbox holding DEALS deals whose search refuses to page past CAP results."""
    monkeypatch.setattr(hubspot_search, "MAX_RESULTS", CAP)
    with hubspot_with_deals(TOKEN, DEALS) as sandbox:
        yield sandbox


def synced(runtime: Runtime, sandbox: HubSpotSandbox) -> SyncRun:
    """A first sync of a new connection to the sandbox; the finished run."""
    return run_sync(runtime, connect_hubspot(runtime, sandbox, TOKEN))


def test_given_more_deals_than_the_search_cap_when_synced_then_every_deal_is_stored_exactly_once(
        runtime: Runtime, crm: HubSpotSandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    lower_search_cap(monkeypatch, CAP)
    run = synced(runtime, crm)
    assert run.status == "done", run.last_error
    with runtime.uow() as uow:
        stored = list(uow.session.scalars(select(Record.external_id)))
    with crm.lock:
        expected = {deal.id for deal in crm.portal.live("deals")}
    assert len(stored) == len(set(stored)) == DEALS
    assert set(stored) == expected
    # Deals sharing the instant a window restarts at are read again, and counted as updates, not records.
    assert run.created == DEALS and run.fetched == run.created + run.updated
    searches = crm.api_calls(method="POST", path_prefix=SEARCH)
    assert {call["status"] for call in searches} == {200}
    assert max(int(call["json"].get("after") or 0) for call in searches) == CAP - kind_of("hubspot").paging.page_size
    windows = {call["json"]["filterGroups"][0]["filters"][0]["value"] for call in searches}
    assert len(windows) == 3


def test_without_the_window_split_the_capped_sandbox_refuses_the_sync(runtime: Runtime, crm: HubSpotSandbox) -> None:
    run = synced(runtime, crm)  # sync still plans by HubSpot's real 10,000: it pages past CAP
    assert run.status == "failed"
    assert f"limited to {CAP} records" in (run.last_error or "")
