"""HubSpotAdapter against the HubSpot sandbox over loopback HTTP (no mocks)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from adapters.base import Credentials, TaskRequest
from adapters.errors import CRMAuthError, CRMNotFound, CRMRateLimited, CRMRejected
from adapters.http import RetryPolicy
from adapters.hubspot import HubSpotAdapter, hubspot_limiter_buckets
from adapters.kind import ConnectionSettings
from adapters.ratelimit import RateLimiter
from adapters.registry import UnknownCRM, kind_of
from adapters.sandbox.hubspot import HubSpotSandbox

TOKEN = "pat-sandbox-token"
STAGES = [
    "appointmentscheduled", "qualifiedtobuy", "presentationscheduled", "decisionmakerboughtin",
    "contractsent", "closedwon", "closedlost",
]  # fmt: skip
FAST = RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.05)


@pytest.fixture
def sandbox() -> Iterator[HubSpotSandbox]:
    sb = HubSpotSandbox(client_secret="s", access_token=TOKEN, webhook_url=None)
    sb.start()
    try:
        yield sb
    finally:
        sb.stop()


def make_adapter(
    sb: HubSpotSandbox,
    *,
    token: str = TOKEN,
    timeout: float = 5.0,
    limiter: RateLimiter | None = None,
    policy: RetryPolicy = FAST,
) -> HubSpotAdapter:
    credentials = Credentials(base_url=sb.start(), access_token=token)
    return HubSpotAdapter(credentials, limiter=limiter, policy=policy, timeout=timeout)


@pytest.fixture
def adapter(sandbox: HubSpotSandbox) -> Iterator[HubSpotAdapter]:
    with make_adapter(sandbox) as a:
        yield a


def new_deal(sb: HubSpotSandbox, name: str = "Acme", **props: str) -> str:
    base = {"dealname": name, "dealstage": "appointmentscheduled", "pipeline": "default", "amount": "1000"}
    return str(sb.ui_create_deal({**base, **props}))


def deal_calls(sb: HubSpotSandbox, deal_id: str) -> list[int]:
    return [c["status"] for c in sb.api_calls(method="GET", path_prefix=f"/crm/v3/objects/deals/{deal_id}")]


def test_given_deal_when_get_deal_then_history_newest_first(
    sandbox: HubSpotSandbox, adapter: HubSpotAdapter
) -> None:
    deal_id = new_deal(sandbox, industry="it")
    time.sleep(0.01)
    sandbox.ui_move_deal(deal_id, "qualifiedtobuy", user_id=45678)
    time.sleep(0.01)
    sandbox.ui_move_deal(deal_id, "presentationscheduled", user_id=45678)

    deal = adapter.get_deal(deal_id, ["industry", "budget"])

    assert (deal.id, deal.name, deal.amount, deal.pipeline_id) == (deal_id, "Acme", "1000", "default")
    assert deal.stage_id == "presentationscheduled"
    assert deal.properties["industry"] == "it"
    assert deal.modified_at is not None and deal.modified_at.tzinfo is not None
    stages = [c.stage_id for c in deal.stage_history]
    assert stages == ["presentationscheduled", "qualifiedtobuy", "appointmentscheduled"]
    times = [c.at for c in deal.stage_history]
    assert times == sorted(times, reverse=True)
    assert "45678" in (deal.stage_history[0].source_id or "")


def test_given_unknown_deal_when_get_deal_then_not_found(
    sandbox: HubSpotSandbox, adapter: HubSpotAdapter
) -> None:
    with pytest.raises(CRMNotFound) as info:
        adapter.get_deal("999999999", [])
    assert info.value.status == 404 and info.value.vendor_message
    assert len(sandbox.api_calls(path_prefix="/crm/v3/objects/deals/999999999")) == 1


def test_given_429_then_200_when_get_deal_then_succeeds(
    sandbox: HubSpotSandbox, adapter: HubSpotAdapter
) -> None:
    deal_id = new_deal(sandbox)
    sandbox.fail_next("429", retry_after=0.1)
    assert adapter.get_deal(deal_id, []).id == deal_id
    assert deal_calls(sandbox, deal_id) == [429, 200]


def test_given_500_then_200_when_get_deal_then_succeeds(
    sandbox: HubSpotSandbox, adapter: HubSpotAdapter
) -> None:
    deal_id = new_deal(sandbox)
    sandbox.fail_next("500")
    assert adapter.get_deal(deal_id, []).id == deal_id
    assert deal_calls(sandbox, deal_id) == [500, 200]


def test_given_timeout_then_200_when_get_deal_then_succeeds(sandbox: HubSpotSandbox) -> None:
    deal_id = new_deal(sandbox)
    sandbox.fail_next("timeout", delay=5.0)
    started = time.monotonic()
    with make_adapter(sandbox, timeout=1.0) as adapter:
        assert adapter.get_deal(deal_id, []).id == deal_id
    assert time.monotonic() - started < 4.0  # did not wait for the slow answer


def test_given_401_when_get_deal_then_fails_at_once(sandbox: HubSpotSandbox, adapter: HubSpotAdapter) -> None:
    deal_id = new_deal(sandbox)
    sandbox.fail_next("401")
    with pytest.raises(CRMAuthError) as info:
        adapter.get_deal(deal_id, [])
    assert len(sandbox.api_calls(path_prefix="/crm/")) == 1
    assert TOKEN not in str(info.value)


class CountingTransport(httpx.HTTPTransport):
    """A real HTTP transport that counts the requests it sends (the sandbox logs only authenticated ones)."""

    def __init__(self) -> None:
        super().__init__()
        self.sent = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent += 1
        return super().handle_request(request)


def test_given_wrong_token_when_listing_then_auth_error_without_retry(sandbox: HubSpotSandbox) -> None:
    transport = CountingTransport()
    credentials = Credentials(base_url=sandbox.start(), access_token="pat-wrong")
    with (
        HubSpotAdapter(credentials, policy=FAST, transport=transport) as adapter,
        pytest.raises(CRMAuthError),
    ):
        adapter.list_pipelines()
    assert transport.sent == 1
    assert sandbox.api_calls() == []


def test_given_450_deals_when_searching_modified_since_then_pages_to_the_last(
    sandbox: HubSpotSandbox, adapter: HubSpotAdapter
) -> None:
    since = datetime.now(UTC) - timedelta(seconds=1)
    created = {new_deal(sandbox, f"Deal {i}") for i in range(450)}
    seen: list[str] = []
    modified: list[datetime] = []
    after: str | None = None
    pages = 0
    while True:
        page = adapter.search_deals_modified_since(since, ["industry"], after=after, limit=500)
        pages += 1
        assert len(page.deals) <= 200  # the limit is clamped to HubSpot's maximum
        seen.extend(d.id for d in page.deals)
        modified.extend(d.modified_at for d in page.deals if d.modified_at)
        after = page.next_after
        if after is None:
            break
        assert pages < 10
    assert created <= set(seen)
    assert len(seen) == len(set(seen))
    assert modified == sorted(modified)  # oldest first
    assert pages == -(-len(seen) // 200)
    assert len(sandbox.api_calls(method="POST", path_prefix="/crm/v3/objects/deals/search")) == pages


def test_given_deal_when_update_deal_then_stage_moves(
    sandbox: HubSpotSandbox, adapter: HubSpotAdapter
) -> None:
    deal_id = new_deal(sandbox)
    adapter.update_deal(deal_id, {"dealstage": "qualifiedtobuy", "industry": "retail"})
    props = sandbox.deal(deal_id)["properties"]
    assert (props["dealstage"], props["industry"]) == ("qualifiedtobuy", "retail")
    assert adapter.get_deal(deal_id, []).stage_history[0].stage_id == "qualifiedtobuy"


def test_given_unknown_stage_when_update_deal_then_rejected_with_vendor_message(
    sandbox: HubSpotSandbox, adapter: HubSpotAdapter
) -> None:
    deal_id = new_deal(sandbox)
    with pytest.raises(CRMRejected) as info:
        adapter.update_deal(deal_id, {"dealstage": "no-such-stage"})
    assert info.value.status == 400 and info.value.vendor_message
    assert len(sandbox.api_calls(method="PATCH")) == 1


def test_given_created_task_when_find_task_then_found_by_marker_and_associated(
    sandbox: HubSpotSandbox, adapter: HubSpotAdapter
) -> None:
    deal_id = new_deal(sandbox)
    marker = f"[qualify:gate:{deal_id}:1]"
    assert adapter.find_task(deal_id, marker) is None
    request = TaskRequest(
        deal_id=deal_id, owner_id="101", subject="Fill the portrait", body="Industry is missing.",
        marker=marker, due=datetime.now(UTC) + timedelta(days=1),
    )  # fmt: skip
    task_id = adapter.create_task(request)
    adapter.create_task(TaskRequest(**{**request.__dict__, "marker": "[qualify:other]"}))

    assert adapter.find_task(deal_id, marker) == task_id
    assert adapter.find_task(deal_id, "[qualify:never]") is None
    tasks = {str(t["id"]): t for t in sandbox.tasks_for_deal(deal_id)}
    assert task_id in tasks
    props = tasks[task_id]["properties"]
    assert marker in props["hs_task_body"] and props["hs_task_subject"] == "Fill the portrait"
    assert (props["hubspot_owner_id"], props["hs_task_status"], props["hs_task_priority"]) == (
        "101", "NOT_STARTED", "HIGH",
    )  # fmt: skip
    assert not sandbox.api_calls(path_prefix="/crm/v3/objects/tasks/search")


def test_given_no_deal_when_create_task_then_standalone_task_for_the_owner(
    sandbox: HubSpotSandbox, adapter: HubSpotAdapter
) -> None:
    due = datetime(2026, 3, 4, 9, 15, tzinfo=UTC)
    request = TaskRequest(None, "101", "Review persona fit", "Three leads changed persona.", "[qualify:p:1]", due)

    task_id = adapter.create_task(request)

    [task] = sandbox.tasks_for_user("101")
    props = task["properties"]
    assert (task["id"], task["associations"], props["hs_task_subject"]) == (task_id, {}, "Review persona fit")
    assert props["hs_task_body"] == "Three leads changed persona.\n\n[qualify:p:1]"
    assert datetime.fromisoformat(str(props["hs_timestamp"]).replace("Z", "+00:00")) == due
    [call] = sandbox.api_calls(method="POST", path_prefix="/crm/v3/objects/tasks")
    assert "associations" not in call["json"] and call["status"] == 201
    assert httpx.get(f"{sandbox.base_url}/_sandbox/users/101/tasks").json()["results"] == [task]


def test_given_neither_deal_nor_owner_when_create_task_then_rejected_before_any_call(
    sandbox: HubSpotSandbox, adapter: HubSpotAdapter
) -> None:
    request = TaskRequest(None, None, "Review persona fit", "x", "[qualify:p:2]", datetime.now(UTC))
    with pytest.raises(CRMRejected, match="owner_id"):
        adapter.create_task(request)
    assert sandbox.api_calls() == []


def test_given_deal_when_create_note_then_id_returned(
    sandbox: HubSpotSandbox, adapter: HubSpotAdapter
) -> None:
    deal_id = new_deal(sandbox)
    assert adapter.create_note(deal_id, "Moved back: portrait incomplete.", "[qualify:note:1]")
    assert sandbox.api_calls(method="POST", path_prefix="/crm/v3/objects/notes")[0]["status"] == 201


def test_given_seeded_portal_when_list_pipelines_then_stages_in_order(adapter: HubSpotAdapter) -> None:
    default = next(p for p in adapter.list_pipelines() if p.id == "default")
    assert [s.id for s in default.stages] == STAGES
    by_id = {s.id: s for s in default.stages}
    assert (
        by_id["closedwon"].is_closed and by_id["closedwon"].is_won and by_id["closedwon"].probability == 1.0
    )
    assert by_id["closedlost"].is_closed and not by_id["closedlost"].is_won
    assert not by_id["qualifiedtobuy"].is_closed
    assert [s.order for s in default.stages] == sorted(s.order for s in default.stages)


def test_given_seeded_portal_when_list_deal_properties_then_custom_ones_present(
    adapter: HubSpotAdapter,
) -> None:
    props = {p.name: p for p in adapter.list_deal_properties()}
    custom = {
        "industry",
        "company_size",
        "budget",
        "decision_maker",
        "pain_points",
        "channels",
        "loss_reason",
    }
    assert custom <= set(props)
    assert {"dealname", "dealstage", "amount"} <= set(props)
    assert all(p.type and p.field_type for p in props.values())
    assert any(p.options for p in props.values())


def test_given_seeded_portal_when_list_owners_then_both_owners(adapter: HubSpotAdapter) -> None:
    owners = {o.id: o for o in adapter.list_owners()}
    assert {"101", "102"} <= set(owners)
    assert all(o.email for o in owners.values())


def test_given_limiter_below_sandbox_limit_when_bursting_then_no_429() -> None:
    sb = HubSpotSandbox(client_secret="s", access_token=TOKEN, webhook_url=None, rate_limit=(20, 2.0))
    sb.start()
    try:
        deal_id = new_deal(sb)
        limiter = RateLimiter({**hubspot_limiter_buckets(), "default": (18, 2.0)})
        with make_adapter(sb, limiter=limiter, policy=RetryPolicy(max_attempts=1)) as adapter:
            for _ in range(40):
                adapter.get_deal(deal_id, [])
        statuses = [c["status"] for c in sb.api_calls(path_prefix="/crm/")]
        assert len(statuses) == 40 and 429 not in statuses
        # Control: without our limiter the same burst does hit the sandbox's limit.
        unlimited = RateLimiter({"default": (1000, 1.0)})
        with (
            make_adapter(sb, limiter=unlimited, policy=RetryPolicy(max_attempts=1)) as raw,
            pytest.raises(CRMRateLimited),
        ):
            for _ in range(40):
                raw.get_deal(deal_id, [])
    finally:
        sb.stop()


def test_given_registry_when_adapter_for_hubspot_then_adapter(sandbox: HubSpotSandbox) -> None:
    settings = ConnectionSettings("hubspot", sandbox.start(), secrets={"access_token": TOKEN})
    adapter = kind_of("hubspot").build_adapter(settings, limiter=None, transport=None)
    try:
        assert adapter.kind == "hubspot"
        assert {o.id for o in adapter.list_owners()} >= {"101", "102"}
    finally:
        adapter.close()
    with pytest.raises(UnknownCRM):
        kind_of("salesforce")
