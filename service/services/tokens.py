"""OAuth tokens kept in a connection's encrypted secrets, saved durably before they are used."""

from __future__ import annotations

from adapters.amocrm_oauth import OAuthTokens
from service.models import Connection
from service.runtime import Runtime
from service.services.kinds import tokens_of


class ConnectionTokenStore:
    """The adapter's TokenStore for one connection: every save is committed before it returns, so a
    rotated refresh token is never lost, and a failed refresh leaves the last good pair in place."""

    def __init__(self, runtime: Runtime, connection_id: int) -> None:
        self._runtime = runtime
        self._connection_id = connection_id

    def load(self) -> OAuthTokens:
        """The tokens as stored now (another worker may have rotated them)."""
        with self._runtime.read_uow() as uow:
            row = uow.session.get_one(Connection, self._connection_id)
            return tokens_of(self._runtime.vault.decrypt(row.credentials_encrypted))

    def save(self, tokens: OAuthTokens) -> None:
        """Store a new pair durably."""
        with self._runtime.uow() as uow:
            row = uow.session.get_one(Connection, self._connection_id)
            stored = self._runtime.vault.decrypt(row.credentials_encrypted)
            stored.update(access_token=tokens.access_token, refresh_token=tokens.refresh_token,
                          token_expires_at=tokens.expires_at)
            row.credentials_encrypted = self._runtime.vault.encrypt(stored)
            uow.commit()
