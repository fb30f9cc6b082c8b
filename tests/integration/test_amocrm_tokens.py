"""amoCRM OAuth tokens live in the connection's encrypted secrets: rotated pairs are saved before use,
and a failed refresh keeps the last good pair (real sandbox over loopback, real database)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from adapters.errors import CRMAuthError
from adapters.sandbox.amocrm import AmoCRMSandbox
from service.models import Connection
from service.runtime import Runtime
from service.services.connections import add_connection


@pytest.fixture
def amo() -> Iterator[AmoCRMSandbox]:
    sandbox = AmoCRMSandbox()
    sandbox.start()
    yield sandbox
    sandbox.stop()


def stored(runtime: Runtime, cid: int) -> dict[str, Any]:
    with runtime.uow() as uow:
        return runtime.secrets(uow.session.get_one(Connection, cid))


def connect(runtime: Runtime, amo: AmoCRMSandbox) -> int:
    with runtime.uow() as uow:
        row = add_connection(runtime, uow.session, {
            "name": "amo", "kind": "amocrm", "base_url": amo.base_url, "access_token": amo.access_token,
            "refresh_token": amo.refresh_token, "client_secret": amo.client_secret, "app_id": amo.client_id})
        uow.commit()
        return row.id


def adapter(runtime: Runtime, cid: int) -> Any:
    with runtime.uow() as uow:
        return runtime.adapter(uow.session.get_one(Connection, cid))


def test_an_expired_token_is_refreshed_and_the_rotated_pair_is_stored(runtime: Runtime, amo: AmoCRMSandbox) -> None:
    cid = connect(runtime, amo)
    before = stored(runtime, cid)
    amo.fail_next("expire-token")
    assert adapter(runtime, cid).list_pipelines()
    after = stored(runtime, cid)
    assert after["refresh_token"] != before["refresh_token"]
    assert after["access_token"] != before["access_token"]
    assert adapter(runtime, cid).list_pipelines()  # a new adapter works with the stored pair


def test_a_failed_refresh_keeps_the_last_good_tokens(runtime: Runtime, amo: AmoCRMSandbox) -> None:
    cid = connect(runtime, amo)
    before = stored(runtime, cid)
    amo.fail_next("expire-token")
    amo.fail_next("401", count=3, path_prefix="/oauth2/")
    with pytest.raises(CRMAuthError):
        adapter(runtime, cid).list_pipelines()
    after = stored(runtime, cid)
    assert (after["access_token"], after["refresh_token"]) == (before["access_token"], before["refresh_token"])
