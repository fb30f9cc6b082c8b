"""Bitrix24WebhookVerifier and event parsing, on the documented body and the sandbox's POSTs."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from urllib.parse import quote, unquote

import pytest

from adapters.bitrix24_webhooks import Bitrix24WebhookVerifier, endpoint_matches, offline_event_of, offline_events_of
from adapters.errors import WebhookAuthError, WebhookFormatError
from adapters.kind import ConnectionSettings
from adapters.registry import kind_of
from adapters.sandbox.bitrix24 import Bitrix24Sandbox
from tests.adapters.bitrix24_fixtures import APP_TOKEN, MEMBER_ID, bitrix24_fixture, receiver_fixture  # noqa: F401
from tests.adapters.sandbox_fixtures import WebhookReceiver

# The example body of api-reference/crm/deals/events/on-crm-deal-update.md (CRM-CONTRACTS 5.3).
TOKEN = "51856fefc120afa4b628cc82d3935cce"
MEMBER = "a223c6b3710f85df22e9377d6c4f7553"
PORTAL = "some-domain.bitrix24.com"


def documented_body(**overrides: str) -> bytes:
    fields = {
        "event": "ONCRMDEALUPDATE", "event_handler_id": "201", "data[FIELDS][ID]": "759", "ts": "1736405807",
        "auth[domain]": PORTAL, "auth[client_endpoint]": f"https://{PORTAL}/rest/",
        "auth[server_endpoint]": "https://oauth.bitrix.info/rest/", "auth[member_id]": MEMBER,
        "auth[application_token]": TOKEN,
    }  # fmt: skip
    fields.update(overrides)
    return "&".join(f"{quote(k, safe='[]')}={quote(v, safe='')}" for k, v in fields.items()).encode()


def verify(verifier: Bitrix24WebhookVerifier, body: bytes, now: float = 1736405810.0) -> None:
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    verifier.verify(method="POST", url="https://qualify.example/webhooks/bitrix24", headers=headers, body=body,
                    now=now)  # fmt: skip


def test_given_documented_body_when_verified_and_parsed_then_one_deal_event() -> None:
    verifier = Bitrix24WebhookVerifier(application_token=TOKEN, account_id=MEMBER, portal=PORTAL)
    body = documented_body()

    verify(verifier, body)
    [event] = verifier.parse(body, {})

    assert (event.object_id, event.kind, event.object_type) == ("759", "property_change", "deal")
    assert event.delivery_key == f"{MEMBER}:ONCRMDEALUPDATE:759:1736405807"
    assert event.occurred_at == datetime.fromtimestamp(1736405807, tz=UTC)
    assert (event.account, event.source, event.new_stage) == (MEMBER, "unknown", None)
    assert "application_token" not in event.raw["auth"]  # secrets never reach storage
    assert event.raw["auth"]["member_id"] == MEMBER


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("ONCRMDEALADD", "creation"),
        ("ONCRMDEALDELETE", "deletion"),
        ("ONCRMDEALUPDATE", "property_change"),
        ("ONAPPTEST", "other"),
    ],
)
def test_given_event_name_when_parsed_then_kind_is_normalized(name: str, kind: str) -> None:
    [event] = Bitrix24WebhookVerifier(TOKEN).parse(documented_body(event=name), {})

    assert event.kind == kind


def test_given_wrong_token_when_verified_then_bad_token() -> None:
    with pytest.raises(WebhookAuthError) as caught:
        verify(Bitrix24WebhookVerifier(TOKEN), documented_body(**{"auth[application_token]": "0" * 32}))

    assert caught.value.reason == "bad_token"


def test_given_no_token_when_verified_then_missing_token() -> None:
    body = b"event=ONCRMDEALUPDATE&data[FIELDS][ID]=1&ts=1&auth[member_id]=x"

    with pytest.raises(WebhookAuthError) as caught:
        verify(Bitrix24WebhookVerifier(TOKEN), body)

    assert caught.value.reason == "missing_token"


def test_given_other_member_when_verified_then_wrong_account() -> None:
    verifier = Bitrix24WebhookVerifier(TOKEN, account_id="someone-else")

    with pytest.raises(WebhookAuthError) as caught:
        verify(verifier, documented_body())

    assert caught.value.reason == "wrong_account"


@pytest.mark.parametrize("account", [MEMBER, MEMBER.upper(), PORTAL, None])
def test_given_the_portals_member_id_or_domain_when_verified_then_accepted(account: str | None) -> None:
    verify(Bitrix24WebhookVerifier(TOKEN, account_id=account, portal=PORTAL), documented_body())


@pytest.mark.parametrize("hostile", [
    {"auth[client_endpoint]": "https://evil.example/rest/"},
    {"auth[client_endpoint]": f"https://{PORTAL}.evil.example/rest/"},
    {"auth[client_endpoint]": f"http://{PORTAL}/rest/"},
    {"auth[domain]": "evil.example"},
    {"auth[client_endpoint]": ""},
])  # fmt: skip
def test_given_hostile_endpoint_when_verified_with_portal_then_wrong_portal(hostile: dict[str, str]) -> None:
    body = documented_body(**hostile)
    verifier = Bitrix24WebhookVerifier(TOKEN, account_id=MEMBER, portal=f"https://{PORTAL}")

    assert not endpoint_matches(body, f"https://{PORTAL}")
    with pytest.raises(WebhookAuthError) as caught:
        verify(verifier, body)
    assert caught.value.reason == "wrong_portal"


def test_given_matching_endpoint_when_endpoint_matches_then_true_for_host_or_url() -> None:
    assert endpoint_matches(documented_body(), PORTAL)
    assert endpoint_matches(documented_body(), f"https://{PORTAL}/")
    assert not endpoint_matches(b"%%%&&[", PORTAL)


@pytest.mark.parametrize(
    "body",
    [
        b"event=ONCRMDEALUPDATE&ts=1",
        b"data[FIELDS][ID]=1&ts=1",
        b"event=ONCRMDEALUPDATE&data[FIELDS][ID]=1&ts=soon",
        b"a[=1",
    ],
)
def test_given_malformed_body_when_parsed_then_format_error(body: bytes) -> None:
    with pytest.raises(WebhookFormatError):
        Bitrix24WebhookVerifier(TOKEN).parse(body, {})


def test_given_empty_token_when_built_then_value_error() -> None:
    with pytest.raises(ValueError):
        Bitrix24WebhookVerifier("")


def test_given_offline_record_when_converted_then_key_has_message_id_and_time() -> None:
    raw = {"ID": "3", "TIMESTAMP_X": "2024-07-18T12:32:31+02:00", "EVENT_NAME": "ONCRMDEALUPDATE",
           "EVENT_DATA": {"FIELDS": {"ID": 42}}, "MESSAGE_ID": "abc"}  # fmt: skip

    event = offline_event_of(raw, "proc-1")

    assert (event.object_id, event.kind, event.delivery_key) == (
        "42",
        "property_change",
        "abc:2024-07-18T12:32:31+02:00",
    )
    assert event.occurred_at == datetime(2024, 7, 18, 10, 32, 31, tzinfo=UTC)
    assert event.raw["process_id"] == "proc-1"


def test_given_sandbox_move_when_event_posted_then_it_verifies_and_parses(
    bitrix24: Bitrix24Sandbox, receiver: WebhookReceiver
) -> None:
    deal_id = bitrix24.ui_create_deal({"TITLE": "Acme"})
    bitrix24.ui_move_deal(deal_id, "PREPARATION", user_id=7)
    bitrix24.wait_webhooks_idle()

    requests = receiver.wait_for(2)
    verifier = Bitrix24WebhookVerifier(APP_TOKEN, account_id=MEMBER_ID, portal=bitrix24.base_url)
    body = requests[1].body.encode()
    verify(verifier, body, now=time.time())  # the sandbox sends the current ts
    [event] = verifier.parse(body, {})

    assert requests[1].headers["Content-Type"] == "application/x-www-form-urlencoded"
    keys = [unquote(part.split("=", 1)[0]) for part in requests[1].body.split("&")]
    assert keys == [
        "event",
        "event_handler_id",
        "data[FIELDS][ID]",
        "ts",
        "auth[domain]",
        "auth[client_endpoint]",
        "auth[server_endpoint]",
        "auth[member_id]",
        "auth[application_token]",
    ]  # the documented fields
    assert (event.object_id, event.kind, event.account) == (deal_id, "property_change", MEMBER_ID)
    assert [e.kind for e in verifier.parse(requests[0].body.encode(), {})] == ["creation"]


def test_given_failing_receiver_when_event_posted_then_never_retried(
    bitrix24: Bitrix24Sandbox, receiver: WebhookReceiver
) -> None:
    receiver.answer_with(500)

    bitrix24.ui_create_deal({"TITLE": "Acme"})
    bitrix24.wait_webhooks_idle()

    assert [d["status"] for d in bitrix24.webhook_deliveries()] == [500]
    assert len(receiver.requests) == 1


# ---- security findings 4 and 5: replays and malformed numbers ------------------------------------------------
SENT = 1736405807  # the documented body's ts


def test_given_the_same_body_twice_when_parsed_then_the_same_delivery_key() -> None:
    verifier = Bitrix24WebhookVerifier(TOKEN, account_id=MEMBER, portal=PORTAL)

    [first], [again] = verifier.parse(documented_body(), {}), verifier.parse(documented_body(), {})
    [other_deal] = verifier.parse(documented_body(**{"data[FIELDS][ID]": "760"}), {})
    [later] = verifier.parse(documented_body(ts=str(SENT + 1)), {})

    assert first.delivery_key == again.delivery_key  # a replay is stored once
    assert len({first.delivery_key, other_deal.delivery_key, later.delivery_key}) == 3


@pytest.mark.parametrize("ts", [
    "12",  # 1970
    "978307200",  # 2001-01-01
    "4102444800",  # 2100-01-01
    "4102444799",  # the last second of 2099
    str(SENT - 301), str(SENT + 301),  # just outside the 300 s window, either way
])  # fmt: skip
def test_given_ts_outside_the_replay_window_when_verified_then_stale_timestamp(ts: str) -> None:
    verifier = Bitrix24WebhookVerifier(TOKEN, account_id=MEMBER, portal=PORTAL)

    with pytest.raises(WebhookAuthError) as caught:
        verify(verifier, documented_body(ts=ts), now=SENT)

    assert (caught.value.reason, caught.value.field) == ("stale_timestamp", "ts")


@pytest.mark.parametrize("ts", [str(SENT - 299), str(SENT + 299)])
def test_given_ts_inside_the_replay_window_when_verified_then_accepted(ts: str) -> None:
    verify(Bitrix24WebhookVerifier(TOKEN, account_id=MEMBER, portal=PORTAL), documented_body(ts=ts), now=SENT)


def test_given_the_registrys_max_age_when_verified_then_the_window_is_that_wide() -> None:
    settings = ConnectionSettings("bitrix24", f"https://{PORTAL}", MEMBER, secrets={"application_token": TOKEN})
    narrow, wide = (kind_of("bitrix24").build_verifier(settings, max_age) for max_age in (60, 3600))
    body = documented_body(ts=str(SENT - 600))

    verify(wide, body, now=SENT)
    with pytest.raises(WebhookAuthError, match="600s old"):
        verify(narrow, body, now=SENT)


@pytest.mark.parametrize("ts", ["²", "%C2%B2", "1e20", "١٢", "-5", " 1736405807", "", "1" * 5000,
                                "100000000000000000000"])  # fmt: skip
def test_given_a_malformed_ts_then_verify_leaves_it_to_parse_which_refuses_it_naming_ts(ts: str) -> None:
    verifier = Bitrix24WebhookVerifier(TOKEN, account_id=MEMBER, portal=PORTAL)
    body = documented_body(ts=unquote(ts))

    verify(verifier, body, now=SENT)  # authentic: the answer is 400 from parse, not 401 or 500
    with pytest.raises(WebhookFormatError) as caught:
        verifier.parse(body, {})

    assert (caught.value.reason, caught.value.field) == ("bad_event", "ts")
    assert "ts" in caught.value.detail and len(caught.value.detail) < 200


@pytest.mark.parametrize("deal_id", ["²", "١٢", "abc", "1e3", "-1", "../1", "1" * 21, ""])
def test_given_a_deal_id_that_is_not_an_ascii_number_when_parsed_then_format_error_naming_it(deal_id: str) -> None:
    with pytest.raises(WebhookFormatError) as caught:
        Bitrix24WebhookVerifier(TOKEN).parse(documented_body(**{"data[FIELDS][ID]": deal_id}), {})

    assert caught.value.field == "data[FIELDS][ID]"


def test_given_app_tokens_in_the_body_when_parsed_then_raw_keeps_none_of_them() -> None:
    body = documented_body(**{"auth[access_token]": "acc-secret-1", "auth[refresh_token]": "ref-secret-2",
                              "auth[other_token]": "oth-secret-3", "auth[expires_in]": "3600"})  # fmt: skip

    [event] = Bitrix24WebhookVerifier(TOKEN).parse(body, {})

    assert set(event.raw["auth"]) == {"domain", "client_endpoint", "server_endpoint", "member_id", "expires_in"}
    assert not any(secret in str(event.raw) for secret in (TOKEN, "acc-secret-1", "ref-secret-2", "oth-secret-3"))


def test_given_offline_records_read_long_after_they_happened_then_no_window_and_malformed_ones_left_out() -> None:
    old = {"TIMESTAMP_X": "2020-01-01T00:00:00+00:00", "EVENT_NAME": "ONCRMDEALUPDATE", "MESSAGE_ID": "m1"}
    records = [{**old, "EVENT_DATA": {"FIELDS": {"ID": 42}}}, {**old, "EVENT_DATA": {"FIELDS": {"ID": "²"}}},
               "not a record", {**old, "EVENT_DATA": {"FIELDS": {"ID": "43"}}}]  # fmt: skip

    events = offline_events_of(records, "proc-1")

    assert [e.object_id for e in events] == ["42", "43"]
    assert events[0].occurred_at == datetime(2020, 1, 1, tzinfo=UTC)
