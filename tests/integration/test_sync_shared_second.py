"""A bulk import leaves many amoCRM leads sharing one (whole-second) modification time. amoCRM pages by
number, with no result cap, so sync must page straight through them: restarting the query at that
second, as HubSpot's capped search needs, would read the same leads forever."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from adapters.sandbox.amocrm import AmoCRMSandbox
from adapters.sandbox.amocrm_state import USER_ANNA
from service.models import Record
from service.runtime import Runtime
from tests.integration.syncing import UNLIMITED, connect, lower_search_cap, run_sync

CAP = 600  # the planning cap lowered so a few hundred leads stand for HubSpot's 10,000
LEADS = 1_500
IMPORTED_AT = 1_760_000_000


@pytest.fixture
def crm() -> Iterator[AmoCRMSandbox]:
    """An amoCRM sandbox where LEADS leads were imported in the same second (no webhooks sent)."""
    sandbox = AmoCRMSandbox(rate_limit=(10_000_000, 1.0))
    sandbox.start()
    with sandbox.lock:
        account = sandbox.account
        listener, account.listener = account.listener, None
        for i in range(LEADS):
            account.create_lead({"name": f"Imported {i}", "price": i}, USER_ANNA, at=IMPORTED_AT)
        account.listener = listener
    yield sandbox
    sandbox.stop()


def test_leads_sharing_one_second_beyond_the_cap_are_synced_once_each(
        runtime: Runtime, crm: AmoCRMSandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    lower_search_cap(monkeypatch, CAP, "amocrm")
    connection_id = connect(runtime, {
        "name": "amo", "kind": "amocrm", "base_url": crm.base_url, "access_token": crm.access_token,
        "account_id": str(crm.account_id), "rate_limits": {"default": UNLIMITED}})

    run = run_sync(runtime, connection_id)

    with runtime.read_uow() as uow:
        stored = uow.session.scalar(select(func.count()).select_from(Record)) or 0
        distinct = uow.session.scalar(select(func.count(func.distinct(Record.external_id)))) or 0
    assert (run.status, run.last_error) == ("done", None)
    with crm.lock:
        in_crm = len(crm.account.leads)
    assert stored == distinct == in_crm >= LEADS
    assert run.fetched == in_crm  # every lead read once: no window restarted at the shared second
