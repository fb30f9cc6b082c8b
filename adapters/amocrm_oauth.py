"""OAuth 2 tokens for amoCRM / Kommo: a TokenStore Protocol and a refreshing TokenManager.

Refresh: ``POST https://{subdomain}.amocrm.ru/oauth2/access_token`` with JSON
{client_id, client_secret, grant_type: "refresh_token", refresh_token, redirect_uri}, answered with
{token_type, expires_in, access_token, refresh_token} (https://developers.kommo.com/reference/get-token).
amoCRM rotates refresh tokens: the old one is dead once used, so the new pair is saved to the
store BEFORE it is used, and a failed refresh never overwrites the last good pair. Long-lived
tokens (no refresh token) are used as they are; a 401 then fails at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from adapters.base import OAuthTokens, TokenStore
from adapters.errors import CRMAuthError, CRMError, CRMRejected, CRMUnavailable
from adapters.http import Classifier, RetryPolicy, classify_response, send_with_retry
from adapters.ratelimit import Limiter

TOKEN_PATH = "/oauth2/access_token"
EXPIRY_SKEW = 60.0  # refresh this many seconds before expiry, so a call never starts with a dying token


class InMemoryTokenStore:
    """A TokenStore in memory (tests, long-lived tokens); thread-safe."""

    def __init__(self, tokens: OAuthTokens) -> None:
        self._tokens = tokens
        self._lock = threading.Lock()
        self.saves = 0

    def load(self) -> OAuthTokens:
        """The current tokens."""
        with self._lock:
            return self._tokens

    def save(self, tokens: OAuthTokens) -> None:
        """Replace the tokens."""
        with self._lock:
            self._tokens = tokens
            self.saves += 1


@dataclass(frozen=True)
class OAuthClient:
    """The integration's OAuth identity (Kommo: "client_id"/"client_secret" and its redirect URI)."""

    client_id: str
    client_secret: str
    redirect_uri: str = ""


class TokenManager:
    """Hands out a valid access token, refreshing it before expiry or after a 401.

    One lock per manager serializes refreshes; the store is re-read first, so a pair rotated by
    another worker sharing the store is adopted instead of refreshing with a dead token.
    """

    def __init__(
        self,
        store: TokenStore,
        client: OAuthClient | None,
        http: httpx.Client,
        *,
        limiter: Limiter | None = None,
        policy: RetryPolicy | None = None,
        classify: Classifier = classify_response,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._client = client
        self._http = http
        self._limiter = limiter
        self._policy = policy or RetryPolicy()
        self._classify = classify
        self._clock = clock
        self._lock = threading.Lock()

    def can_refresh(self, tokens: OAuthTokens) -> bool:
        """Whether a refresh is possible at all (refresh token and client credentials present)."""
        return bool(tokens.refresh_token and self._client and self._client.client_id)

    def refreshable(self) -> bool:
        """Whether the stored tokens can be refreshed."""
        return self.can_refresh(self._store.load())

    def access_token(self) -> str:
        """A token not about to expire; refreshes first when it is and a refresh is possible."""
        tokens = self._store.load()
        expiring = tokens.expires_at is not None and tokens.expires_at - EXPIRY_SKEW <= self._clock()
        if expiring and self.can_refresh(tokens):
            return self.refresh(tokens.access_token)
        return tokens.access_token

    def refresh(self, rejected_token: str) -> str:
        """A new access token after `rejected_token` expired or got a 401.

        Raises CRMAuthError when no refresh is possible or amoCRM refuses the refresh token
        (the stored pair is left untouched), CRMUnavailable/CRMRateLimited when it cannot be reached.
        """
        with self._lock:
            tokens = self._store.load()
            if tokens.access_token != rejected_token:
                return tokens.access_token  # someone else already rotated the pair
            if not self.can_refresh(tokens):
                raise CRMAuthError("amoCRM rejected the access token and no refresh token is available", status=401)
            assert self._client is not None and tokens.refresh_token is not None
            fresh = self._exchange(self._client, tokens.refresh_token)
            self._store.save(fresh)  # before first use: the old refresh token is already dead
            return fresh.access_token

    def _exchange(self, client: OAuthClient, refresh_token: str) -> OAuthTokens:
        body = {
            "client_id": client.client_id, "client_secret": client.client_secret,
            "grant_type": "refresh_token", "refresh_token": refresh_token, "redirect_uri": client.redirect_uri,
        }  # fmt: skip
        try:
            # Not idempotent: a refresh that reached amoCRM has consumed the refresh token.
            response = send_with_retry(self._http, "POST", TOKEN_PATH, limiter=self._limiter, policy=self._policy,
                                       idempotent=False, json=body, classify=self._classify)  # fmt: skip
        except (CRMRejected, CRMAuthError) as exc:
            raise CRMAuthError(f"amoCRM token refresh refused: {exc.message}", status=exc.status,
                               vendor_message=exc.vendor_message, body=exc.body) from None  # fmt: skip
        try:
            payload = response.json()
            access = str(payload["access_token"])
            expires_in = payload.get("expires_in")
        except (ValueError, KeyError, TypeError) as exc:
            raise CRMUnavailable(f"amoCRM token refresh answered an unusable body ({exc})",
                                 status=response.status_code) from None  # fmt: skip
        expires_at = self._clock() + float(expires_in) if expires_in is not None else None
        return OAuthTokens(access, str(payload.get("refresh_token") or refresh_token), expires_at)


def is_auth_failure(error: CRMError) -> bool:
    """A 401: the token is bad or expired (403/402 are permission and billing problems)."""
    return isinstance(error, CRMAuthError) and error.status == 401
