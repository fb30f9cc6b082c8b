"""Moving secrets stored in plain text by earlier versions into the encrypted secrets: a CRM base URL that
carries a credential (Bitrix24's incoming-webhook URL) keeps only its public part. Run by `qualify migrate`,
after the schema migrations (it needs the encryption key, which Alembic does not have)."""

from __future__ import annotations

from sqlalchemy import select

from adapters.registry import kind_of
from service.crm import store_base_url
from service.models import Connection
from service.runtime import Runtime


def move_base_url_secrets(runtime: Runtime) -> int:
    """Move the secret part of every stored base URL into the connection's encrypted secrets; returns how
    many connections changed (0 when run again)."""
    moved = 0
    with runtime.uow() as uow:
        for row in uow.session.scalars(select(Connection).order_by(Connection.id)):
            if not kind_of(row.kind).split_base_url(row.base_url)[1]:
                continue
            secrets = runtime.secrets(row)
            row.base_url = store_base_url(row.kind, row.base_url, secrets)
            row.credentials_encrypted = runtime.vault.encrypt(secrets)
            row.config_version += 1
            moved += 1
        uow.commit()
    return moved
