"""The Bitrix24 sandbox speaks Bitrix24's wire format: envelopes, paging, limits, errors, controls."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from adapters.sandbox.bitrix24 import Bitrix24Sandbox
from tests.adapters.bitrix24_fixtures import bitrix24_fixture, receiver_fixture  # noqa: F401
from tests.adapters.sandbox_fixtures import WebhookReceiver


@pytest.fixture
def http(bitrix24: Bitrix24Sandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=bitrix24.base_url, timeout=5.0) as client:
        yield client


def rest(http: httpx.Client, sb: Bitrix24Sandbox, method: str, **params: object) -> httpx.Response:
    return http.post(f"/rest/{sb.webhook_user_id}/{sb.webhook_token}/{method}.json", json=params)


def test_given_sixty_deals_when_listing_then_pages_of_fifty_with_next_and_total(
    bitrix24: Bitrix24Sandbox, http: httpx.Client
) -> None:
    for i in range(60):
        bitrix24.ui_create_deal({"TITLE": f"Deal {i}"})

    first = rest(http, bitrix24, "crm.deal.list", start=0).json()
    last = rest(http, bitrix24, "crm.deal.list", start=50).json()
    fast = rest(http, bitrix24, "crm.deal.list", start=-1, filter={">ID": 55}).json()

    assert (len(first["result"]), first["next"], first["total"]) == (50, 50, 60)
    assert (len(last["result"]), "next" in last, last["total"]) == (10, False, 60)
    assert [d["ID"] for d in fast["result"]] == ["56", "57", "58", "59", "60"]
    assert "total" not in fast and "next" not in fast
    assert {"start", "finish", "duration", "operating", "operating_reset_at"} <= set(first["time"])


def test_given_form_encoded_request_when_calling_then_bracket_params_are_understood(
    bitrix24: Bitrix24Sandbox, http: httpx.Client
) -> None:
    deal_id = bitrix24.ui_create_deal({"TITLE": "Acme"})
    path = f"/rest/crm.deal.update.json?auth={bitrix24.access_token}"

    answer = http.post(path, content=f"id={deal_id}&fields[TITLE]=Renamed&fields[UNKNOWN]=x",
                       headers={"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip

    assert answer.json()["result"] is True
    assert bitrix24.deal(deal_id)["TITLE"] == "Renamed" and "UNKNOWN" not in bitrix24.deal(deal_id)


def test_given_small_bucket_when_bursting_then_query_limit_exceeded_503(
    bitrix24: Bitrix24Sandbox, http: httpx.Client
) -> None:
    http.post("/_sandbox/config", json={"leaky_bucket": [1.0, 3]})

    statuses = [rest(http, bitrix24, "user.get").status_code for _ in range(4)]
    refused = rest(http, bitrix24, "user.get")

    assert statuses[:3] == [200, 200, 200] and statuses[3] == 503
    assert refused.json() == {"error": "QUERY_LIMIT_EXCEEDED", "error_description": "Too many requests"}


@pytest.mark.parametrize(("path", "status", "code"), [
    ("/rest/1/wrong/user.get.json", 401, "INVALID_CREDENTIALS"),
    ("/rest/user.get.json", 401, "NO_AUTH_FOUND"),
    ("/rest/user.get.json?auth=bad", 401, "invalid_token"),
    ("/rest/1/sandboxtoken/crm.nothing.json", 404, "ERROR_METHOD_NOT_FOUND"),
    ("/rest/1/sandboxtoken/crm.deal.get.json?id=404", 400, ""),
])  # fmt: skip
def test_given_bad_request_when_calling_then_bitrix24_error_body(
    http: httpx.Client, path: str, status: int, code: str
) -> None:
    answer = http.post(path)

    assert answer.status_code == status
    assert answer.json()["error"] == code and answer.json()["error_description"]


def test_given_batch_with_halt_when_a_command_fails_then_later_ones_are_skipped(
    bitrix24: Bitrix24Sandbox, http: httpx.Client
) -> None:
    deal_id = bitrix24.ui_create_deal({"TITLE": "Acme"})
    cmd = {"a": f"crm.deal.get?id={deal_id}", "b": "crm.deal.get?id=999", "c": "user.get"}

    halted = rest(http, bitrix24, "batch", halt=1, cmd=cmd).json()["result"]
    full = rest(http, bitrix24, "batch", halt=0, cmd=cmd).json()["result"]

    assert list(halted["result"]) == ["a"] and list(halted["result_error"]) == ["b"]
    assert list(full["result"]) == ["a", "c"] and full["result_total"] == {"c": 5}  # the five users


def test_given_control_endpoints_when_driving_the_ui_then_deal_history_and_events(
    bitrix24: Bitrix24Sandbox, http: httpx.Client, receiver: WebhookReceiver
) -> None:
    created = http.post("/_sandbox/ui/deals", json={"fields": {"TITLE": "Acme", "UF_CRM_INDUSTRY": "101"}})
    deal_id = created.json()["ID"]
    moved = http.post(f"/_sandbox/ui/deals/{deal_id}/move", json={"stage": "C1:NEW", "category_id": 1})
    http.post("/_sandbox/failures", json={"mode": "500", "method": "user.get"})
    failed = rest(http, bitrix24, "user.get")
    http.post("/_sandbox/webhooks/wait", json={"timeout": 5})
    state = http.get(f"/_sandbox/deals/{deal_id}").json()

    assert created.status_code == 201 and moved.json()["STAGE_ID"] == "C1:NEW"
    assert [h["STAGE_ID"] for h in state["history"]] == ["NEW", "C1:NEW"]
    assert failed.status_code == 500 and failed.json()["error"] == "INTERNAL_SERVER_ERROR"
    assert [d["status"] for d in http.get("/_sandbox/webhooks").json()["results"]] == [204, 204]
    assert [c["status"] for c in http.get("/_sandbox/calls", params={"method": "user.get"}).json()["results"]] == [500]
    assert http.post("/_sandbox/config", json={"nope": 1}).status_code == 400

    assert http.post("/_sandbox/reset").json() == {"reset": True}
    assert http.get(f"/_sandbox/deals/{deal_id}").status_code == 400


def test_given_offline_switch_when_deals_change_then_events_queue_instead_of_posting(
    bitrix24: Bitrix24Sandbox, http: httpx.Client, receiver: WebhookReceiver
) -> None:
    http.post("/_sandbox/offline", json={"enabled": True})
    deal_id = bitrix24.ui_create_deal({"TITLE": "Acme"})
    bitrix24.ui_update_deal(deal_id, {"TITLE": "Acme 2"})
    oauth = f"/rest/event.offline.get.json?auth={bitrix24.access_token}"

    queue = http.get("/_sandbox/offline").json()["queue"]
    taken = http.post(oauth, json={"clear": 1}).json()["result"]

    assert [q["EVENT_NAME"] for q in queue] == ["ONCRMDEALADD", "ONCRMDEALUPDATE"]
    assert [e["EVENT_DATA"]["FIELDS"]["ID"] for e in taken["events"]] == [int(deal_id)] * 2
    assert taken["process_id"] is None and bitrix24.offline.pending() == []
    assert receiver.requests == []


def test_given_tasks_module_when_adding_tasks_then_documented_errors_list_filter_and_control_read_back(
    bitrix24: Bitrix24Sandbox, http: httpx.Client
) -> None:
    no_title = rest(http, bitrix24, "tasks.task.add", fields={"RESPONSIBLE_ID": 7})
    no_user = rest(http, bitrix24, "tasks.task.add", fields={"TITLE": "Call back"})
    bad_user = rest(http, bitrix24, "tasks.task.add", fields={"TITLE": "Call back", "RESPONSIBLE_ID": 99})
    added = rest(http, bitrix24, "tasks.task.add",
                 fields={"TITLE": "Call back", "RESPONSIBLE_ID": 7, "DEADLINE": "2030-01-02T18:00:00"})  # fmt: skip
    rest(http, bitrix24, "tasks.task.add", fields={"TITLE": "Other", "RESPONSIBLE_ID": 1, "UF_CRM_TASK": ["D_1"]})

    assert [r.json()["error_description"] for r in (no_title, no_user, bad_user)] == [
        "Task title not specified<br>", "Assignee not specified<br>",
        'User specified in the "Assignee" field not found<br>']  # fmt: skip
    task = added.json()["result"]["task"]
    assert (task["id"], task["responsibleId"], task["createdBy"], task["deadline"]) == (
        "1", "7", "1", "2030-01-02T18:00:00+03:00")  # a naive deadline is portal time
    listed = rest(http, bitrix24, "tasks.task.list", filter={"RESPONSIBLE_ID": 7}, select=["ID", "TITLE"]).json()
    assert listed["result"] == {"tasks": [{"id": "1", "title": "Call back"}]} and listed["total"] == 1
    assert rest(http, bitrix24, "tasks.task.get", taskId=42).json()["result"] == []
    [stored] = http.get("/_sandbox/users/7/tasks").json()["results"]
    assert (stored["ID"], stored["TITLE"], stored["UF_CRM_TASK"]) == ("1", "Call back", [])


@pytest.mark.parametrize("after", [-1, 0, 37, 119, 400])
def test_the_fast_id_pattern_answers_what_the_full_scan_does(
    bitrix24: Bitrix24Sandbox, http: httpx.Client, after: int
) -> None:
    ids = [bitrix24.ui_create_deal({"TITLE": f"Deal {i}", "OPPORTUNITY": str(i % 7)}) for i in range(130)]
    for deal_id in ids[::9]:
        bitrix24.ui_delete_deal(deal_id)
    query = {"filter": {">ID": after, ">=OPPORTUNITY": 3}, "order": {"ID": "ASC"}, "select": ["ID", "TITLE"]}
    fast = rest(http, bitrix24, "crm.deal.list", **query, start=-1).json()
    scanned = rest(http, bitrix24, "crm.deal.list", **query, start=0).json()
    assert fast["result"] == scanned["result"]
    assert "total" not in fast and "next" not in fast
    assert all(int(d["ID"]) > after for d in fast["result"]) and len(fast["result"]) <= 50
    assert after > 0 or len(fast["result"]) == 50


def test_given_batch_references_when_calling_then_earlier_answers_fill_later_commands(
    bitrix24: Bitrix24Sandbox, http: httpx.Client
) -> None:
    ids = [bitrix24.ui_create_deal({"TITLE": f"Deal {i}"}) for i in range(60)]
    fast = "crm.deal.list?start=-1&order[ID]=ASC&select[0]=ID"
    cmd = {
        "a": f"{fast}&filter[>ID]=0",
        "b": f"{fast}&filter[>ID]=%24result%5Ba%5D%5B49%5D%5BID%5D",  # URL-encoded, as the docs require
        "c": f"{fast}&filter[>ID]=$result[b][49][ID]",  # b has 10 deals: no element 49
        "d": "crm.deal.get?id=$result[a][0][ID]",
    }

    answer = rest(http, bitrix24, "batch", halt=1, cmd=cmd).json()["result"]["result"]

    assert [d["ID"] for d in answer["a"]] == ids[:50]
    assert [d["ID"] for d in answer["b"]] == ids[50:]
    assert [d["ID"] for d in answer["c"]] == ids[:50]  # a reference to nothing is empty, and >ID '' is >ID 0
    assert answer["d"]["ID"] == ids[0]
