"""Pipedrive won/lost deal statuses as the virtual stages `won` and `lost`, against the sandbox over loopback:
snapshots, move_deal, the webhooks a status change sends, and the sandbox's status semantics (API v2)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import httpx
import pytest

from adapters.base import WebhookEvent
from adapters.pipedrive import PipedriveAdapter
from adapters.pipedrive_webhooks import PipedriveWebhookVerifier
from adapters.sandbox.pipedrive import PipedriveSandbox
from tests.adapters.pipedrive_fixtures import (  # noqa: F401
    HOOK_PASSWORD,
    HOOK_USER,
    PATH_TOKEN,
    TOKEN,
    adapter_fixture,
    new_deal,
    pipedrive_fixture,
    receiver_fixture,
)
from tests.adapters.sandbox_fixtures import WebhookReceiver

EPOCH = datetime(2020, 1, 1, tzinfo=UTC)


def events(receiver: WebhookReceiver, count: int) -> list[WebhookEvent]:
    """The first `count` deliveries, verified and parsed as the service would."""
    verifier = PipedriveWebhookVerifier(username=HOOK_USER, password=HOOK_PASSWORD, path_token=PATH_TOKEN)
    parsed: list[WebhookEvent] = []
    for hook in receiver.wait_for(count):
        verifier.verify(method=hook.method, url=hook.url, headers=hook.headers, body=hook.body.encode(),
                        now=time.time())  # fmt: skip
        parsed += verifier.parse(hook.body.encode(), hook.headers)
    return parsed


def moves(receiver: WebhookReceiver, count: int) -> list[tuple[str | None, str | None, str | None]]:
    """(old stage, new stage, old pipeline) of the first `count` deliveries."""
    return [(e.old_stage, e.new_stage, e.old_pipeline) for e in events(receiver, count)]


def test_given_won_and_lost_deals_when_read_then_they_stand_in_the_virtual_stages(
    pipedrive: PipedriveSandbox, adapter: PipedriveAdapter
) -> None:
    won, lost, open_deal = new_deal(pipedrive, "Won"), new_deal(pipedrive, "Lost"), new_deal(pipedrive, "Open")
    pipedrive.ui_update_deal(won, {"stage_id": 3, "status": "won"})
    pipedrive.ui_update_deal(lost, {"status": "lost"})

    snapshots = {d.id: d for d in adapter.search_deals_modified_since(EPOCH, []).deals}
    for deal_id, stage, real in ((won, "won", "3"), (lost, "lost", "1"), (open_deal, "1", "1")):
        single = adapter.get_deal(str(deal_id), [])
        for snapshot in (single, snapshots[str(deal_id)]):
            assert (snapshot.stage_id, snapshot.pipeline_id) == (stage, "1")
            assert snapshot.properties["stage_id"] == real  # the real stage stays readable
    assert adapter.get_deal(str(won), []).closed_at is not None
    assert adapter.get_deal(str(open_deal), []).closed_at is None


def test_when_move_deal_into_won_then_lost_then_a_real_stage_then_status_changes_and_reopens(
    pipedrive: PipedriveSandbox, adapter: PipedriveAdapter, receiver: WebhookReceiver
) -> None:
    deal_id = new_deal(pipedrive, stage_id=2)
    receiver.wait_for(1)

    adapter.move_deal(str(deal_id), "won")
    deal = pipedrive.deal(deal_id)
    assert (deal["status"], deal["stage_id"]) == ("won", 2)
    assert deal["won_time"] and deal["close_time"] == deal["won_time"] and deal["lost_time"] is None

    adapter.move_deal(str(deal_id), "lost")
    deal = pipedrive.deal(deal_id)
    assert (deal["status"], deal["won_time"], deal["close_time"]) == ("lost", None, deal["lost_time"])

    adapter.move_deal(str(deal_id), "4")
    deal = pipedrive.deal(deal_id)
    assert (deal["status"], deal["stage_id"], deal["close_time"], deal["lost_time"]) == ("open", 4, None, None)
    assert adapter.get_deal(str(deal_id), []).stage_id == "4"
    assert moves(receiver, 4)[1:] == [("2", "won", None), ("won", "lost", "1"), ("lost", "4", "1")]
    assert [e.source for e in events(receiver, 4)[1:]] == ["api"] * 3


def test_given_a_won_deal_when_moved_back_to_its_own_stage_then_reopened_there(
    pipedrive: PipedriveSandbox, adapter: PipedriveAdapter, receiver: WebhookReceiver
) -> None:
    deal_id = new_deal(pipedrive, stage_id=3)
    pipedrive.ui_update_deal(deal_id, {"status": "won"})

    adapter.move_deal(str(deal_id), "3")  # what a revert of "marked won" sends

    assert (pipedrive.deal(deal_id)["status"], pipedrive.deal(deal_id)["stage_id"]) == ("open", 3)
    assert moves(receiver, 3)[1:] == [("3", "won", None), ("won", "3", "1")]


def test_given_ui_status_changes_when_webhooks_arrive_then_each_is_one_move(
    pipedrive: PipedriveSandbox, receiver: WebhookReceiver
) -> None:
    deal_id = new_deal(pipedrive)
    pipedrive.ui_update_deal(deal_id, {"status": "lost"})  # lost
    pipedrive.ui_update_deal(deal_id, {"status": "open"})  # reopened
    pipedrive.ui_update_deal(deal_id, {"stage_id": 4, "status": "won"})  # stage and status at once
    pipedrive.ui_update_deal(deal_id, {"stage_id": 2, "status": "open"})  # reopened into another stage
    pipedrive.ui_move_deal(deal_id, 3)  # a plain stage move, as before

    assert moves(receiver, 6)[1:] == [("1", "lost", None), ("lost", "1", "1"), ("1", "won", None),
                                      ("won", "2", "1"), ("2", "3", None)]  # fmt: skip
    parsed = events(receiver, 6)
    assert parsed[0].new_stage is None  # the creation
    assert all(e.property_name == "stage_id" and e.source == "ui" for e in parsed[1:])


def test_given_a_won_deal_whose_stage_changes_when_webhook_arrives_then_no_move(
    pipedrive: PipedriveSandbox, receiver: WebhookReceiver
) -> None:
    deal_id = new_deal(pipedrive)
    pipedrive.ui_update_deal(deal_id, {"status": "won"})
    pipedrive.ui_move_deal(deal_id, 2)  # still won: Qualify sees it in `won` throughout

    parsed = events(receiver, 3)
    assert (parsed[2].new_stage, parsed[2].old_stage, parsed[2].property_name) == (None, None, None)


def test_when_listing_deals_by_status_then_only_those_as_v2_filters(pipedrive: PipedriveSandbox) -> None:
    won, lost, open_deal = new_deal(pipedrive), new_deal(pipedrive), new_deal(pipedrive)
    pipedrive.ui_update_deal(won, {"status": "won"})
    pipedrive.ui_update_deal(lost, {"status": "lost"})

    def ids(status: str | None) -> list[int]:
        params = {"status": status} if status is not None else {}
        answer = httpx.get(f"{pipedrive.base_url}/api/v2/deals", params=params, headers={"x-api-token": TOKEN})
        answer.raise_for_status()
        return [d["id"] for d in answer.json()["data"]]

    assert ids(None) == [won, lost, open_deal]
    assert (ids("won"), ids("lost"), ids("open")) == ([won], [lost], [open_deal])
    assert ids("won,lost") == [won, lost]
    bad = httpx.get(f"{pipedrive.base_url}/api/v2/deals", params={"status": "closed"}, headers={"x-api-token": TOKEN})
    assert bad.status_code == 400 and bad.json()["success"] is False


@pytest.mark.parametrize("status", ["won", "lost"])
def test_given_a_status_change_when_webhook_sent_then_previous_holds_the_old_status_and_times(
    pipedrive: PipedriveSandbox, receiver: WebhookReceiver, status: str
) -> None:
    deal_id = new_deal(pipedrive)
    pipedrive.ui_update_deal(deal_id, {"status": status})
    pipedrive.ui_update_deal(deal_id, {"status": status})  # the same status again changes nothing

    receiver.wait_for(2)
    time.sleep(0.3)  # room for a third delivery, which must not come
    assert len(receiver.wait_for(2)) == 2
    raw = events(receiver, 2)[1].raw
    assert raw["data"]["status"] == status and raw["data"][f"{status}_time"] == raw["data"]["close_time"]
    assert raw["previous"]["status"] == "open"
    assert raw["previous"][f"{status}_time"] is None and raw["previous"]["close_time"] is None
