"""Bitrix24 pages deals by ID, not by modification time, so a page's newest modification says nothing
about the pages after it. Against the Bitrix24 sandbox on SQLite and PostgreSQL: a sync that stops after
its first page must leave the cursor where it was, so the next run still reads the deals of later pages
that were modified earlier."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from adapters.bitrix24 import Bitrix24Adapter
from adapters.sandbox.bitrix24 import Bitrix24Sandbox
from adapters.sandbox.bitrix24_state import PORTAL_TZ
from service.models import Connection, Record, SyncRun
from service.runtime import Runtime
from tests.integration.syncing import connect, run_sync

PAGE = Bitrix24Adapter.paging.page_size  # deals per sync page (several crm.deal.list calls of 50)
DEALS = PAGE + 200  # two sync pages
RECENT = 10  # the lowest ids, modified after all the others


@pytest.fixture
def crm() -> Iterator[Bitrix24Sandbox]:
    sandbox = Bitrix24Sandbox(leaky_bucket=(1_000_000.0, 1_000_000))
    sandbox.start()
    now = datetime.now(PORTAL_TZ).replace(microsecond=0)
    with sandbox.lock:
        portal = sandbox.portal
        listener, portal.listener = portal.listener, None
        for i in range(DEALS):
            deal = portal.deals[portal.create_deal({"TITLE": f"D{i}"}, 1)]
            at = now - timedelta(minutes=30) + timedelta(seconds=i) if i >= RECENT else now - timedelta(minutes=1)
            deal["DATE_CREATE"] = deal["DATE_MODIFY"] = at.isoformat()
        portal.listener = listener
    yield sandbox
    sandbox.stop()


def test_a_sync_stopped_after_a_page_keeps_the_cursor_so_later_pages_are_not_skipped(
        runtime: Runtime, crm: Bitrix24Sandbox) -> None:
    connection_id = connect(runtime, {"name": "b24", "kind": "bitrix24", "base_url": crm.incoming_webhook_url,
                                      "application_token": "apptoken", "account_id": "sandbox-member"})

    def stop_after_first_page(run: SyncRun) -> None:
        raise RuntimeError("the process stopped")  # after the page committed, as a crash would

    stopped = run_sync(runtime, connection_id, stop_after_first_page)
    assert stopped.status == "failed" and stopped.pages == 1
    with runtime.uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(Record)) == PAGE
        assert uow.session.get_one(Connection, connection_id).sync_cursor is None  # not this page's newest

    finished = run_sync(runtime, connection_id)
    assert finished.status == "done", finished.last_error
    with runtime.uow() as uow:
        stored = list(uow.session.scalars(select(Record.external_id)))
        cursor = uow.session.get_one(Connection, connection_id).sync_cursor
        newest = uow.session.scalar(select(func.max(Record.crm_modified_at)))
    assert len(stored) == len(set(stored)) >= DEALS
    assert cursor is not None and newest is not None and cursor.replace(tzinfo=None) == newest.replace(tzinfo=None)
