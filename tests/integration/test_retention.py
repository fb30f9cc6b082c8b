"""Retention on a real database (SQLite and PostgreSQL): what is past its period is deleted in batches, what is
not (or is still waiting to be worked on) stays, and the links to a purged row are nulled, not left dangling."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from service.cli import main
from service.models import (
    ActionStatus,
    AnalyticsRun,
    Connection,
    EventStatus,
    InboundEvent,
    OutboxAction,
    Record,
    RunStatus,
    SyncRun,
    Transition,
    WebhookDelivery,
    WebhookRejection,
    WinModel,
)
from service.runtime import Runtime
from service.services.retention import KEEP_SYNC_RUNS, purge_expired
from tests.conftest import TEST_FERNET_KEY

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def _stored(runtime: Runtime) -> dict[str, int]:
    """A connection with rows on both sides of every retention period; the ids by name."""
    with runtime.uow() as uow:
        s = uow.session
        connection = Connection(name="c", kind="hubspot", base_url="http://127.0.0.1:9",
                                credentials_encrypted=runtime.vault.encrypt({"access_token": "t"}))
        s.add(connection)
        s.flush()
        cid = connection.id
        ids: dict[str, Any] = {}

        def add(name: str, row: Any) -> None:
            s.add(row)
            s.flush()
            ids[name] = row.id

        add("old_delivery", WebhookDelivery(connection_id=cid, received_at=ago(31), body=b"{}"))
        add("new_delivery", WebhookDelivery(connection_id=cid, received_at=ago(29), body=b"{}"))

        def event(name: str, status: str, processed: datetime | None, delivery: str = "new_delivery") -> None:
            add(name, InboundEvent(connection_id=cid, delivery_id=ids[delivery], delivery_key=name, object_id="1",
                                   kind="property_change", occurred_at=ago(40), payload={}, status=status,
                                   received_at=ago(40), processed_at=processed))

        event("old_done", EventStatus.DONE, ago(31))
        event("old_failed", EventStatus.FAILED, ago(31))
        event("old_waiting", EventStatus.RECEIVED, None, delivery="old_delivery")  # never purged while it waits
        event("new_done", EventStatus.DONE, ago(29))
        record = Record(connection_id=cid, external_id="1")
        s.add(record)
        s.flush()

        def transition(name: str, created: datetime, event_name: str) -> None:
            add(name, Transition(connection_id=cid, record_id=record.id, event_id=ids[event_name], to_stage="s",
                                 occurred_at=created, source="webhook", direction="forward", decision="allowed",
                                 created_at=created))

        transition("old_transition", ago(366), "old_done")
        transition("new_transition", ago(364), "old_done")  # kept; its purged event's link is nulled

        def action(name: str, status: str, created: datetime, transition_name: str) -> None:
            add(name, OutboxAction(connection_id=cid, record_id=record.id, transition_id=ids[transition_name],
                                   kind="create_task", payload={}, idempotency_key=name, status=status,
                                   created_at=created, next_attempt_at=created))

        action("old_done_action", ActionStatus.DONE, ago(366), "old_transition")
        action("old_pending_action", ActionStatus.PENDING, ago(366), "old_transition")
        action("new_done_action", ActionStatus.DONE, ago(364), "old_transition")
        for n in range(KEEP_SYNC_RUNS + 3):  # oldest first; the last 20 are kept whatever their age
            add(f"run_{n}", SyncRun(connection_id=cid, status=RunStatus.DONE, queued_at=ago(60 - n),
                                    finished_at=ago(60 - n)))
        add("recent_run", SyncRun(connection_id=cid, status=RunStatus.DONE, queued_at=ago(1), finished_at=ago(1)))
        for days in (31, 29):  # the hourly counts of refused deliveries
            s.add(WebhookRejection(connection_id=cid, hour=ago(days), reason="bad_signature", count=3,
                                   last_at=ago(days)))
        add("portrait_queued", AnalyticsRun(kind="portrait", status=RunStatus.QUEUED, params={}, done=0, total=0,
                                            queued_at=ago(90)))
        for n in range(KEEP_SYNC_RUNS + 2):  # portrait runs, oldest first: the latest 20 kept whatever their age
            add(f"portrait_{n}", AnalyticsRun(kind="portrait", status=RunStatus.DONE, params={}, done=0, total=0,
                                              queued_at=ago(60 - n), finished_at=ago(60 - n)))
        for name, status, days in (("model_old", "replaced", 40), ("model_recent", "replaced", 10),
                                   ("model_current", "current", 45), ("model_latest", "rejected", 35)):
            add(name, WinModel(connection_id=cid, pipeline_external_id="p", status=status, won=0, lost=0, tables={},
                               built_at=ago(days)))
        uow.commit()
        return ids


def _left(runtime: Runtime, model: Any) -> set[int]:
    with runtime.uow() as uow:
        return set(uow.session.scalars(select(model.id)))


def test_given_rows_on_both_sides_of_retention_then_only_the_expired_ones_are_purged_in_batches(
        runtime: Runtime) -> None:
    runtime.clock = lambda: NOW
    ids = _stored(runtime)

    purged = purge_expired(runtime, batch_size=2)

    assert purged == {"webhook_deliveries": 1, "inbound_events": 2, "transitions": 1, "outbox": 1, "sync_runs": 4,
                      "analytics_runs": 2, "win_models": 1, "webhook_rejections": 1}
    assert _left(runtime, WebhookDelivery) == {ids["new_delivery"]}
    assert _left(runtime, InboundEvent) == {ids["old_waiting"], ids["new_done"]}
    assert _left(runtime, Transition) == {ids["new_transition"]}
    assert _left(runtime, OutboxAction) == {ids["old_pending_action"], ids["new_done_action"]}
    assert _left(runtime, SyncRun) == {ids[f"run_{n}"] for n in range(4, KEEP_SYNC_RUNS + 3)} | {ids["recent_run"]}
    with runtime.uow() as uow:
        assert list(uow.session.scalars(select(WebhookRejection.hour))) == [ago(29)]
    assert _left(runtime, AnalyticsRun) == {ids[f"portrait_{n}"] for n in range(2, KEEP_SYNC_RUNS + 2)} | {
        ids["portrait_queued"]}  # never purged while it waits
    # The current model stays whatever its age, the pipeline's latest too (its last rebuild), the recent one too.
    assert _left(runtime, WinModel) == {ids["model_recent"], ids["model_current"], ids["model_latest"]}
    with runtime.uow() as uow:
        s = uow.session
        assert s.get_one(InboundEvent, ids["old_waiting"]).delivery_id is None
        assert s.get_one(Transition, ids["new_transition"]).event_id is None
        assert s.get_one(OutboxAction, ids["new_done_action"]).transition_id is None
    assert purge_expired(runtime) == dict.fromkeys(purged, 0)  # nothing left to do


def test_given_shorter_periods_configured_then_they_apply(runtime: Runtime) -> None:
    runtime.clock = lambda: NOW
    runtime.settings = dataclasses.replace(runtime.settings, retention_days=10, transition_retention_days=100)
    ids = _stored(runtime)

    purged = purge_expired(runtime)

    assert purged["transitions"] == 2 and purged["outbox"] == 2
    assert purged["webhook_deliveries"] == 2 and purged["inbound_events"] == 3
    assert _left(runtime, InboundEvent) == {ids["old_waiting"]}
    assert _left(runtime, OutboxAction) == {ids["old_pending_action"]}


def test_the_retention_command_purges_now_and_prints_what(
        runtime: Runtime, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    with runtime.uow() as uow:
        connection = Connection(name="c", kind="hubspot", base_url="http://127.0.0.1:9",
                                credentials_encrypted=runtime.vault.encrypt({"access_token": "t"}))
        uow.session.add(connection)
        uow.session.flush()
        uow.session.add(WebhookDelivery(connection_id=connection.id, received_at=datetime.now(UTC) - timedelta(days=31),
                                        body=b"{}"))
        uow.commit()
    monkeypatch.setenv("QUALIFY_DATABASE_URL", runtime.engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("QUALIFY_SECRET_KEY", TEST_FERNET_KEY)
    monkeypatch.setenv("QUALIFY_INSTANCE_PATH", runtime.settings.instance_path)

    assert main(["retention"]) == 0

    assert "webhook_deliveries: 1" in capsys.readouterr().out
    assert _left(runtime, WebhookDelivery) == set()
