"""AmoCRMAdapter against the amoCRM sandbox over loopback HTTP (no mocks)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from adapters.amocrm import AmoCRMAdapter
from adapters.base import TaskRequest
from adapters.errors import CRMAuthError, CRMNotFound, CRMRateLimited, CRMRejected, CRMUnavailable
from adapters.http import RetryPolicy
from adapters.sandbox.amocrm import AmoCRMSandbox
from adapters.sandbox.amocrm_state import (
    BUDGET,
    COMPANY_SIZE,
    INDUSTRY,
    LOSS_REASON,
    PARTNERS,
    PROPOSAL,
    QUALIFIED,
    QUALIFY_FIT_GRADE,
    QUALIFY_FIT_SCORE,
    QUALIFY_PERSONA,
    SALES,
    USER_BORIS,
)
from tests.adapters.amocrm_fixtures import amocrm_fixture, fast_limiter, token_adapter  # noqa: F401


@pytest.fixture
def adapter(amocrm: AmoCRMSandbox) -> Iterator[AmoCRMAdapter]:
    with token_adapter(amocrm) as a:
        yield a


def lead_calls(sb: AmoCRMSandbox, lead_id: int) -> list[int]:
    return [c["status"] for c in sb.api_calls(method="GET", path_prefix=f"/api/v4/leads/{lead_id}")]


def test_given_lead_with_custom_fields_when_get_deal_then_ids_enum_ids_and_texts(
    amocrm: AmoCRMSandbox, adapter: AmoCRMAdapter
) -> None:
    lead_id = amocrm.ui_create_lead({"name": "Acme", "price": 22500, str(INDUSTRY): "Retail",
                                     str(COMPANY_SIZE): "120", "900004": True}, USER_BORIS)

    deal = adapter.get_deal(str(lead_id), [str(BUDGET)])

    assert (deal.id, deal.name, deal.amount, deal.owner_id) == (str(lead_id), "Acme", "22500", str(USER_BORIS))
    assert (deal.pipeline_id, deal.stage_id, deal.stage_history) == (str(SALES), "7000010", ())
    assert deal.properties[str(INDUSTRY)] == "910002" and deal.properties[f"{INDUSTRY}:text"] == "Retail"
    assert deal.properties[str(COMPANY_SIZE)] == "120" and deal.properties["900004"] == "true"
    assert deal.properties[str(BUDGET)] is None
    assert deal.modified_at is not None and deal.modified_at.tzinfo is not None
    assert amocrm.api_calls(path_prefix=f"/api/v4/leads/{lead_id}")[0]["query"] == {"with": "contacts"}


def test_given_unknown_lead_when_get_deal_then_not_found_from_204(
    amocrm: AmoCRMSandbox, adapter: AmoCRMAdapter
) -> None:
    with pytest.raises(CRMNotFound):
        adapter.get_deal("999999", [])
    with pytest.raises(CRMNotFound):
        adapter.get_deal("not-a-number", [])
    assert lead_calls(amocrm, 999999) == [204]


@pytest.mark.parametrize("lead_id", ["²", "١٢", "9" * 5000])
def test_given_a_lead_id_that_is_not_ascii_digits_then_not_found_without_a_call_and_never_a_value_error(
    amocrm: AmoCRMSandbox, adapter: AmoCRMAdapter, lead_id: str
) -> None:
    due = datetime.now(UTC) + timedelta(days=1)
    with pytest.raises(CRMNotFound):
        adapter.get_deal(lead_id, [])
    with pytest.raises(CRMNotFound):
        adapter.find_task(lead_id, "marker")
    with pytest.raises(CRMNotFound):
        adapter.create_task(TaskRequest(lead_id, None, "Call", "body", "marker", due))

    assert amocrm.api_calls() == []


def test_given_more_than_a_page_when_searching_then_pages_to_the_last(
    amocrm: AmoCRMSandbox
) -> None:
    since = datetime.now(UTC) - timedelta(minutes=1)
    amocrm.bulk_create_leads(260)
    seen: list[str] = []
    pages = 0
    after: str | None = None
    with token_adapter(amocrm, limiter=fast_limiter()) as adapter:
        while True:
            page = adapter.search_deals_modified_since(since, [], after=after, limit=250)
            seen.extend(deal.id for deal in page.deals)
            pages += 1
            if page.next_after is None:
                break
            after = page.next_after
    assert pages == 2 and after == "2"
    assert len(seen) == len(set(seen)) == 263  # 3 seeded + 260
    queries = [c["query"] for c in amocrm.api_calls(path_prefix="/api/v4/leads")]
    assert queries[0]["order[updated_at]"] == "asc" and queries[0]["limit"] == "250"
    assert queries[0]["filter[updated_at][from]"] == str(int(since.timestamp()))


def test_given_no_changes_when_searching_then_empty_page_from_204(adapter: AmoCRMAdapter) -> None:
    page = adapter.search_deals_modified_since(datetime.now(UTC) + timedelta(days=1), [])
    assert (page.deals, page.next_after) == ((), None)


def test_given_next_link_not_advancing_when_searching_then_error_not_loop(
    amocrm: AmoCRMSandbox, adapter: AmoCRMAdapter
) -> None:
    amocrm.bulk_create_leads(5)
    amocrm.fail_next("page-stuck")
    with pytest.raises(CRMUnavailable, match="did not advance"):
        adapter.search_deals_modified_since(datetime.now(UTC) - timedelta(hours=1), [], limit=2)


def test_given_429_then_200_when_get_deal_then_succeeds(amocrm: AmoCRMSandbox, adapter: AmoCRMAdapter) -> None:
    amocrm.fail_next("429", retry_after=0.05)
    assert adapter.get_deal("30000001", []).id == "30000001"
    assert lead_calls(amocrm, 30000001) == [429, 200]


def test_given_real_rate_limit_when_bursting_then_retries_through(amocrm: AmoCRMSandbox) -> None:
    amocrm.configure({"rate_limit": [3, 0.3]})
    policy = RetryPolicy(max_attempts=6, base_delay=0.05, max_delay=0.3)
    with token_adapter(amocrm, limiter=fast_limiter(), policy=policy) as adapter:
        for _ in range(5):
            adapter.get_deal("30000001", [])
    statuses = lead_calls(amocrm, 30000001)
    assert statuses.count(200) == 5 and 429 in statuses


def test_given_429_on_every_try_when_get_deal_then_rate_limited(amocrm: AmoCRMSandbox) -> None:
    amocrm.fail_next("429", count=3, retry_after=0.01)
    policy = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.02)
    with token_adapter(amocrm, policy=policy) as adapter, pytest.raises(CRMRateLimited) as info:
        adapter.get_deal("30000001", [])
    assert info.value.vendor_message and "Too Many Requests" in info.value.vendor_message


def test_given_503_then_200_when_get_deal_then_succeeds(amocrm: AmoCRMSandbox, adapter: AmoCRMAdapter) -> None:
    amocrm.fail_next("503")
    assert adapter.get_deal("30000001", []).id == "30000001"
    assert lead_calls(amocrm, 30000001) == [503, 200]


def test_given_500_on_create_task_then_not_retried(amocrm: AmoCRMSandbox, adapter: AmoCRMAdapter) -> None:
    amocrm.fail_next("500", path_prefix="/api/v4/tasks")
    request = TaskRequest("30000001", None, "Fill portrait", "Industry missing", "[qualify:x1]", datetime.now(UTC))
    with pytest.raises(CRMUnavailable):
        adapter.create_task(request)
    assert [c["status"] for c in amocrm.api_calls(method="POST", path_prefix="/api/v4/tasks")] == [500]


def test_given_timeout_then_200_when_get_deal_then_succeeds(amocrm: AmoCRMSandbox) -> None:
    amocrm.fail_next("timeout", delay=5.0)
    started = time.monotonic()
    with token_adapter(amocrm, timeout=1.0) as adapter:
        assert adapter.get_deal("30000001", []).id == "30000001"
    assert time.monotonic() - started < 4.0


def test_given_bad_long_lived_token_when_called_then_auth_error_at_once(amocrm: AmoCRMSandbox) -> None:
    with token_adapter(amocrm, token="wrong") as adapter, pytest.raises(CRMAuthError) as info:
        adapter.get_deal("30000001", [])
    assert info.value.status == 401 and info.value.vendor_message == "Unauthorized"
    assert lead_calls(amocrm, 30000001) == [401]
    assert amocrm.api_calls(path_prefix="/oauth2/") == []


def test_given_status_and_pipeline_when_update_deal_then_lead_moves(
    amocrm: AmoCRMSandbox, adapter: AmoCRMAdapter
) -> None:
    adapter.update_deal("30000001", {"status_id": str(QUALIFIED)})
    assert amocrm.lead(30000001)["status_id"] == QUALIFIED
    adapter.update_deal("30000001", {"status_id": "7000021", "pipeline_id": str(PARTNERS)})
    lead = amocrm.lead(30000001)
    assert (lead["status_id"], lead["pipeline_id"]) == (7000021, PARTNERS)
    patch = amocrm.api_calls(method="PATCH")[0]["json"]
    assert patch == {"status_id": QUALIFIED}


def test_given_custom_fields_when_update_deal_then_enum_ids_and_values_written(
    amocrm: AmoCRMSandbox, adapter: AmoCRMAdapter
) -> None:
    adapter.update_deal("30000001", {str(INDUSTRY): "910003", str(COMPANY_SIZE): "40", "900004": "true",
                                     "price": "700"})
    deal = adapter.get_deal("30000001", [])
    assert deal.properties[str(INDUSTRY)] == "910003" and deal.properties[f"{INDUSTRY}:text"] == "Manufacturing"
    assert (deal.properties[str(COMPANY_SIZE)], deal.properties["900004"], deal.amount) == ("40", "true", "700")
    adapter.update_deal("30000001", {str(COMPANY_SIZE): ""})
    assert adapter.get_deal("30000001", [str(COMPANY_SIZE)]).properties[str(COMPANY_SIZE)] is None


def test_given_fit_write_back_when_update_deal_then_numeric_and_text_fields_written_and_blank_clears(
    amocrm: AmoCRMSandbox, adapter: AmoCRMAdapter
) -> None:
    score, grade, persona = str(QUALIFY_FIT_SCORE), str(QUALIFY_FIT_GRADE), str(QUALIFY_PERSONA)

    adapter.update_deal("30000001", {score: "87", grade: "A", persona: "Retail buyer"})
    adapter.update_deal("30000001", {score: "35", persona: ""})  # below the floor: no persona fits

    assert [c["json"] for c in amocrm.api_calls(method="PATCH")] == [
        {"custom_fields_values": [{"field_id": QUALIFY_FIT_SCORE, "values": [{"value": "87"}]},
                                  {"field_id": QUALIFY_FIT_GRADE, "values": [{"value": "A"}]},
                                  {"field_id": QUALIFY_PERSONA, "values": [{"value": "Retail buyer"}]}]},
        {"custom_fields_values": [{"field_id": QUALIFY_FIT_SCORE, "values": [{"value": "35"}]},
                                  {"field_id": QUALIFY_PERSONA, "values": None}]}]
    props = adapter.get_deal("30000001", [score, grade, persona]).properties
    assert (props[score], props[grade], props[persona]) == ("35", "A", None)


def test_given_invalid_status_when_update_deal_then_rejected_with_vendor_message(
    adapter: AmoCRMAdapter,
) -> None:
    with pytest.raises(CRMRejected) as info:
        adapter.update_deal("30000001", {"status_id": "123"})
    assert info.value.status == 400 and "status_id" in (info.value.vendor_message or "")
    with pytest.raises(CRMRejected, match="no writable field"):
        adapter.update_deal("30000001", {"dealstage": "x"})


def test_given_task_when_created_then_found_by_marker(amocrm: AmoCRMSandbox, adapter: AmoCRMAdapter) -> None:
    due = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    marker = "[qualify:gate:30000002:abc]"
    assert adapter.find_task("30000002", marker) is None
    task_id = adapter.create_task(TaskRequest("30000002", str(USER_BORIS), "Fill the portrait", "Budget", marker, due))
    adapter.create_task(TaskRequest("30000003", None, "Other lead", "x", marker, due))

    assert adapter.find_task("30000002", marker) == task_id
    assert adapter.find_task("30000002", "[qualify:other]") is None
    (task,) = amocrm.tasks_for_lead(30000002)
    assert (task["task_type_id"], task["entity_type"], task["responsible_user_id"]) == (1, "leads", USER_BORIS)
    assert task["complete_till"] == int(due.timestamp()) and marker in task["text"]


def test_given_no_lead_when_create_task_then_standalone_task_for_the_user(
    amocrm: AmoCRMSandbox, adapter: AmoCRMAdapter
) -> None:
    due = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    request = TaskRequest(None, str(USER_BORIS), "Review persona fit", "Three leads changed.", "[qualify:p:1]", due)

    task_id = adapter.create_task(request)

    (task,) = amocrm.tasks_for_user(USER_BORIS)
    assert (str(task["id"]), task["entity_id"], task["entity_type"], task["task_type_id"]) == (task_id, None, None, 1)
    assert task["text"] == "Review persona fit\nThree leads changed.\n[qualify:p:1]"
    assert task["complete_till"] == int(due.timestamp())
    [call] = amocrm.api_calls(method="POST", path_prefix="/api/v4/tasks")
    assert not {"entity_id", "entity_type"} & set(call["json"][0])
    assert httpx.get(f"{amocrm.base_url}/_sandbox/users/{USER_BORIS}/tasks").json()["results"] == [task]


def test_given_neither_lead_nor_user_when_create_task_then_rejected_before_any_call(
    amocrm: AmoCRMSandbox, adapter: AmoCRMAdapter
) -> None:
    request = TaskRequest(None, None, "Review persona fit", "x", "[qualify:p:2]", datetime.now(UTC))
    with pytest.raises(CRMRejected, match="owner_id"):
        adapter.create_task(request)
    assert amocrm.api_calls() == []


def test_given_note_when_created_then_stored_on_lead(amocrm: AmoCRMSandbox, adapter: AmoCRMAdapter) -> None:
    note_id = adapter.create_note("30000001", "Moved back: budget missing", "[qualify:n1]")
    (note,) = amocrm.notes_for_lead(30000001)
    assert str(note["id"]) == note_id and note["note_type"] == "common"
    assert note["params"]["text"].endswith("[qualify:n1]")


def test_given_pipelines_when_listed_then_won_and_lost_closed(adapter: AmoCRMAdapter) -> None:
    sales, partners = adapter.list_pipelines()
    assert (sales.id, sales.label, partners.id) == (str(SALES), "Sales", str(PARTNERS))
    by_id = {s.id: s for s in sales.stages}
    assert by_id["142"].is_won and by_id["142"].is_closed
    assert by_id["143"].is_closed and not by_id["143"].is_won
    assert not by_id[str(QUALIFIED)].is_closed
    assert [s.id for s in sales.stages][-2:] == ["142", "143"]


def test_given_required_statuses_when_native_requirements_then_by_status(adapter: AmoCRMAdapter) -> None:
    requirements = adapter.native_stage_requirements()
    assert requirements[str(QUALIFIED)] == (str(INDUSTRY),)
    assert set(requirements[str(PROPOSAL)]) == {str(COMPANY_SIZE), str(BUDGET)}
    assert requirements["142"] == (str(BUDGET),)  # shared by both pipelines: merged
    assert requirements["143"] == (str(LOSS_REASON),)


def test_given_custom_fields_when_listing_properties_then_enum_options(adapter: AmoCRMAdapter) -> None:
    props = {p.name: p for p in adapter.list_deal_properties()}
    industry = props[str(INDUSTRY)]
    assert (industry.label, industry.type, industry.field_type) == ("Industry", "enumeration", "select")
    assert next((o.value, o.label) for o in industry.options) == ("910001", "IT")
    assert props["status_id"].type == "enumeration" and props[str(COMPANY_SIZE)].type == "number"


def test_given_users_when_listing_owners_then_every_one_with_one_id_and_the_deactivated_one(
    adapter: AmoCRMAdapter,
) -> None:
    owners = adapter.list_owners()
    assert [(o.id, o.email, o.active) for o in owners] == [
        ("5000001", "anna@example.com", True), ("5000002", "boris@example.com", True),
        ("5000003", "clara@example.com", True), ("5000004", "denis@example.com", True),
        ("5000005", "elena@example.com", False)]  # fmt: skip
    assert all(o.user_id == o.id for o in owners) and owners[4].name == "Elena Former"


def test_given_registry_kind_then_amocrm(adapter: AmoCRMAdapter) -> None:
    assert adapter.kind == "amocrm"
