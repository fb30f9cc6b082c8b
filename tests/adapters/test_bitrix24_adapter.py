"""Bitrix24Adapter against the Bitrix24 sandbox over loopback HTTP (no mocks), both auth styles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from adapters.base import Credentials, TaskRequest
from adapters.bitrix24 import endpoint_of
from adapters.bitrix24_webhooks import Bitrix24WebhookVerifier
from adapters.errors import CRMAuthError, CRMRateLimited, CRMRejected, CRMUnavailable
from adapters.formdata import parse_php_form
from adapters.sandbox.bitrix24 import Bitrix24Sandbox
from tests.adapters.bitrix24_fixtures import (  # noqa: F401
    APP_TOKEN,
    AUTH_STYLES,
    MEMBER_ID,
    bitrix24_fixture,
    make_adapter,
    receiver_fixture,
)
from tests.adapters.sandbox_fixtures import WebhookReceiver


def new_deal(sb: Bitrix24Sandbox, title: str = "Acme", **fields: str) -> str:
    base = {"TITLE": title, "OPPORTUNITY": "1000", "ASSIGNED_BY_ID": "7"}
    return sb.ui_create_deal({**base, **fields})


def test_given_two_url_styles_when_endpoint_of_then_webhook_and_oauth_are_told_apart() -> None:
    webhook = endpoint_of(Credentials("https://acme.bitrix24.com/rest/1/abc123/", ""))
    oauth = endpoint_of(Credentials("https://acme.bitrix24.com", "tok"))
    oauth_rest = endpoint_of(Credentials("https://acme.bitrix24.com/rest/", "tok"))

    assert webhook == ("https://acme.bitrix24.com/rest/1/abc123/", None)
    assert oauth == oauth_rest == ("https://acme.bitrix24.com/rest/", "tok")
    with pytest.raises(ValueError):
        endpoint_of(Credentials("https://acme.bitrix24.com", ""))


@pytest.mark.parametrize("style", AUTH_STYLES)
def test_given_moved_deal_when_get_deal_then_fields_and_history_newest_first(
    bitrix24: Bitrix24Sandbox, style: str
) -> None:
    deal_id = new_deal(bitrix24, UF_CRM_INDUSTRY="101", UF_CRM_BUDGET="5000")
    bitrix24.ui_move_deal(deal_id, "PREPARATION")
    bitrix24.ui_move_deal(deal_id, "EXECUTING")

    with make_adapter(bitrix24, style) as adapter:
        deal = adapter.get_deal(deal_id, ["UF_CRM_INDUSTRY"])

    assert (deal.id, deal.name, deal.amount, deal.owner_id) == (deal_id, "Acme", "1000", "7")
    assert (deal.pipeline_id, deal.stage_id) == ("0", "EXECUTING")
    assert deal.properties["UF_CRM_INDUSTRY"] == "101" and deal.properties["UF_CRM_BUDGET"] == "5000"
    assert deal.modified_at is not None and deal.modified_at.tzinfo is not None
    assert [c.stage_id for c in deal.stage_history] == ["EXECUTING", "PREPARATION", "NEW"]
    assert deal.stage_history[1].stage_id == "PREPARATION"  # the previous stage, for a revert
    assert deal.stage_history[-1].source_type == "creation"
    [history_call] = bitrix24.api_calls("crm.stagehistory.list")
    assert history_call["params"]["entityTypeId"] == 2 and history_call["params"]["order"] == {"ID": "DESC"}


@pytest.mark.parametrize("style", AUTH_STYLES)
def test_given_many_deals_when_searching_modified_since_then_pages_by_id_to_the_last_page(
    bitrix24: Bitrix24Sandbox, style: str
) -> None:
    ids = [new_deal(bitrix24, f"Deal {i}") for i in range(125)]
    old = {ids[0], ids[10], ids[70]}
    with bitrix24.lock:
        for deal_id in old:
            bitrix24.portal.deals[int(deal_id)]["DATE_MODIFY"] = "2020-01-01T10:00:00+03:00"
    since = datetime.now(UTC) - timedelta(minutes=5)

    seen: list[str] = []
    after: str | None = None
    pages = 0
    with make_adapter(bitrix24, style) as adapter:
        while True:
            page = adapter.search_deals_modified_since(since, ["UF_CRM_INDUSTRY"], after=after, limit=50)
            pages += 1
            assert page.total is None  # start=-1 skips the COUNT
            seen.extend(d.id for d in page.deals)
            if page.next_after is None:
                break
            after = page.next_after

    assert seen == [i for i in ids if i not in old]
    assert pages == 3
    calls = bitrix24.api_calls("crm.deal.list")
    assert all(c["params"]["start"] == -1 and c["params"]["order"] == {"ID": "ASC"} for c in calls)
    assert [c["params"]["filter"][">ID"] for c in calls] == [0, int(seen[49]), int(seen[99])]
    assert ">=DATE_MODIFY" in calls[0]["params"]["filter"]

    before = len(bitrix24.api_calls())
    with make_adapter(bitrix24, style) as adapter:  # the default limit (200): one list, then the rest chained
        whole = adapter.search_deals_modified_since(since, ["UF_CRM_INDUSTRY"])
    assert [d.id for d in whole.deals] == seen and whole.next_after is None
    first, chained = bitrix24.api_calls()[before:]
    assert (first["method"], first["params"]["filter"][">ID"]) == ("crm.deal.list", 0)
    commands = {name: parse_php_form(text.partition("?")[2]) for name, text in chained["params"]["cmd"].items()}
    assert chained["method"] == "batch" and list(commands) == ["l0", "l1", "l2"]  # 150 more deals wanted
    assert [c["filter"][">ID"] for c in commands.values()] == [seen[49], "$result[l0][49][ID]", "$result[l1][49][ID]"]
    assert all(c["start"] == "-1" and c["order"] == {"ID": "ASC"} and ">=DATE_MODIFY" in c["filter"]
               for c in commands.values())


def test_given_a_cursor_when_searching_then_the_page_comes_in_one_batch_request(bitrix24: Bitrix24Sandbox) -> None:
    ids = [new_deal(bitrix24, f"Deal {i}") for i in range(620)]
    since = datetime.now(UTC) - timedelta(minutes=5)
    with make_adapter(bitrix24, "webhook") as adapter:
        first = adapter.search_deals_modified_since(since, [], limit=500)
        before = len(bitrix24.api_calls())
        full = adapter.search_deals_modified_since(since, [], after=ids[49], limit=500)
        full_calls = bitrix24.api_calls()[before:]
        last = adapter.search_deals_modified_since(since, [], after=full.next_after, limit=500)

    assert [d.id for d in first.deals] == ids[:500] and first.next_after == ids[499]
    assert [d.id for d in full.deals] == ids[50:550] and full.next_after == ids[549]
    assert [c["method"] for c in full_calls] == ["batch"] and len(full_calls[0]["params"]["cmd"]) == 10
    assert [d.id for d in last.deals] == ids[550:] and last.next_after is None  # 70 left: the chain ends short


def test_given_a_chained_list_fails_when_searching_then_its_error_not_a_short_page(
    bitrix24: Bitrix24Sandbox,
) -> None:
    ids = [new_deal(bitrix24, f"Deal {i}") for i in range(200)]
    since = datetime.now(UTC) - timedelta(minutes=5)
    with make_adapter(bitrix24, "webhook") as adapter:
        bitrix24.fail_next("500", method="crm.deal.list")
        with pytest.raises(CRMUnavailable, match=r"crm\.deal\.list in batch: INTERNAL_SERVER_ERROR"):
            adapter.search_deals_modified_since(since, [], after=ids[49], limit=200)
        bitrix24.fail_next("OPERATION_TIME_LIMIT", method="crm.deal.list")
        with pytest.raises(CRMRateLimited) as blocked:  # the method's time budget: the caller reschedules
            adapter.search_deals_modified_since(since, [], after=ids[49], limit=200)
        again = adapter.search_deals_modified_since(since, [], after=ids[49], limit=200)
    assert blocked.value.retry_after is not None and blocked.value.retry_after >= 60
    assert [d.id for d in again.deals] == ids[50:200]


def test_a_page_stops_at_the_limit_and_continues_from_its_last_id(bitrix24: Bitrix24Sandbox) -> None:
    ids = [new_deal(bitrix24, f"Deal {i}") for i in range(160)]
    since = datetime.now(UTC) - timedelta(minutes=5)
    with make_adapter(bitrix24, "webhook") as adapter:
        first = adapter.search_deals_modified_since(since, [], limit=100)
        rest = adapter.search_deals_modified_since(since, [], after=first.next_after, limit=100)
    assert [d.id for d in first.deals] == ids[:100] and first.next_after == ids[99]
    assert [d.id for d in rest.deals] == ids[100:] and rest.next_after is None


def test_given_server_ignoring_id_cursor_when_paging_then_error_not_loop(bitrix24: Bitrix24Sandbox) -> None:
    for i in range(55):
        new_deal(bitrix24, f"Deal {i}")
    bitrix24.quirks.add("ignore_id_filter")
    since = datetime.now(UTC) - timedelta(minutes=5)

    with make_adapter(bitrix24) as adapter:
        first = adapter.search_deals_modified_since(since, [], limit=50)
        with pytest.raises(CRMUnavailable, match="did not advance"):
            adapter.search_deals_modified_since(since, [], after=first.next_after, limit=50)
        with pytest.raises(CRMUnavailable, match="did not advance"):  # within one page of several calls too
            adapter.search_deals_modified_since(since, [])


@pytest.mark.parametrize("style", AUTH_STYLES)
def test_given_deal_when_update_deal_then_stage_moves_and_event_is_sent(
    bitrix24: Bitrix24Sandbox, receiver: WebhookReceiver, style: str
) -> None:
    deal_id = new_deal(bitrix24)

    with make_adapter(bitrix24, style) as adapter:
        adapter.update_deal(deal_id, {"STAGE_ID": "PREPARATION", "UF_CRM_DECISION_MAKER": "CFO"})
        deal = adapter.get_deal(deal_id, [])
    bitrix24.wait_webhooks_idle()

    assert deal.stage_id == "PREPARATION" and deal.properties["UF_CRM_DECISION_MAKER"] == "CFO"
    verifier = Bitrix24WebhookVerifier(APP_TOKEN, account_id=MEMBER_ID, portal=bitrix24.base_url)
    events = [e for r in receiver.wait_for(2) for e in verifier.parse(r.body.encode(), {})]
    assert [(e.kind, e.object_id) for e in events] == [("creation", deal_id), ("property_change", deal_id)]


def test_given_fit_write_back_when_update_deal_then_user_fields_written_and_blank_clears(
    bitrix24: Bitrix24Sandbox,
) -> None:
    score, grade, persona = "UF_CRM_QUALIFY_FIT_SCORE", "UF_CRM_QUALIFY_FIT_GRADE", "UF_CRM_QUALIFY_PERSONA"
    deal_id = new_deal(bitrix24)

    with make_adapter(bitrix24) as adapter:
        adapter.update_deal(deal_id, {score: "87", grade: "A", persona: "Retail buyer"})
        adapter.update_deal(deal_id, {score: "35", persona: ""})  # below the floor: no persona fits
        props = adapter.get_deal(deal_id, [score, grade, persona]).properties

    assert [c["params"]["fields"] for c in bitrix24.api_calls(method="crm.deal.update")] == [
        {score: "87", grade: "A", persona: "Retail buyer"}, {score: "35", persona: ""}]
    assert (props[score], props[grade], props[persona]) == ("35", "A", None)


def test_given_other_category_when_update_deal_then_pipeline_and_stage_move(bitrix24: Bitrix24Sandbox) -> None:
    deal_id = new_deal(bitrix24)

    with make_adapter(bitrix24) as adapter:
        adapter.update_deal(deal_id, {"CATEGORY_ID": "1", "STAGE_ID": "C1:EXECUTING"})
        deal = adapter.get_deal(deal_id, [])
        with pytest.raises(CRMRejected):
            adapter.update_deal(deal_id, {"STAGE_ID": "WON"})  # a stage of another category

    assert (deal.pipeline_id, deal.stage_id) == ("1", "C1:EXECUTING")
    assert deal.stage_history[0].source_type == "category_change"
    [moved] = bitrix24.api_calls("crm.item.update")  # crm.deal.update cannot change the category
    assert moved["params"]["fields"] == {"categoryId": "1", "stageId": "C1:EXECUTING"}


@pytest.mark.parametrize("style", AUTH_STYLES)
def test_given_deal_when_task_created_then_found_by_marker(bitrix24: Bitrix24Sandbox, style: str) -> None:
    deal_id = new_deal(bitrix24)
    due = datetime(2030, 1, 2, 15, 0, tzinfo=UTC)
    request = TaskRequest(deal_id, "7", "Fill the portrait", "Budget is missing", "[qualify:gate:42]", due)

    with make_adapter(bitrix24, style) as adapter:
        assert adapter.find_task(deal_id, "[qualify:gate:42]") is None
        task_id = adapter.create_task(request)
        found = adapter.find_task(deal_id, "[qualify:gate:42]")
        note_id = adapter.create_note(deal_id, "Moved back: budget missing", "[qualify:note:42]")

    assert found == task_id
    [todo] = bitrix24.todos_for_deal(deal_id)
    assert (todo["SUBJECT"], todo["RESPONSIBLE_ID"], todo["OWNER_TYPE_ID"]) == ("Fill the portrait", "7", "2")
    assert todo["DESCRIPTION"].endswith("[qualify:gate:42]")
    [comment] = bitrix24.comments_for_deal(deal_id)
    assert comment["ID"] == note_id and "[qualify:note:42]" in comment["COMMENT"]


@pytest.mark.parametrize("style", AUTH_STYLES)
def test_given_no_deal_when_create_task_then_tasks_module_task_for_the_user(
    bitrix24: Bitrix24Sandbox, style: str
) -> None:
    due = datetime(2030, 1, 2, 15, 0, tzinfo=UTC)
    request = TaskRequest(None, "7", "Review persona fit", "Three leads changed persona.", "[qualify:p:1]", due)

    with make_adapter(bitrix24, style) as adapter:
        task_id = adapter.create_task(request)
        read = adapter.call("tasks.task.get", {"taskId": task_id})["result"]["task"]

    assert (read["id"], read["title"], read["responsibleId"]) == (task_id, "Review persona fit", "7")
    assert read["description"] == "Three leads changed persona.\n\n[qualify:p:1]"
    assert datetime.fromisoformat(read["deadline"]) == due
    with bitrix24.lock:
        [stored] = bitrix24.portal.tasks_for_user("7")
    assert (stored["ID"], stored["UF_CRM_TASK"]) == (task_id, [])
    assert [c["method"] for c in bitrix24.api_calls()] == ["tasks.task.add", "tasks.task.get"]  # no CRM to-do


def test_given_neither_deal_nor_owner_when_create_task_then_rejected_before_any_call(
    bitrix24: Bitrix24Sandbox,
) -> None:
    request = TaskRequest(None, None, "Review persona fit", "x", "[qualify:p:2]", datetime.now(UTC))
    with make_adapter(bitrix24) as adapter, pytest.raises(CRMRejected, match="owner_id"):
        adapter.create_task(request)
    assert bitrix24.api_calls() == []


@pytest.mark.parametrize("style", AUTH_STYLES)
def test_given_seeded_portal_when_listing_pipelines_then_stages_with_won_and_lost(
    bitrix24: Bitrix24Sandbox, style: str
) -> None:
    with make_adapter(bitrix24, style) as adapter:
        pipelines = adapter.list_pipelines()

    assert [p.id for p in pipelines] == ["0", "1"]
    default, enterprise = pipelines
    assert [s.id for s in default.stages][:2] == ["NEW", "PREPARATION"]
    assert [s.id for s in default.stages if s.is_won] == ["WON"]
    assert [s.id for s in default.stages if s.is_closed and not s.is_won] == ["LOSE", "APOLOGY"]
    assert [s.id for s in enterprise.stages if s.is_won] == ["C1:WON"]
    assert [s.order for s in enterprise.stages] == sorted(s.order for s in enterprise.stages)
    assert len(bitrix24.api_calls("batch")) == 1  # the stage lists are fanned out in one batch


def test_given_seeded_portal_when_listing_properties_and_owners_then_custom_fields_and_users(
    bitrix24: Bitrix24Sandbox,
) -> None:
    with make_adapter(bitrix24) as adapter:
        properties = {p.name: p for p in adapter.list_deal_properties()}
        owners = adapter.list_owners()

    industry = properties["UF_CRM_INDUSTRY"]
    assert (industry.label, industry.type, industry.field_type) == ("Industry", "enumeration", "select")
    assert [(o.value, o.label) for o in industry.options][:2] == [("101", "IT"), ("102", "Manufacturing")]
    assert {"UF_CRM_BUDGET", "UF_CRM_LOSS_REASON", "STAGE_ID", "OPPORTUNITY"} <= set(properties)
    assert [(o.id, o.email, o.active) for o in owners] == [
        ("1", "anna@sandbox.example", True), ("7", "ivan@sandbox.example", True), ("8", "olga@sandbox.example", True),
        ("9", "pavel@sandbox.example", True), ("10", "sergey@sandbox.example", False)]  # fmt: skip
    assert all(o.user_id == o.id for o in owners) and owners[4].name == "Sergey Former"
    assert adapter.native_stage_requirements() == {}


def test_given_sixty_commands_when_batch_then_two_calls_and_all_results(bitrix24: Bitrix24Sandbox) -> None:
    ids = [new_deal(bitrix24, f"Deal {i}") for i in range(60)]
    commands = {f"d{i}": ("crm.deal.get", {"id": deal_id}) for i, deal_id in enumerate(ids)}
    commands["missing"] = ("crm.deal.get", {"id": "99999"})

    with make_adapter(bitrix24) as adapter:
        results, errors = adapter.batch(commands)

    assert [results[f"d{i}"]["ID"] for i in range(60)] == ids
    assert errors["missing"]["error_description"] == "Not found"
    assert len(bitrix24.api_calls("batch")) == 2


def test_given_offline_mode_when_fetching_and_clearing_then_coalesced_events_at_least_once(
    bitrix24: Bitrix24Sandbox, receiver: WebhookReceiver
) -> None:
    first, second = new_deal(bitrix24), new_deal(bitrix24)
    bitrix24.wait_webhooks_idle()
    bitrix24.set_offline(True)
    bitrix24.ui_move_deal(first, "PREPARATION")
    bitrix24.ui_move_deal(first, "EXECUTING")  # coalesced with the previous change
    bitrix24.ui_move_deal(second, "PREPARATION")

    with make_adapter(bitrix24, "oauth") as adapter:
        events = adapter.fetch_offline_events(50)
        assert adapter.fetch_offline_events(50) == []  # hidden under the process id until cleared
        adapter.clear_offline_events(events)
    with make_adapter(bitrix24, "webhook") as webhook_adapter, pytest.raises(CRMAuthError):
        webhook_adapter.fetch_offline_events()  # event.offline.* works in application context only

    assert sorted((e.object_id, e.kind) for e in events) == [(first, "property_change"), (second, "property_change")]
    assert len({e.delivery_key for e in events}) == 2
    assert bitrix24.offline.pending() == []
    assert len(receiver.requests) == 2  # only the two creations were POSTed
