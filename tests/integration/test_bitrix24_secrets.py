"""Security finding 1: a Bitrix24 incoming-webhook URL is a full REST credential. Its code is stored encrypted
(never in base_url), shown masked, kept out of every log line and stored error, and the raw deliveries are
stored without their auth tokens."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from adapters.sandbox.bitrix24 import Bitrix24Sandbox
from service import create_app
from service.logs import SecretFilter, secret_patterns
from service.models import Connection, InboundEvent, WebhookDelivery
from service.runtime import Runtime
from service.services.connections import get_connection, refresh_pipelines
from service.services.secret_upgrades import move_base_url_secrets
from tests.conftest import make_key
from tests.integration.syncing import connect

CODE = "sandboxtoken"  # the sandbox's incoming-webhook code (its REST credential)
APP_TOKEN = "apptoken-secret-42"


@pytest.fixture
def crm() -> Iterator[Bitrix24Sandbox]:
    """A Bitrix24 sandbox whose incoming-webhook URL carries CODE."""
    sandbox = Bitrix24Sandbox(webhook_token=CODE, application_token=APP_TOKEN)
    sandbox.start()
    yield sandbox
    sandbox.stop()


def bitrix24_body(crm: Bitrix24Sandbox, **changes: Any) -> dict[str, Any]:
    """A connection body for the sandbox, given its incoming-webhook URL as an admin pastes it."""
    return {"name": "b24", "kind": "bitrix24", "base_url": crm.incoming_webhook_url, "application_token": APP_TOKEN,
            "account_id": crm.settings.member_id, **changes}


def test_given_an_incoming_webhook_url_then_its_code_is_stored_encrypted_and_shown_masked(
        runtime: Runtime, crm: Bitrix24Sandbox, settings: Any) -> None:
    app = create_app(settings, runtime=runtime)
    admin = {"Authorization": f"Bearer {make_key(runtime, 'admin')}"}
    manager = {"Authorization": f"Bearer {make_key(runtime, 'manager')}"}
    client = app.test_client()

    created = client.post("/v1/connections", json=bitrix24_body(crm), headers=admin)
    cid = created.get_json()["id"]
    refreshed = client.post(f"/v1/connections/{cid}/pipelines/refresh", headers=admin)
    shown = [client.get(f"/v1/connections/{cid}", headers=h).get_data(as_text=True) for h in (admin, manager)]

    assert created.status_code == 201 and refreshed.status_code == 200, refreshed.get_json()
    assert refreshed.get_json()["pipelines"], "the adapter reached the portal with the stored code"
    assert all(CODE not in text for text in [*shown, created.get_data(as_text=True)])
    assert "/rest/1/" in created.get_json()["base_url"]  # masked, not dropped: the admin sees which user
    with runtime.read_uow() as uow:
        row = uow.session.scalars(select(Connection)).one()
        assert CODE not in row.base_url and CODE not in row.credentials_encrypted
    assert runtime.connector.settings(row).secrets["webhook_path"].endswith(CODE)


def test_given_a_connection_stored_by_an_older_version_when_migrated_then_the_code_moves_into_the_secrets(
        runtime: Runtime, crm: Bitrix24Sandbox) -> None:
    connection_id = connect(runtime, bitrix24_body(crm))
    with runtime.uow() as uow:  # as versions before the split stored it: the whole URL in plain text
        uow.session.execute(update(Connection).values(base_url=crm.incoming_webhook_url))
        uow.commit()

    moved, again = move_base_url_secrets(runtime), move_base_url_secrets(runtime)

    assert (moved, again) == (1, 0)
    view = get_connection(runtime, connection_id, "http://localhost/", admin=True)
    assert CODE not in str(view)
    assert refresh_pipelines(runtime, connection_id, "")["pipelines"]


def test_no_log_line_carries_the_code_and_stored_errors_neither(
        runtime: Runtime, crm: Bitrix24Sandbox, caplog: pytest.LogCaptureFixture) -> None:
    connection_id = connect(runtime, bitrix24_body(crm))
    crm.fail_next("500", count=4, method="crm.category.list")
    caplog.handler.addFilter(SecretFilter(secret_patterns()))
    logging.getLogger("test").warning("calling %s", crm.incoming_webhook_url + "crm.deal.get")

    with pytest.raises(Exception) as failed:
        refresh_pipelines(runtime, connection_id, "")

    assert CODE not in str(failed.value)
    assert CODE not in caplog.text and "[redacted]" in caplog.text


def test_a_delivery_is_stored_without_the_auth_tokens_bitrix24_sends_in_its_body(
        runtime: Runtime, crm: Bitrix24Sandbox, settings: Any) -> None:
    connection_id = connect(runtime, bitrix24_body(crm))
    app = create_app(settings, runtime=runtime)
    with app.test_client() as client:
        crm.settings.url = None  # the test posts the body itself, through the app
        deal = crm.ui_create_deal({"TITLE": "Acme", "CATEGORY_ID": "0", "STAGE_ID": "NEW"})
        from adapters.sandbox.bitrix24_events import event_body

        body = event_body(crm.settings, "ONCRMDEALUPDATE", int(deal), int(runtime.clock().timestamp()))
        answer = client.post(f"/v1/webhooks/{connection_id}", data=body,
                             content_type="application/x-www-form-urlencoded")

    assert answer.status_code == 200, answer.get_json()
    with runtime.read_uow() as uow:
        raw = uow.session.scalars(select(WebhookDelivery.body)).one()
        payloads = list(uow.session.scalars(select(InboundEvent.payload)))
    assert APP_TOKEN.encode() not in raw and b"redacted" in raw
    assert payloads and all(APP_TOKEN not in str(p) for p in payloads)
    assert httpx.QueryParams(raw.decode()).get("event") == "ONCRMDEALUPDATE"  # the rest is kept as sent
