"""PipedriveAdapter against the Pipedrive sandbox over loopback HTTP (no mocks)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from adapters.base import TaskRequest
from adapters.errors import CRMAuthError, CRMNotFound, CRMRateLimited, CRMRejected, CRMUnavailable
from adapters.pipedrive import DAILY_LIMIT_WAIT, PipedriveAdapter, pipedrive_limiter_buckets
from adapters.pipedrive_webhooks import PipedriveWebhookVerifier
from adapters.sandbox.pipedrive import PipedriveSandbox
from adapters.sandbox.pipedrive_seed import KEYS
from tests.adapters.pipedrive_fixtures import (  # noqa: F401
    HOOK_PASSWORD,
    HOOK_USER,
    PATH_TOKEN,
    TOKEN,
    adapter_fixture,
    make_adapter,
    new_deal,
    pipedrive_fixture,
    receiver_fixture,
)
from tests.adapters.sandbox_fixtures import WebhookReceiver

EPOCH = datetime(2020, 1, 1, tzinfo=UTC)


def deal_calls(sb: PipedriveSandbox, deal_id: int) -> list[int]:
    return [c["status"] for c in sb.api_calls(method="GET", path_prefix=f"/api/v2/deals/{deal_id}")]


def test_given_deal_with_custom_fields_when_get_deal_then_standard_and_hash_keyed_fields(
    pipedrive: PipedriveSandbox, adapter: PipedriveAdapter
) -> None:
    custom: dict[str, Any] = {KEYS["budget"]: {"value": 50000, "currency": "EUR"}, KEYS["company_size"]: 250,
                              KEYS["decision_maker"]: "CFO"}  # fmt: skip
    deal_id = new_deal(pipedrive, "Acme", **custom)

    deal = adapter.get_deal(str(deal_id), [])

    assert (deal.id, deal.name, deal.amount, deal.pipeline_id, deal.stage_id, deal.owner_id) == (
        str(deal_id), "Acme", "1000", "1", "1", "2")
    props = deal.properties
    assert props[KEYS["industry"]] == "31" and props[KEYS["company_size"]] == "250"
    assert props[KEYS["budget"]] == "50000" and props[f"{KEYS['budget']}_currency"] == "EUR"
    assert props[KEYS["decision_maker"]] == "CFO" and props[KEYS["pain_points"]] is None
    assert props["status"] == "open" and props["title"] == "Acme"
    assert deal.modified_at is not None and deal.modified_at.tzinfo is not None
    assert deal.stage_history == ()  # Pipedrive has no cheap history call; the webhook carries previous


def test_given_few_requested_custom_keys_when_get_deal_then_only_those_are_asked_for(
    pipedrive: PipedriveSandbox, adapter: PipedriveAdapter
) -> None:
    deal_id = new_deal(pipedrive)
    deal = adapter.get_deal(str(deal_id), [KEYS["industry"], "missing_prop"])
    [call] = pipedrive.api_calls(path_prefix=f"/api/v2/deals/{deal_id}")
    assert call["query"]["custom_fields"] == KEYS["industry"]
    assert deal.properties[KEYS["industry"]] == "31" and deal.properties["missing_prop"] is None
    assert KEYS["budget"] not in deal.properties


def test_given_unknown_deal_when_get_deal_then_not_found_after_one_call(
    pipedrive: PipedriveSandbox, adapter: PipedriveAdapter
) -> None:
    with pytest.raises(CRMNotFound) as info:
        adapter.get_deal("999999", [])
    assert info.value.status == 404 and info.value.vendor_message == "Deal not found"
    assert deal_calls(pipedrive, 999999) == [404]


def test_given_more_than_500_changed_deals_when_paging_then_every_deal_once_oldest_first(
    pipedrive: PipedriveSandbox, adapter: PipedriveAdapter
) -> None:
    pipedrive.settings.url = None  # no webhooks for the bulk load
    old = [pipedrive.ui_create_deal({"title": f"old {i}"}) for i in range(5)]
    time.sleep(1.05)  # updated_since has second precision
    since = datetime.now(UTC)
    fresh = [pipedrive.ui_create_deal({"title": f"deal {i}"}) for i in range(540)]
    pipedrive.ui_update_deal(fresh[0], {"title": "touched last"})

    seen, after, pages = [], None, 0
    while True:
        page = adapter.search_deals_modified_since(since, [KEYS["industry"]], after=after, limit=1000)
        seen += [d.id for d in page.deals]
        pages, after = pages + 1, page.next_after
        if after is None:
            break

    assert pages == 2 and len(seen) == len(set(seen)) == 540
    assert seen[-1] == str(fresh[0]) and not set(map(str, old)) & set(seen)
    [first, *_] = pipedrive.api_calls(path_prefix="/api/v2/deals")
    assert first["query"]["sort_by"] == "update_time" and first["query"]["limit"] == "500"
    assert first["query"]["updated_since"] == since.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_given_cursor_that_does_not_advance_when_paging_then_error_not_loop(
    pipedrive: PipedriveSandbox, adapter: PipedriveAdapter
) -> None:
    pipedrive.settings.url = None
    for i in range(5):
        pipedrive.ui_create_deal({"title": f"d{i}"})
    pipedrive.stuck_cursor = True
    first = adapter.search_deals_modified_since(EPOCH, [], limit=2)
    assert first.next_after is not None
    with pytest.raises(CRMUnavailable, match="did not advance"):
        adapter.search_deals_modified_since(EPOCH, [], after=first.next_after, limit=2)
    assert len(pipedrive.api_calls(path_prefix="/api/v2/deals")) == 2


def test_given_burst_429_then_200_when_get_deal_then_succeeds(
    pipedrive: PipedriveSandbox, adapter: PipedriveAdapter
) -> None:
    deal_id = new_deal(pipedrive)
    pipedrive.fail_next("429", retry_after=0.1)
    assert adapter.get_deal(str(deal_id), []).id == str(deal_id)
    assert deal_calls(pipedrive, deal_id) == [429, 200]


def test_given_real_burst_limit_when_calls_exceed_it_then_waits_for_reset(pipedrive: PipedriveSandbox) -> None:
    deal_id = new_deal(pipedrive)
    pipedrive.limits.burst.max_requests, pipedrive.limits.burst.seconds = 2, 0.3
    with make_adapter(pipedrive) as adapter:
        for _ in range(3):
            adapter.get_deal(str(deal_id), [])
    assert deal_calls(pipedrive, deal_id) == [200, 200, 429, 200]


def test_given_daily_budget_429_when_get_deal_then_rate_limited_at_once_with_long_wait(
    pipedrive: PipedriveSandbox, adapter: PipedriveAdapter
) -> None:
    deal_id = new_deal(pipedrive)
    pipedrive.fail_next("429-daily")
    started = time.monotonic()
    with pytest.raises(CRMRateLimited) as info:
        adapter.get_deal(str(deal_id), [])
    assert info.value.retry_after == DAILY_LIMIT_WAIT and "daily" in str(info.value)
    assert deal_calls(pipedrive, deal_id) == [429] and time.monotonic() - started < 1.0


def test_given_exhausted_daily_budget_when_calling_then_rate_limited_without_retry(pipedrive: PipedriveSandbox) -> None:
    pipedrive.limits.daily = 0
    with make_adapter(pipedrive) as adapter, pytest.raises(CRMRateLimited) as info:
        adapter.list_owners()
    assert info.value.retry_after == DAILY_LIMIT_WAIT and len(pipedrive.api_calls()) == 1


def test_given_503_then_200_when_get_deal_then_succeeds(pipedrive: PipedriveSandbox, adapter: PipedriveAdapter) -> None:
    deal_id = new_deal(pipedrive)
    pipedrive.fail_next("503")
    assert adapter.get_deal(str(deal_id), []).id == str(deal_id)
    assert deal_calls(pipedrive, deal_id) == [503, 200]


def test_given_401_when_get_deal_then_auth_error_after_one_call(
    pipedrive: PipedriveSandbox, adapter: PipedriveAdapter
) -> None:
    deal_id = new_deal(pipedrive)
    pipedrive.fail_next("401")
    with pytest.raises(CRMAuthError) as info:
        adapter.get_deal(str(deal_id), [])
    assert info.value.vendor_message == "unauthorized access" and TOKEN not in str(info.value)
    assert deal_calls(pipedrive, deal_id) == [401]


def test_given_wrong_token_or_oauth_bearer_when_calling_then_auth_error_or_success(pipedrive: PipedriveSandbox) -> None:
    with make_adapter(pipedrive, token="wrong") as adapter, pytest.raises(CRMAuthError):
        adapter.list_owners()
    with make_adapter(pipedrive, token=f"Bearer {TOKEN}") as adapter:  # OAuth: sent as Authorization
        assert [o.email for o in adapter.list_owners()][:2] == ["alice@example.com", "bob@example.com"]


def test_given_timeout_then_200_when_get_deal_then_succeeds(pipedrive: PipedriveSandbox) -> None:
    deal_id = new_deal(pipedrive)
    pipedrive.fail_next("timeout", delay=5.0)
    started = time.monotonic()
    with make_adapter(pipedrive, timeout=1.0) as adapter:
        assert adapter.get_deal(str(deal_id), []).id == str(deal_id)
    assert time.monotonic() - started < 4.0


def test_given_stage_update_when_update_deal_then_moved_and_api_webhook_sent(
    pipedrive: PipedriveSandbox, adapter: PipedriveAdapter, receiver: WebhookReceiver
) -> None:
    deal_id = new_deal(pipedrive)
    receiver.wait_for(1)  # the UI creation

    adapter.update_deal(str(deal_id), {"stage_id": "3"})

    assert (pipedrive.deal(deal_id)["stage_id"], pipedrive.deal(deal_id)["pipeline_id"]) == (3, 1)
    [_, hook] = receiver.wait_for(2)
    verifier = PipedriveWebhookVerifier(username=HOOK_USER, password=HOOK_PASSWORD, path_token=PATH_TOKEN)
    verifier.verify(method=hook.method, url=hook.url, headers=hook.headers, body=hook.body.encode(), now=time.time())
    [event] = verifier.parse(hook.body.encode(), hook.headers)
    assert (event.kind, event.object_id) == ("property_change", str(deal_id))
    assert (event.new_stage, event.old_stage) == ("3", "1")
    assert (event.source, event.change_source, event.attempt) == ("api", "api", 1)


def test_given_custom_values_as_strings_when_update_deal_then_sent_in_v2_types(
    pipedrive: PipedriveSandbox, adapter: PipedriveAdapter
) -> None:
    deal_id = new_deal(pipedrive)
    adapter.update_deal(str(deal_id), {KEYS["industry"]: "33", KEYS["company_size"]: "120.5",
                                       KEYS["budget"]: "9000", f"{KEYS['budget']}_currency": "EUR",
                                       KEYS["pain_points"]: "slow onboarding", "owner_id": "1"})  # fmt: skip
    custom = pipedrive.deal(deal_id)["custom_fields"]
    assert (custom[KEYS["industry"]], custom[KEYS["company_size"]]) == (33, 120.5)
    assert custom[KEYS["budget"]] == {"value": 9000, "currency": "EUR"}
    assert custom[KEYS["pain_points"]] == "slow onboarding" and pipedrive.deal(deal_id)["owner_id"] == 1
    assert len(pipedrive.api_calls(path_prefix="/api/v2/dealFields")) == 1  # field types read once


def test_given_fit_write_back_when_update_deal_then_number_and_text_fields_written_and_blank_clears(
    pipedrive: PipedriveSandbox, adapter: PipedriveAdapter
) -> None:
    score, grade, persona = KEYS["qualify_fit_score"], KEYS["qualify_fit_grade"], KEYS["qualify_persona"]
    deal_id = new_deal(pipedrive)

    adapter.update_deal(str(deal_id), {score: "87", grade: "A", persona: "Retail buyer"})
    adapter.update_deal(str(deal_id), {score: "35", persona: ""})  # below the floor: no persona fits

    assert [c["json"] for c in pipedrive.api_calls(method="PATCH")] == [
        {"custom_fields": {score: 87, grade: "A", persona: "Retail buyer"}},
        {"custom_fields": {score: 35, persona: None}}]
    props = adapter.get_deal(str(deal_id), [score, grade, persona]).properties
    assert (props[score], props[grade], props[persona]) == ("35", "A", None)


def test_given_invalid_update_when_update_deal_then_rejected_with_vendor_message(
    pipedrive: PipedriveSandbox, adapter: PipedriveAdapter
) -> None:
    deal_id = new_deal(pipedrive)
    with pytest.raises(CRMRejected):
        adapter.update_deal(str(deal_id), {KEYS["company_size"]: "many"})
    with pytest.raises(CRMRejected) as info:
        adapter.update_deal(str(deal_id), {"stage_id": "6", "pipeline_id": "1"})
    assert info.value.status == 400 and "does not belong" in (info.value.vendor_message or "")
    assert [c["status"] for c in pipedrive.api_calls(method="PATCH")] == [400]


def test_given_task_when_create_task_then_owner_activity_found_by_marker(
    pipedrive: PipedriveSandbox, adapter: PipedriveAdapter
) -> None:
    deal_id = new_deal(pipedrive)
    due = datetime(2026, 2, 3, 14, 30, tzinfo=UTC)
    request = TaskRequest(str(deal_id), "2", "Fill the portrait", "Budget is missing", "[qualify:abc123]", due)

    task_id = adapter.create_task(request)

    [activity] = pipedrive.activities_for_deal(deal_id)
    assert str(activity["id"]) == task_id
    assert (activity["type"], activity["owner_id"], activity["due_date"], activity["due_time"]) == (
        "task", 2, "2026-02-03", "14:30")
    assert activity["subject"] == "Fill the portrait" and "[qualify:abc123]" in activity["note"]
    assert adapter.find_task(str(deal_id), "[qualify:abc123]") == task_id
    assert adapter.find_task(str(deal_id), "[qualify:other]") is None


def test_given_no_deal_when_create_task_then_standalone_activity_for_the_owner(
    pipedrive: PipedriveSandbox, adapter: PipedriveAdapter
) -> None:
    due = datetime(2026, 3, 4, 9, 15, tzinfo=UTC)
    request = TaskRequest(None, "2", "Review persona fit", "Three leads changed persona.", "[qualify:p:1]", due)

    task_id = adapter.create_task(request)

    [activity] = pipedrive.activities_for_user(2)
    assert (str(activity["id"]), activity["deal_id"], activity["type"], activity["done"]) == (task_id, None, "task",
                                                                                              False)  # fmt: skip
    assert activity["subject"] == "Review persona fit"
    assert activity["note"] == "Three leads changed persona.\n\n[qualify:p:1]"
    assert (activity["due_date"], activity["due_time"]) == ("2026-03-04", "09:15")
    [call] = pipedrive.api_calls(method="POST", path_prefix="/api/v2/activities")
    assert "deal_id" not in call["json"] and call["json"]["owner_id"] == 2
    assert httpx.get(f"{pipedrive.base_url}/_sandbox/users/2/activities").json()["results"] == [activity]


def test_given_unknown_user_when_standalone_task_then_rejected_with_pipedrive_message(
    pipedrive: PipedriveSandbox, adapter: PipedriveAdapter
) -> None:
    request = TaskRequest(None, "99", "Review persona fit", "x", "[qualify:p:3]", datetime.now(UTC))
    with pytest.raises(CRMRejected) as info:
        adapter.create_task(request)
    assert info.value.status == 400 and "User 99 not found" in (info.value.vendor_message or "")


def test_given_neither_deal_nor_owner_when_create_task_then_rejected_before_any_call(
    pipedrive: PipedriveSandbox, adapter: PipedriveAdapter
) -> None:
    request = TaskRequest(None, None, "Review persona fit", "x", "[qualify:p:2]", datetime.now(UTC))
    with pytest.raises(CRMRejected, match="owner_id"):
        adapter.create_task(request)
    assert pipedrive.api_calls() == []


def test_given_note_when_create_note_then_attached_to_deal(
    pipedrive: PipedriveSandbox, adapter: PipedriveAdapter
) -> None:
    deal_id = new_deal(pipedrive)
    note_id = adapter.create_note(str(deal_id), "Moved back: budget missing", "[qualify:n1]")
    [note] = pipedrive.notes_for_deal(deal_id)
    assert str(note["id"]) == note_id and note["content"].endswith("[qualify:n1]")
    with pytest.raises(CRMRejected):
        adapter.create_note("not-a-number", "x", "[qualify:n2]")
    assert len(pipedrive.api_calls(path_prefix="/api/v1/notes")) == 1


def test_when_list_pipelines_then_open_real_stages_then_virtual_won_and_lost(adapter: PipedriveAdapter) -> None:
    pipelines = adapter.list_pipelines()
    assert [(p.id, p.label) for p in pipelines] == [("1", "Sales"), ("2", "Partners")]
    assert [s.id for s in pipelines[0].stages] == ["1", "2", "3", "4", "5", "won", "lost"]
    assert [s.order for s in pipelines[1].stages] == [1, 2, 3, 4, 5]
    for pipeline in pipelines:
        *real, won, lost = pipeline.stages
        assert not any(s.is_closed or s.is_won for s in real)  # Pipedrive stages are all open
        assert (won.id, won.label, won.is_closed, won.is_won) == ("won", "Won", True, True)
        assert (lost.id, lost.label, lost.is_closed, lost.is_won) == ("lost", "Lost", True, False)
    assert pipelines[0].stages[2].probability == 40.0


def test_when_list_deal_properties_then_custom_fields_by_hash_with_options(adapter: PipedriveAdapter) -> None:
    props = {p.name: p for p in adapter.list_deal_properties()}
    industry = props[KEYS["industry"]]
    assert (industry.label, industry.type, industry.field_type) == ("Industry", "enumeration", "enum")
    assert ("31", "IT") in [(o.value, o.label) for o in industry.options]
    assert props[KEYS["budget"]].type == "number" and props["title"].type == "string"


def test_when_list_owners_then_users_with_split_names_one_id_and_the_deactivated_one(adapter: PipedriveAdapter) -> None:
    owners = adapter.list_owners()
    assert [(o.id, o.first_name, o.last_name, o.active) for o in owners] == [
        ("1", "Alice", "Admin", True), ("2", "Bob", "Seller", True), ("3", "Carol", "Closer", True),
        ("4", "Dan", "Dealer", True), ("5", "Erin", "Former", False)]  # fmt: skip
    assert all(o.user_id == o.id for o in owners) and owners[4].name == "Erin Former"


def test_when_native_stage_requirements_then_required_fields_per_stage(
    pipedrive: PipedriveSandbox, adapter: PipedriveAdapter
) -> None:
    required = adapter.native_stage_requirements()
    # industry is required at every real stage; company size only on marking won in pipeline 1
    assert set(required) == {str(i) for i in range(1, 9)} | {"1:won"}
    assert required["1:won"] == (KEYS["company_size"],)
    assert required["1"] == (KEYS["industry"],)
    assert required["3"] == (KEYS["industry"], KEYS["budget"])
    assert required["4"] == (KEYS["industry"], KEYS["budget"], KEYS["decision_maker"])
    assert [stage for stage, fields in required.items() if KEYS["company_size"] in fields] == ["1:won"]
    [call] = pipedrive.api_calls(path_prefix="/api/v2/dealFields")
    assert call["query"]["include_fields"] == "required_fields"


def test_default_limiter_stays_under_the_smallest_burst_limit() -> None:
    [(limit, window)] = pipedrive_limiter_buckets().values()
    # Never more than 20 requests in any 2-s window, yet at least 90% of that rate.
    assert limit < 20 and window >= 2.0 and 0.9 * 10 <= limit / window <= 10
