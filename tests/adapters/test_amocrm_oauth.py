"""OAuth 2 token refresh with rotation against the amoCRM sandbox's /oauth2/access_token."""

from __future__ import annotations

import time

import pytest

from adapters.amocrm_oauth import InMemoryTokenStore, OAuthTokens
from adapters.errors import CRMAuthError, CRMUnavailable
from adapters.sandbox.amocrm import AmoCRMSandbox
from tests.adapters.amocrm_fixtures import amocrm_fixture, oauth_adapter  # noqa: F401


class RecordingStore(InMemoryTokenStore):
    """Remembers every saved pair and which access token the sandbox saw when it was saved."""

    def __init__(self, tokens: OAuthTokens, sandbox: AmoCRMSandbox) -> None:
        super().__init__(tokens)
        self.sandbox = sandbox
        self.history: list[tuple[OAuthTokens, int]] = []

    def save(self, tokens: OAuthTokens) -> None:
        self.history.append((tokens, len(self.sandbox.api_calls(path_prefix="/api/"))))
        super().save(tokens)


def initial(sb: AmoCRMSandbox, expires_at: float | None = None) -> OAuthTokens:
    return OAuthTokens(sb.access_token, sb.refresh_token, expires_at)


def test_given_401_when_calling_then_refreshes_saves_first_and_repeats(amocrm: AmoCRMSandbox) -> None:
    store = RecordingStore(initial(amocrm), amocrm)
    amocrm.fail_next("expire-token")
    with oauth_adapter(amocrm, store) as adapter:
        assert adapter.get_deal("30000001", []).id == "30000001"

    statuses = [(c["path"], c["status"]) for c in amocrm.api_calls()]
    assert statuses == [("/api/v4/leads/30000001", 401), ("/oauth2/access_token", 200),
                        ("/api/v4/leads/30000001", 200), ("/api/v4/account", 200)]  # the currency, read once
    ((saved, api_calls_before_save),) = store.history
    assert api_calls_before_save == 1  # saved before the repeated call used it
    assert (saved.access_token, saved.refresh_token) == (amocrm.access_token, amocrm.refresh_token)
    assert saved.expires_at is not None and saved.expires_at > time.time() + 3600
    body = amocrm.api_calls(path_prefix="/oauth2/")[0]["json"]
    assert body["grant_type"] == "refresh_token" and body["redirect_uri"] == "https://qualify.example/oauth"


def test_given_expired_tokens_when_calling_then_refreshes_before_the_call(amocrm: AmoCRMSandbox) -> None:
    store = InMemoryTokenStore(initial(amocrm, expires_at=time.time() - 5))
    with oauth_adapter(amocrm, store) as adapter:
        adapter.get_deal("30000001", [])
    assert [(c["path"], c["status"]) for c in amocrm.api_calls()] == [
        ("/oauth2/access_token", 200), ("/api/v4/leads/30000001", 200), ("/api/v4/account", 200)]
    assert store.load().access_token == amocrm.access_token


def test_given_rotation_when_refreshing_twice_then_old_refresh_token_is_dead(amocrm: AmoCRMSandbox) -> None:
    first = initial(amocrm)
    store = InMemoryTokenStore(first)
    with oauth_adapter(amocrm, store) as adapter:
        amocrm.fail_next("expire-token")
        adapter.get_deal("30000001", [])
        amocrm.fail_next("expire-token")
        adapter.get_deal("30000001", [])
    assert amocrm.refreshes == 2 and store.saves == 2
    stale = InMemoryTokenStore(first)
    with oauth_adapter(amocrm, stale) as adapter, pytest.raises(CRMAuthError, match="refresh refused"):
        adapter.get_deal("30000001", [])
    assert stale.load() == first  # nothing overwritten


def test_given_refresh_server_error_when_calling_then_last_good_tokens_kept_and_later_works(
    amocrm: AmoCRMSandbox,
) -> None:
    good = initial(amocrm)
    store = InMemoryTokenStore(good)
    amocrm.fail_next("expire-token")
    amocrm.fail_next("500", path_prefix="/oauth2/")
    with oauth_adapter(amocrm, store) as adapter:
        with pytest.raises(CRMUnavailable):
            adapter.get_deal("30000001", [])
        assert store.load() == good and store.saves == 0
        assert adapter.get_deal("30000001", []).id == "30000001"  # the refresh token still works
    assert store.saves == 1


def test_given_wrong_client_secret_when_refreshing_then_auth_error_and_tokens_kept(amocrm: AmoCRMSandbox) -> None:
    good = initial(amocrm)
    store = InMemoryTokenStore(good)
    amocrm.fail_next("expire-token")
    with oauth_adapter(amocrm, store) as adapter:
        amocrm.client_secret = "rotated-elsewhere"  # the adapter still holds the old one
        with pytest.raises(CRMAuthError) as info:
            adapter.get_deal("30000001", [])
    assert "Client authentication failed" in (info.value.vendor_message or "")
    assert store.load() == good


def test_given_no_refresh_token_when_401_then_fails_fast_without_refresh(amocrm: AmoCRMSandbox) -> None:
    store = InMemoryTokenStore(OAuthTokens("long-lived-but-revoked"))
    with oauth_adapter(amocrm, store) as adapter, pytest.raises(CRMAuthError) as info:
        adapter.get_deal("30000001", [])
    assert info.value.status == 401
    assert [c["path"] for c in amocrm.api_calls()] == ["/api/v4/leads/30000001"]


def test_given_pair_rotated_by_another_worker_when_401_then_adopts_it_without_refresh(
    amocrm: AmoCRMSandbox,
) -> None:
    store = InMemoryTokenStore(initial(amocrm))
    with oauth_adapter(amocrm, store) as worker_a, oauth_adapter(amocrm, store) as worker_b:
        worker_a.get_deal("30000001", [])
        amocrm.fail_next("expire-token")
        worker_a.get_deal("30000001", [])  # refreshes and saves to the shared store
        assert worker_b._tokens.refresh("some-older-token") == store.load().access_token
    assert amocrm.refreshes == 1
