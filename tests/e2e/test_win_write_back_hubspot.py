"""End to end on the HubSpot sandbox over HTTP: the win probability is written to a deal property the admin
created in the portal, through the outbox, by the worker — after a rebuild for an open deal that was there, and
with the best fit for a deal created afterwards."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import select

from service.models import Record
from service.services import win_models
from tests.e2e.conftest import MANAGER, Stack, wait_until
from tests.e2e.test_persona_flow import FILLED, WATCHED, create_persona

PROPERTY = "qualify_win_probability"
T0 = datetime(2025, 1, 1, tzinfo=UTC)


def create_property(stack: Stack) -> None:
    """The custom deal property, created as a HubSpot admin would (Properties API)."""
    token = stack.sandbox.access_token
    httpx.post(f"{stack.sandbox.base_url}/crm/v3/properties/deals", headers={"Authorization": f"Bearer {token}"},
               json={"name": PROPERTY, "label": "Qualify win probability", "type": "number",
                     "fieldType": "number", "groupName": "dealinformation"}).raise_for_status()


def closed_history(stack: Stack) -> None:
    """60 won and 60 lost deals in the default pipeline (retail mostly won, finance mostly lost), as a sync of a
    portal's history stores them."""
    rng = random.Random(7)
    with stack.runtime.uow() as uow:
        for i in range(120):
            won = i % 2 == 0
            industry = ("retail" if rng.random() < 0.8 else "finance") if won else \
                ("finance" if rng.random() < 0.8 else "retail")
            uow.session.add(Record(connection_id=stack.connection_id, external_id=f"h{i}",
                                   pipeline_external_id="default",
                                   stage_external_id="closedwon" if won else "closedlost",
                                   values={"industry": industry}, closed_at=T0 + timedelta(days=i)))
        uow.commit()


def new_deal(stack: Stack, name: str, **properties: str) -> str:
    """A deal the manager creates in the first stage, once Qualify stores it (looked up in the database: the
    history fills the records API's first page)."""
    deal = stack.sandbox.ui_create_deal({"dealname": name, "dealstage": "appointmentscheduled",
                                         "pipeline": "default", "hubspot_owner_id": "101", **properties},
                                        user_id=MANAGER)

    def stored() -> bool:
        with stack.runtime.read_uow() as uow:
            return uow.session.scalar(select(Record.id).where(Record.connection_id == stack.connection_id,
                                                              Record.external_id == deal)) is not None
    wait_until(stored)
    return deal


def expected_percent(stack: Stack, deal: str) -> str:
    """The deal's probability from the pipeline's current model, as Qualify shows it, in percent."""
    with stack.runtime.read_uow() as uow:
        record = uow.session.scalars(select(Record).where(Record.connection_id == stack.connection_id,
                                                          Record.external_id == deal)).one()
        found = win_models.win_probability(uow.session, record)
    assert found is not None and found["probability"] is not None, found
    return str(round(100 * found["probability"]))


def test_the_win_probability_reaches_the_deal_property_after_a_rebuild_and_with_the_best_fit(stack: Stack) -> None:
    create_property(stack)
    stack.api.patch(f"/v1/connections/{stack.connection_id}", json={"score_write_back": {
        "score": "qualify_fit_score", "win_probability": PROPERTY}}).raise_for_status()
    stack.sandbox_config(subscribed_properties=[*WATCHED, PROPERTY])
    create_persona(stack)
    closed_history(stack)
    before = new_deal(stack, "Before", **FILLED, industry="retail")
    wait_until(lambda: stack.sandbox.deal(before)["properties"].get("qualify_fit_score"), timeout=15)
    assert not stack.sandbox.deal(before)["properties"].get(PROPERTY)  # no model yet: nothing written

    rebuilt = stack.api.post("/v1/analytics/win-model/rebuild", json={"connection_id": stack.connection_id})
    assert rebuilt.status_code == 200, rebuilt.text
    assert [c["status"] for c in rebuilt.json()["changes"] if c["pipeline"] == "default"] == ["current"]
    expected = expected_percent(stack, before)
    wait_until(lambda: stack.sandbox.deal(before)["properties"].get(PROPERTY) == expected, timeout=15)

    after = new_deal(stack, "After", **FILLED, industry="finance")
    expected_after = expected_percent(stack, after)
    wait_until(lambda: stack.sandbox.deal(after)["properties"].get(PROPERTY) == expected_after, timeout=15)
    assert int(expected) > int(expected_after)  # the planted history: retail wins, finance loses
    stack.sandbox.wait_webhooks_idle()
    writes = [c for c in stack.reverts(after) if PROPERTY in str(c.get("json"))]
    assert len(writes) == 1, writes  # the echo of the write queued nothing more
