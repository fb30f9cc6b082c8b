"""Sync fetches the next page while it writes the current one: against the HubSpot sandbox on SQLite and
PostgreSQL, a CRM failure on a prefetched page keeps every page committed before it (the next run resumes
there, each deal stored once), and the adapter is never used by two threads at once."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from adapters.registry import kind_of
from adapters.sandbox.hubspot import HubSpotSandbox
from service.models import Connection, Record, SyncRun
from service.runtime import Runtime
from tests.integration.syncing import connect_hubspot, hubspot_with_deals, run_sync

PAGE_SIZE = kind_of("hubspot").paging.page_size

DEALS = 1_000  # five pages
TOKEN = "pat-prefetch-test"
SEARCH = "/crm/v3/objects/deals/search"


@pytest.fixture
def crm() -> Iterator[HubSpotSandbox]:
    with hubspot_with_deals(TOKEN, DEALS) as sandbox:
        yield sandbox


class Overlap:
    """Counts the adapter calls in flight across threads and keeps the most seen at once."""

    def __init__(self) -> None:
        self.lock, self.now, self.most, self.calls = threading.Lock(), 0, 0, 0

    def wrap(self, call: Callable[..., Any]) -> Callable[..., Any]:
        def counted(*args: Any, **kwargs: Any) -> Any:
            with self.lock:
                self.now += 1
                self.calls += 1
                self.most = max(self.most, self.now)
            try:
                return call(*args, **kwargs)
            finally:
                with self.lock:
                    self.now -= 1
        return counted


@pytest.fixture
def overlap(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> Overlap:
    """Every adapter the runtime builds reports its calls to one Overlap."""
    seen, build = Overlap(), runtime.adapter

    def adapter(connection: Any) -> Any:
        real = build(connection)
        real.search_deals_modified_since = seen.wrap(real.search_deals_modified_since)  # type: ignore[method-assign]
        real.get_deal = seen.wrap(real.get_deal)  # type: ignore[method-assign]
        return real

    monkeypatch.setattr(runtime, "adapter", adapter)
    return seen


def test_a_failure_on_a_prefetched_page_keeps_the_pages_before_it_and_the_next_run_resumes_there(
        runtime: Runtime, crm: HubSpotSandbox, overlap: Overlap) -> None:
    connection_id = connect_hubspot(runtime, crm, TOKEN)

    def fail_after_first_page(run: SyncRun) -> None:
        if run.pages == 1:  # page 2 is fetched ahead while page 1 is written: the failure hits page 3
            deadline = time.monotonic() + 10  # on a busy machine the fetch ahead may not have asked yet
            while len(crm.api_calls("POST", SEARCH)) < 2 and time.monotonic() < deadline:
                time.sleep(0.01)
            crm.fail_next("401", count=1, path_prefix=SEARCH)  # 401 is never retried

    failed = run_sync(runtime, connection_id, fail_after_first_page)
    assert failed.status == "failed" and "CRMAuthError" in (failed.last_error or "")
    assert (failed.pages, failed.fetched) == (2, 2 * PAGE_SIZE)
    with runtime.uow() as uow:
        kept = uow.session.scalar(select(func.count()).select_from(Record))
        cursor = uow.session.get_one(Connection, connection_id).sync_cursor
        newest = uow.session.scalar(select(func.max(Record.crm_modified_at)))
    assert kept == 2 * PAGE_SIZE
    assert cursor is not None and newest is not None and cursor.replace(tzinfo=None) == newest.replace(tzinfo=None)

    resumed = run_sync(runtime, connection_id)
    assert resumed.status == "done", resumed.last_error
    with runtime.uow() as uow:
        stored = list(uow.session.scalars(select(Record.external_id)))
    assert len(stored) == len(set(stored)) == DEALS
    assert overlap.calls > 5 and overlap.most == 1


def test_moved_deals_are_read_while_no_page_is_being_fetched(
        runtime: Runtime, crm: HubSpotSandbox, overlap: Overlap) -> None:
    connection_id = connect_hubspot(runtime, crm, TOKEN)
    assert run_sync(runtime, connection_id).status == "done"
    with crm.lock:
        ids = sorted(deal.id for deal in crm.portal.live("deals"))
    for deal_id in ids[::3]:  # moved deals on every page, each read in full with get_deal
        crm.ui_move_deal(deal_id, "qualifiedtobuy")
    crm.fail_next("timeout", count=5, path_prefix=SEARCH, delay=0.3)  # slow searches: a fetch would overlap
    before = overlap.calls
    run = run_sync(runtime, connection_id)
    assert run.status == "done", run.last_error
    assert run.moves == len(ids[::3])
    assert overlap.calls - before >= len(ids[::3]) and overlap.most == 1
