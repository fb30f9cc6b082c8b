"""Security finding 1, adapters part: a Bitrix24 incoming-webhook URL is a full REST credential. The registry
splits it into the portal (stored, shown) and the webhook path (encrypted), shows it masked, redacts the auth
tokens of stored bodies, and no log pattern match or raised error carries the code."""

from __future__ import annotations

import logging
from urllib.parse import quote

import httpx
import pytest

from adapters.bitrix24_secrets import SECRET_PATTERNS, rest_url
from adapters.errors import CRMAuthError, CRMError, CRMUnavailable
from adapters.formdata import parse_php_form
from adapters.kind import ConnectionSettings
from adapters.leaky_bucket import LeakyBucket
from adapters.redaction import REDACTED, redact_text
from adapters.registry import REGISTRY, kind_of
from adapters.sandbox.bitrix24 import Bitrix24Sandbox
from adapters.sandbox.bitrix24_events import EventSettings, event_body
from tests.adapters.bitrix24_fixtures import FAST, bitrix24_fixture, make_adapter, receiver_fixture  # noqa: F401

BITRIX24 = kind_of("bitrix24")
PORTAL = "https://portal.bitrix24.ru"
CODE = "abc123secretcode"
HOOK = f"{PORTAL}/rest/1/{CODE}/"


def settings(base_url: str, **secrets: str) -> ConnectionSettings:
    return ConnectionSettings("bitrix24", base_url, "member-1", secrets={"application_token": "app-token", **secrets})


@pytest.mark.parametrize("given", [HOOK, HOOK.rstrip("/")])
def test_given_an_incoming_webhook_url_when_split_then_the_portal_is_stored_and_the_path_is_a_secret(
        given: str) -> None:
    assert BITRIX24.split_base_url(given) == (PORTAL, {"webhook_path": f"rest/1/{CODE}"})


@pytest.mark.parametrize("portal", [PORTAL, f"{PORTAL}/", f"{PORTAL}/rest/", "http://127.0.0.1:8123"])
def test_given_a_portal_url_without_a_webhook_path_when_split_then_it_passes_unchanged(portal: str) -> None:
    assert BITRIX24.split_base_url(portal) == (portal, {})


def test_given_a_portal_under_a_path_when_split_then_the_prefix_stays_with_the_portal() -> None:
    assert BITRIX24.split_base_url(f"https://crm.example.com/b24/rest/7/{CODE}/") == (
        "https://crm.example.com/b24", {"webhook_path": f"rest/7/{CODE}"})


@pytest.mark.parametrize("stored", [
    settings(PORTAL, webhook_path=f"rest/1/{CODE}"),  # as the service stores it now
    settings(HOOK),  # a legacy row: the whole URL in base_url
])  # fmt: skip
def test_given_a_stored_webhook_when_shown_then_the_user_shows_and_the_code_never(stored: ConnectionSettings) -> None:
    shown = BITRIX24.shown_base_url(stored)

    assert shown == f"{PORTAL}/rest/1/•••/"
    assert CODE not in shown


def test_given_an_oauth_portal_when_shown_then_as_stored() -> None:
    assert BITRIX24.shown_base_url(settings(PORTAL, access_token="t")) == PORTAL


def test_given_the_other_crms_then_their_base_urls_are_stored_and_shown_whole_and_bodies_kept() -> None:
    for kind in (k for name, k in REGISTRY.items() if name != "bitrix24"):
        url = "https://acme.example.com/api"
        assert kind.split_base_url(url) == (url, {})
        assert kind.shown_base_url(ConnectionSettings(kind.name, url)) == url
        assert kind.redact_body(b'{"a": 1}', {}) == b'{"a": 1}'


def test_given_a_delivery_with_every_auth_secret_when_redacted_then_only_their_values_change() -> None:
    auth = EventSettings(url=None, application_token="app-secret-1", member_id="m1", domain="portal.bitrix24.ru",
                         client_endpoint=f"{PORTAL}/rest/")  # fmt: skip
    body = (event_body(auth, "ONCRMDEALUPDATE", 759, 1736405807) + "&auth%5Baccess_token%5D=acc-secret-2"
            "&auth[refresh_token]=ref-secret-3&auth[ANOTHER_TOKEN]=oth-secret-4&auth[expires_in]=3600").encode()

    redacted = BITRIX24.redact_body(body, {"Content-Type": "application/x-www-form-urlencoded"})

    assert not any(s in redacted for s in (b"app-secret-1", b"acc-secret-2", b"ref-secret-3", b"oth-secret-4"))
    form = parse_php_form(redacted)
    assert set(form["auth"].values()) >= {REDACTED, "m1", "portal.bitrix24.ru", "3600"}
    assert form["auth"]["application_token"] == form["auth"]["ANOTHER_TOKEN"] == REDACTED
    unchanged = [part for part in body.split(b"&") if b"token" not in part.lower()]
    assert [part for part in redacted.split(b"&") if b"token" not in part.lower()] == unchanged


