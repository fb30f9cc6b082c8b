"""CRM credentials are stored encrypted: the raw column never holds the token."""

from __future__ import annotations

from sqlalchemy import text

from service.runtime import Runtime
from service.services.connections import add_connection


def test_the_access_token_is_not_readable_in_the_database(runtime: Runtime) -> None:
    token = "pat-na1-0123456789-secret"
    with runtime.uow() as uow:
        add_connection(runtime, uow.session, {"name": "c", "kind": "hubspot", "base_url": None,
                                         "access_token": token, "client_secret": "shh"})
        uow.commit()
    with runtime.engine.connect() as conn:
        dump = " ".join(str(v) for row in conn.execute(text("SELECT * FROM connections")) for v in row)
    assert token not in dump and "shh" not in dump
    with runtime.uow() as uow:
        from service.models import Connection

        row = uow.session.query(Connection).one()
        assert runtime.connector.settings(row).secret("access_token") == token
        assert row.base_url == "https://api.hubapi.com"
