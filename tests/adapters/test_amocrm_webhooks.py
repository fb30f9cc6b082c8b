"""AmoCRMWebhookVerifier: URL-secret auth, account check, multi-entity parsing; sandbox deliveries."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import quote

import pytest

from adapters.amocrm_webhooks import AmoCRMWebhookVerifier, url_secret_of
from adapters.errors import WebhookAuthError, WebhookFormatError
from adapters.sandbox.amocrm import AmoCRMSandbox
from adapters.sandbox.amocrm_state import INDUSTRY, PARTNERS, QUALIFIED, SALES, USER_BORIS
from tests.adapters.amocrm_fixtures import URL_SECRET
from tests.adapters.sandbox_fixtures import WebhookReceiver

EXAMPLE = "&".join([
    "leads[status][0][id]=10701093", "leads[status][0][status_id]=142", "leads[status][0][old_status_id]=20067736",
    "leads[status][0][pipeline_id]=9217056", "leads[status][0][old_pipeline_id]=9217056",
    "leads[status][0][responsible_user_id]=2079676", "leads[status][0][modified_user_id]=2079718",
    "leads[status][0][last_modified]=1539782664", "leads[status][0][price]=22500",
    "leads[status][0][custom_fields][0][id]=66339",
    f"leads[status][0][custom_fields][0][values][0][value]={quote('Сайт')}",
    "leads[status][0][custom_fields][0][values][0][enum]=139517", "leads[status][0][account_id]=17769199",
    "account[id]=17769199", "account[subdomain]=acme",
]).encode()  # fmt: skip
URL = f"https://qualify.example/webhooks/amocrm/{URL_SECRET}"


def verifier(**kw: str) -> AmoCRMWebhookVerifier:
    return AmoCRMWebhookVerifier(url_secret=URL_SECRET, **kw)


def verify(v: AmoCRMWebhookVerifier, url: str = URL, body: bytes = EXAMPLE) -> None:
    v.verify(method="POST", url=url, headers={}, body=body, now=0.0)


def test_given_secret_in_path_or_query_when_verified_then_accepted() -> None:
    v = verifier(subdomain="ACME", account_id="17769199")
    verify(v)
    verify(v, url=f"{URL}/")
    verify(v, url=f"https://qualify.example/webhooks/amocrm?secret={URL_SECRET}&x=1")
    assert url_secret_of(f"https://h/x?secret={URL_SECRET}") == URL_SECRET


@pytest.mark.parametrize("url, reason", [
    ("https://qualify.example/webhooks/amocrm/wrong-secret-000000000", "bad_secret"),
    (f"https://qualify.example/webhooks/amocrm/{URL_SECRET}x", "bad_secret"),
    ("https://qualify.example/webhooks/amocrm?secret=", "missing_secret"),
    ("https://qualify.example/", "missing_secret"),
])  # fmt: skip
def test_given_bad_or_missing_secret_when_verified_then_auth_error(url: str, reason: str) -> None:
    with pytest.raises(WebhookAuthError) as info:
        verify(verifier(), url=url)
    assert info.value.reason == reason


@pytest.mark.parametrize("kw", [{"subdomain": "other"}, {"account_id": "1"}, {"subdomain": "acme", "account_id": "2"}])
def test_given_other_account_when_verified_then_wrong_account(kw: dict[str, str]) -> None:
    with pytest.raises(WebhookAuthError) as info:
        verify(verifier(**kw))
    assert info.value.reason == "wrong_account"


@pytest.mark.parametrize("kw", [{"account_id": "17769199"}, {"account_id": "ACME"}, {"subdomain": "acme"}, {}])
def test_given_the_connections_account_by_id_or_subdomain_when_verified_then_accepted(kw: dict[str, str]) -> None:
    verify(verifier(**kw))


def test_given_body_without_account_when_account_configured_then_wrong_account() -> None:
    with pytest.raises(WebhookAuthError, match="no account"):
        verify(verifier(subdomain="acme"), body=b"leads[status][0][id]=1")
    with pytest.raises(WebhookAuthError):
        verify(verifier(subdomain="acme"), body=b"a[b=1")


def test_given_short_secret_when_building_then_value_error() -> None:
    with pytest.raises(ValueError):
        AmoCRMWebhookVerifier(url_secret="short")


def test_given_documented_example_when_parsed_then_one_status_event() -> None:
    (event,) = verifier().parse(EXAMPLE, {})
    assert event.delivery_key == "17769199:10701093:142:1539782664"
    assert (event.object_id, event.object_type, event.kind) == ("10701093", "deal", "property_change")
    assert (event.new_stage, event.old_stage, event.new_pipeline, event.old_pipeline) == (
        "142", "20067736", "9217056", "9217056")
    assert (event.property_name, event.property_value) == ("status_id", "142")
    assert (event.source, event.source_id, event.account) == ("unknown", "2079718", "acme")
    assert event.occurred_at == datetime.fromtimestamp(1539782664, tz=UTC)
    assert event.raw["custom_fields"] == [{"id": "66339", "values": [{"value": "Сайт", "enum": "139517"}]}]


def test_given_multi_entity_body_when_parsed_then_one_event_per_entity() -> None:
    body = (b"leads[status][0][id]=1&leads[status][0][status_id]=20&leads[status][0][old_status_id]=10"
            b"&leads[status][0][last_modified]=1700000100&leads[status][1][id]=2&leads[status][1][status_id]=143"
            b"&leads[status][1][last_modified]=1700000101&leads[update][0][id]=3&leads[update][0][status_id]=10"
            b"&leads[update][0][last_modified]=1700000102&leads[add][0][id]=4&leads[add][0][date_create]=1700000103"
            b"&leads[delete][0][id]=5&leads[delete][0][status_id]=10&contacts[update][0][id]=6"
            b"&account[id]=9&account[subdomain]=acme")
    events = verifier().parse(body, {})
    assert [(e.object_id, e.kind, e.object_type) for e in events] == [
        ("1", "property_change", "deal"), ("2", "property_change", "deal"), ("3", "property_change", "deal"),
        ("4", "creation", "deal"), ("5", "deletion", "deal"), ("6", "property_change", "contact")]
    assert events[1].new_stage == "143" and events[2].new_stage is None
    assert events[2].delivery_key.startswith("9:3:update:10:1700000102:")
    assert len({e.delivery_key for e in events}) == 6
    assert events[3].occurred_at == datetime.fromtimestamp(1700000103, tz=UTC)


def update_body(size: str) -> bytes:
    return (b"leads[update][0][id]=3&leads[update][0][status_id]=10&leads[update][0][last_modified]=1700000102"
            b"&leads[update][0][custom_fields][0][id]=900002&leads[update][0][custom_fields][0][values][0][value]="
            + size.encode() + b"&account[id]=9&account[subdomain]=acme")


def test_given_two_different_updates_in_one_second_when_parsed_then_two_delivery_keys() -> None:
    # last_modified has whole seconds: a manager's edit right after Qualify's own write-back (its
    # echo) carries the same timestamp, and must not be dropped as a repeat of the echo.
    (echo,) = verifier().parse(update_body("120"), {})
    (edit,) = verifier().parse(update_body("5000"), {})
    (again,) = verifier().parse(update_body("5000"), {})

    assert echo.delivery_key != edit.delivery_key
    assert again.delivery_key == edit.delivery_key  # a repeated delivery is still a duplicate


def test_given_body_without_entities_when_parsed_then_no_events() -> None:
    assert verifier().parse(b"account[id]=1&account[subdomain]=acme", {}) == []


@pytest.mark.parametrize("body", [b"leads[status][0][name]=x", b"a[=1", b"leads[status][0][id]=abc"])
def test_given_malformed_body_when_parsed_then_format_error(body: bytes) -> None:
    with pytest.raises(WebhookFormatError):
        verifier().parse(body, {})


# ---- deliveries from the sandbox ---------------------------------------------------------------
@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    endpoint = WebhookReceiver()
    endpoint.start(f"/webhooks/amocrm/{URL_SECRET}")
    yield endpoint
    endpoint.stop()


@pytest.fixture
def sandbox(receiver: WebhookReceiver) -> Iterator[AmoCRMSandbox]:
    sb = AmoCRMSandbox(subdomain="acme", account_id=17769199, webhook_url=receiver.url, url_secret=URL_SECRET)
    sb.start()
    yield sb
    sb.stop()


def test_given_ui_move_when_webhook_sent_then_verifies_and_parses(
    sandbox: AmoCRMSandbox, receiver: WebhookReceiver
) -> None:
    lead_id = sandbox.ui_create_lead({"name": "Acme", str(INDUSTRY): "IT"})
    sandbox.wait_webhooks_idle()
    sandbox.ui_move_lead(lead_id, QUALIFIED, user_id=USER_BORIS)
    sandbox.wait_webhooks_idle()
    first, second = receiver.wait_for(2)
    assert second.headers["Content-Type"] == "application/x-www-form-urlencoded"
    v = verifier(subdomain="acme", account_id="17769199")
    v.verify(method="POST", url=second.url, headers=second.headers, body=second.body.encode(), now=0.0)
    (event,) = v.parse(second.body.encode(), second.headers)
    assert (event.object_id, event.new_stage, event.old_stage) == (str(lead_id), str(QUALIFIED), "7000010")
    assert (event.new_pipeline, event.old_pipeline, event.source_id) == (str(SALES), str(SALES), str(USER_BORIS))
    assert event.raw["custom_fields"][0]["values"][0] == {"value": "IT", "enum": "910001"}
    assert v.parse(first.body.encode(), {})[0].kind == "creation"


def test_given_several_moves_within_window_when_sent_then_one_body_many_events(
    sandbox: AmoCRMSandbox, receiver: WebhookReceiver
) -> None:
    sandbox.configure({"batch_window": 0.2, "events": ["status"]})
    sandbox.ui_move_lead(30000001, QUALIFIED)
    sandbox.ui_move_lead(30000002, 7000021, PARTNERS)
    sandbox.wait_webhooks_idle()
    (delivery,) = receiver.wait_for(1)
    events = verifier().parse(delivery.body.encode(), {})
    assert [(e.object_id, e.new_stage) for e in events] == [("30000001", str(QUALIFIED)), ("30000002", "7000021")]
    assert events[1].old_pipeline == str(SALES) and events[1].new_pipeline == str(PARTNERS)
