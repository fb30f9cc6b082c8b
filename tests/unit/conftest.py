"""A harness for the service-layer tests: Qualify with one connection to a FakeCRM on in-memory SQLite, driven
the way the webhook intake and the worker drive it, with look-ups of the rows the tests assert on."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from adapters.base import WebhookEvent
from service.models import ActionStatus, Connection, InboundEvent, OutboxAction, Pipeline, Record, Stage, Transition
from service.services.events import process_event
from service.services.outbox import deliver_action
from tests.fakes import (
    FakeRuntime,
    add_connection,
    add_event,
    add_gate,
    add_persona,
    empty,
    fake_runtime,
    memory_engine,
)


class Harness:
    """One connection to the runtime's FakeCRM; webhooks the CRM emits are processed in order by `process_new`."""

    def __init__(self, runtime: FakeRuntime) -> None:
        self.runtime, self.crm, self.clock = runtime, runtime.crm, runtime.crm.clock
        with runtime.uow() as uow:
            self.connection_id = add_connection(uow.session, runtime.vault).id
            uow.commit()
        self._processed = 0

    @contextmanager
    def setting_up(self) -> Iterator[tuple[Session, Connection]]:
        """A session and the connection for the builders of tests.fakes; committed at the end of the block."""
        with self.runtime.uow() as uow:
            yield uow.session, uow.session.get_one(Connection, self.connection_id)
            uow.commit()

    def gate(self, stage: str, mode: str, required: Sequence[str] = (),
             persona_requirement: dict[str, Any] | None = None) -> None:
        """Gate entering a mirrored stage (looked up by its CRM id)."""
        with self.setting_up() as (session, connection):
            pipeline = session.scalars(select(Pipeline).join(Stage).where(
                Pipeline.connection_id == connection.id, Stage.external_id == stage)).one()
            add_gate(session, connection, pipeline, stage, mode, required, persona_requirement)

    def persona(self, name: str, criteria: list[dict[str, Any]]) -> int:
        """An active persona; its id."""
        with self.setting_up() as (session, _):
            return add_persona(session, name, criteria).id

    def process(self, webhook: WebhookEvent) -> InboundEvent:
        """Store the webhook as intake does, process it, and return the stored event."""
        with self.setting_up() as (session, connection):
            event_id = add_event(session, connection, webhook, self.clock()).id
        process_event(self.runtime, event_id)
        return self.one(InboundEvent, event_id)

    def process_new(self) -> list[InboundEvent]:
        """Process every webhook the CRM emitted since the last call, oldest first."""
        new, self._processed = self.crm.webhooks[self._processed:], len(self.crm.webhooks)
        return [self.process(webhook) for webhook in new]

    def deliver(self, action: OutboxAction) -> OutboxAction:
        """Claim a due action as the worker does (in flight, one more attempt), deliver it, return it stored."""
        with self.runtime.uow() as uow:
            row = uow.session.get_one(OutboxAction, action.id)
            assert row.status == ActionStatus.PENDING and row.next_attempt_at <= self.clock(), "not due"
            row.status, row.attempts, row.next_attempt_at = ActionStatus.IN_FLIGHT, row.attempts + 1, self.clock()
            uow.commit()
        deliver_action(self.runtime, action.id)
        return self.one(OutboxAction, action.id)

    def one(self, model: Any, ident: int) -> Any:
        """A stored row by id."""
        with self.runtime.read_uow() as uow:
            return uow.session.get_one(model, ident)

    def transitions(self, deal: str) -> list[Transition]:
        """The deal's transitions, oldest first."""
        with self.runtime.read_uow() as uow:
            return list(uow.session.scalars(select(Transition).join(Record, Record.id == Transition.record_id)
                                            .where(Record.external_id == deal).order_by(Transition.id)))

    def actions(self, deal: str, kind: str | None = None) -> list[OutboxAction]:
        """The deal's outbox actions (of one kind), oldest first."""
        with self.runtime.read_uow() as uow:
            query = select(OutboxAction).join(Record, Record.id == OutboxAction.record_id).where(
                Record.external_id == deal, *([OutboxAction.kind == kind] if kind else []))
            return list(uow.session.scalars(query.order_by(OutboxAction.id)))

    def record(self, deal: str) -> Record:
        """The deal's stored record."""
        with self.runtime.read_uow() as uow:
            return uow.session.scalars(select(Record).where(Record.external_id == deal)).one()


@pytest.fixture(scope="session")
def memory_db() -> Iterator[Engine]:
    """One in-memory database for the session: the schema is created once and SQLAlchemy's cache of compiled
    statements (kept per engine) stays warm from test to test."""
    engine = memory_engine()
    yield engine
    engine.dispose()


@pytest.fixture
def harness(memory_db: Engine) -> Harness:
    """A harness with a new runtime on the emptied in-memory database."""
    empty(memory_db)
    return Harness(fake_runtime(memory_db))
