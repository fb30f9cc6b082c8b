"""Intake verifies each delivery with the verifier of the connection version its process last read, and the write
checks that version: a connection changed by another process (another app on the same database here) is read
again, so the answers are those of a read before every delivery."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from service.models import EventStatus, InboundEvent
from service.runtime import Runtime
from tests.api.conftest import SANDBOX_SECRET, assert_problem
from tests.api.test_webhooks_api import deliver, event, stored


def test_given_another_process_rotated_the_secret_then_the_new_one_is_accepted_and_the_old_one_refused(
        client: Any, make_client: Callable[..., Any], admin_headers: dict[str, str], runtime: Runtime,
        hook: int) -> None:
    assert deliver(client, hook, json.dumps([event(1)]).encode()).status_code == 200  # this process read it
    other = make_client()
    changed = other.patch(f"/v1/connections/{hook}", json={"client_secret": "rotated"}, headers=admin_headers)
    assert changed.status_code == 200, changed.get_json()

    new = deliver(client, hook, json.dumps([event(2)]).encode(), secret="rotated")
    old = deliver(client, hook, json.dumps([event(3)]).encode(), secret=SANDBOX_SECRET)

    assert new.status_code == 200, new.get_json()
    assert_problem(old, 401)
    assert stored(runtime) == (2, 2)


def test_given_another_process_deactivated_the_connection_then_404_and_nothing_stored(
        client: Any, make_client: Callable[..., Any], admin_headers: dict[str, str], runtime: Runtime,
        hook: int) -> None:
    assert deliver(client, hook, json.dumps([event(1)]).encode()).status_code == 200
    assert make_client().delete(f"/v1/connections/{hook}", headers=admin_headers).status_code == 204

    response = deliver(client, hook, json.dumps([event(2)]).encode())

    assert_problem(response, 404)
    assert stored(runtime) == (1, 1)


def test_given_another_process_changed_the_connection_then_a_delivery_verified_with_the_old_version_is_stored(
        client: Any, make_client: Callable[..., Any], admin_headers: dict[str, str], runtime: Runtime,
        hook: int) -> None:
    first = event(1)
    assert deliver(client, hook, json.dumps([first]).encode()).status_code == 200
    changed = make_client().patch(f"/v1/connections/{hook}", json={"name": "Renamed"}, headers=admin_headers)
    assert changed.status_code == 200, changed.get_json()

    response = deliver(client, hook, json.dumps([event(2), first]).encode())

    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"received": 2, "stored": 1, "duplicates": 1}
    assert stored(runtime) == (2, 2)


def test_given_a_repeated_delivery_of_an_event_read_within_its_second_then_it_is_queued_again(
        client: Any, runtime: Runtime, hook: int) -> None:
    body = json.dumps([event(1)]).encode()
    assert deliver(client, hook, body).status_code == 200
    with runtime.uow() as uow:
        row = uow.session.scalars(select(InboundEvent)).one()
        row.status, row.started_at = EventStatus.DONE, row.occurred_at
        row.processed_at = row.occurred_at + timedelta(seconds=0.5)
        uow.commit()

    response = deliver(client, hook, body)

    assert response.get_json() == {"received": 1, "stored": 0, "duplicates": 1}
    with runtime.uow() as uow:
        row = uow.session.scalars(select(InboundEvent)).one()
        assert row.status == EventStatus.RECEIVED and row.processed_at is None
    assert stored(runtime) == (1, 1)