def test_given_text_with_a_webhook_url_when_redacted_with_the_patterns_then_the_code_is_gone() -> None:
    lines = [f'HTTP Request: POST {HOOK}crm.deal.get.json "HTTP/1.1 200 OK"', f"base_url={HOOK}",
             f"webhook_path=rest/1/{CODE}", f"next={quote(HOOK, safe='')}"]  # fmt: skip

    redacted = [redact_text(line, SECRET_PATTERNS) for line in lines]

    assert all(CODE not in line and REDACTED in line for line in redacted), redacted
    assert redacted[0] == f'HTTP Request: POST {PORTAL}/rest/[redacted]/crm.deal.get.json "HTTP/1.1 200 OK"'
    assert BITRIX24.redact("GET /rest/crm.deal.get.json") == "GET /rest/crm.deal.get.json"  # OAuth: no secret


def test_given_qualifys_webhook_urls_then_amocrm_and_pipedrive_patterns_redact_their_tokens() -> None:
    for name, param in (("amocrm", "secret"), ("pipedrive", "token")):
        line = f'"POST /v1/webhooks/3?{param}=tok-0123456789abcdef&x=1 HTTP/1.1" 200'
        assert kind_of(name).redact(line) == f'"POST /v1/webhooks/3?{param}=[redacted]&x=1 HTTP/1.1" 200'


def test_given_a_stored_webhook_path_then_the_endpoint_deal_links_and_portal_check_need_no_legacy_url() -> None:
    split = settings(PORTAL, webhook_path=f"rest/1/{CODE}")

    assert rest_url(split.base_url, split.secret("webhook_path")) == rest_url(HOOK, "") == HOOK
    BITRIX24.check_settings(PORTAL, {"webhook_path": f"rest/1/{CODE}"})
    assert BITRIX24.deal_url(split, "42") == BITRIX24.deal_url(settings(HOOK), "42") == f"{PORTAL}/crm/deal/details/42/"
    verifier = BITRIX24.build_verifier(split, 300)
    assert callable(verifier.verify)


@pytest.mark.parametrize("path", ["rest/x/abc", "../../admin", "rest/1/", "rest/1/a/b"])
def test_given_an_unreadable_stored_webhook_path_then_refused_without_quoting_it(path: str) -> None:
    with pytest.raises(ValueError) as refused:
        BITRIX24.check_settings(PORTAL, {"webhook_path": path})
    with pytest.raises(CRMAuthError) as incomplete:
        BITRIX24.build_adapter(settings(PORTAL, webhook_path=path), limiter=None, transport=None)

    assert path not in str(refused.value) and path not in str(incomplete.value)


def deal_title(bitrix24: Bitrix24Sandbox, stored: ConnectionSettings) -> str | None:
    adapter = BITRIX24.build_adapter(stored, limiter=LeakyBucket(1000.0, 1000), transport=None)
    with adapter:
        return adapter.get_deal(bitrix24.ui_create_deal({"TITLE": "Acme"}), []).name


def test_given_the_portal_and_webhook_path_or_the_legacy_url_then_the_adapter_calls_the_same_endpoint(
        bitrix24: Bitrix24Sandbox) -> None:
    portal, parts = BITRIX24.split_base_url(bitrix24.incoming_webhook_url)
    legacy = settings(bitrix24.incoming_webhook_url)

    assert deal_title(bitrix24, settings(portal, **parts)) == deal_title(bitrix24, legacy) == "Acme"
    calls = bitrix24.api_calls("crm.deal.get")
    assert [call["auth"] for call in calls] == ["webhook", "webhook"] and portal == bitrix24.base_url


@pytest.mark.parametrize(("mode", "error"), [
    ("500", CRMUnavailable), ("401", CRMAuthError), ("proxy_502", CRMUnavailable), ("proxy_401", CRMAuthError),
])  # fmt: skip
def test_given_a_failing_bitrix24_call_then_the_error_never_carries_the_webhook_code(
        bitrix24: Bitrix24Sandbox, mode: str, error: type[CRMError], caplog: pytest.LogCaptureFixture) -> None:
    bitrix24.fail_next(mode, count=FAST.max_attempts, method="crm.deal.get")
    code = bitrix24.webhook_token
    caplog.set_level(logging.WARNING)

    with make_adapter(bitrix24) as adapter, pytest.raises(error) as failed:
        adapter.get_deal("1", [])

    shown = [str(failed.value), repr(failed.value), failed.value.body or "", failed.value.vendor_message or ""]
    assert all(code not in text for text in shown), shown
    assert code not in caplog.text  # the retry log lines name the method's relative path only
    if mode.startswith("proxy"):
        assert f"/rest/{REDACTED}/crm.deal.get.json" in (failed.value.body or "")  # the page, redacted


def test_given_an_oauth_token_echoed_in_an_error_then_it_is_redacted_too() -> None:
    echo = httpx.MockTransport(lambda request: httpx.Response(400, text=request.content.decode()))
    stored = settings(PORTAL, access_token="oauth-token-0123456789")
    adapter = BITRIX24.build_adapter(stored, limiter=LeakyBucket(1000.0, 1000), transport=echo)

    with adapter, pytest.raises(CRMError) as failed:
        adapter.get_deal("1", [])

    assert "oauth-token-0123456789" not in f"{failed.value} {failed.value.body}"
