"""Fakes for the service-layer tests: an in-memory CRM behind the CRMAdapter Protocol, a clock that tests
advance, a Runtime on in-memory SQLite whose adapter is that CRM, and plain builders of the stored set-up
(model rows, as the admin use cases would leave them)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.fernet import Fernet
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

from adapters.base import (
    CRMAdapter,
    CustomerSnapshot,
    DealPage,
    DealSnapshot,
    OwnerInfo,
    PipelineInfo,
    PropertyInfo,
    StageChange,
    TaskRequest,
    WebhookEvent,
    check_task_target,
)
from adapters.errors import CRMError, CRMNotFound
from service.config import Settings
from service.db import Base, make_engine, make_session_factory
from service.models import Connection, EventStatus, Field, FieldMapping, Gate, InboundEvent, Persona, Pipeline, Stage
from service.runtime import Runtime
from service.secrets import Vault

NOW = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
QUALIFY_APP = "app:qualify"  # who the fake CRM says made the changes that came through its API


class FakeClock:
    """A fixed time that only moves when a test advances it."""

    def __init__(self, start: datetime = NOW) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        """Move the time forward and return the new time."""
        self.now += timedelta(seconds=seconds)
        return self.now


@dataclass
class FakeDeal:
    """A deal as the fake CRM holds it; `history` is newest first, like DealSnapshot.stage_history."""

    id: str
    pipeline_id: str
    stage_id: str
    owner_id: str | None
    name: str
    properties: dict[str, str | None]
    history: list[StageChange]
    modified_at: datetime


@dataclass(frozen=True)
class Fault:
    """An error the next matching call raises; `applied`: the call takes effect first (a timeout after the CRM
    acted)."""

    error: CRMError
    on: str | None
    applied: bool


class FakeCRM:
    """An in-memory CRM implementing CRMAdapter. It keeps deals, tasks and notes, records every call, and, like
    a real CRM, emits a webhook event (`webhooks`) for every change, made in its UI or through its API."""

    def __init__(self, clock: FakeClock, kind: str = "hubspot") -> None:
        self.kind = kind
        self.clock = clock
        self.deals: dict[str, FakeDeal] = {}
        self.tasks: dict[str, TaskRequest] = {}
        self.notes: dict[str, tuple[str, str, str]] = {}  # id -> (deal id, body, marker)
        self.moves: list[tuple[str, str, str | None]] = []  # move_deal calls: (deal id, stage, pipeline)
        self.updates: list[tuple[str, dict[str, str]]] = []  # update_deal calls
        self.calls: list[str] = []  # every call by method name, in order
        self.webhooks: list[WebhookEvent] = []
        self.pipelines: tuple[PipelineInfo, ...] = ()
        self.opened = self.closed = 0  # adapters handed out by FakeRuntime, and close() calls
        self._faults: list[Fault] = []
        self._ids = itertools.count(1)

    # What people do in the CRM's UI (each emits a webhook).

    def create_deal(self, pipeline_id: str, stage_id: str, *, name: str = "Acme", owner_id: str | None = "101",
                    by: str = "userId:1", **properties: str | None) -> str:
        """A new deal in a stage, created by a user; returns its id."""
        deal_id = str(next(self._ids) + 1000)
        now = self.clock()
        self.deals[deal_id] = FakeDeal(deal_id, pipeline_id, stage_id, owner_id, name, dict(properties),
                                       [StageChange(stage_id, now, "CRM_UI", by)], now)
        self._emit(deal_id, "creation", source="ui", change_source="CRM_UI", by=by)
        return deal_id

    def ui_move(self, deal_id: str, stage_id: str, *, by: str = "userId:1") -> None:
        """A user drags the deal into another stage of its pipeline."""
        self._move(deal_id, stage_id, None, "CRM_UI", by)

    def ui_update(self, deal_id: str, *, by: str = "userId:1", **properties: str | None) -> None:
        """A user edits deal properties."""
        deal = self._deal(deal_id)
        deal.properties.update(properties)
        deal.modified_at = self.clock()
        self._emit(deal_id, "property_change", source="ui", change_source="CRM_UI", by=by)

    def ui_delete(self, deal_id: str, *, by: str = "userId:1") -> None:
        """A user deletes the deal."""
        del self.deals[deal_id]
        self._emit(deal_id, "deletion", source="ui", change_source="CRM_UI", by=by)

    def fail_next(self, error: CRMError, *, on: str | None = None, applied: bool = False) -> None:
        """Make the next call (of method `on`, else any) raise `error`; with `applied` it takes effect first."""
        self._faults.append(Fault(error, on, applied))

    # The CRMAdapter Protocol.

    def get_deal(self, deal_id: str, properties: Sequence[str]) -> DealSnapshot:
        """The deal with the requested properties and its stage history; CRMNotFound when there is none."""
        with self._calling("get_deal"):
            return self._snapshot(self._deal(deal_id), properties)

    def search_deals_modified_since(self, since: datetime, properties: Sequence[str], after: str | None = None,
                                    limit: int = 200) -> DealPage:
        """Deals modified at or after `since`, oldest first, `limit` at a time."""
        with self._calling("search_deals_modified_since"):
            found = sorted((d for d in self.deals.values() if d.modified_at >= since),
                           key=lambda d: (d.modified_at, d.id))
            start = int(after or 0)
            page = found[start:start + limit]
            more = start + limit < len(found)
            return DealPage(tuple(self._snapshot(d, properties) for d in page),
                            str(start + limit) if more else None, len(found))

    def update_deal(self, deal_id: str, properties: Mapping[str, str]) -> None:
        """Write properties; a change of stage or pipeline is a move."""
        with self._calling("update_deal"):
            self.updates.append((deal_id, dict(properties)))
            self._deal(deal_id).properties.update(properties)
            self._deal(deal_id).modified_at = self.clock()
            self._emit(deal_id, "property_change", source="api", change_source="INTEGRATION", by=QUALIFY_APP)

    def move_deal(self, deal_id: str, stage_id: str, pipeline_id: str | None = None) -> None:
        """Put the deal into a stage (and pipeline), as Qualify's API calls do."""
        with self._calling("move_deal"):
            self.moves.append((deal_id, stage_id, pipeline_id))
            self._move(deal_id, stage_id, pipeline_id, "INTEGRATION", QUALIFY_APP)

    def find_task(self, deal_id: str, marker: str) -> str | None:
        """The id of a task on the deal whose body carries `marker`."""
        with self._calling("find_task"):
            return next((tid for tid, t in self.tasks.items() if t.deal_id == deal_id and marker in t.body), None)

    def create_task(self, request: TaskRequest) -> str:
        """Store the task (its body carries the marker, as the real adapters write it); returns its id."""
        with self._calling("create_task"):
            check_task_target(request, self.kind)
            task_id = f"task-{next(self._ids)}"
            self.tasks[task_id] = TaskRequest(request.deal_id, request.owner_id, request.subject,
                                              f"{request.body}\n{request.marker}", request.marker, request.due)
            return task_id

    def create_note(self, deal_id: str, body: str, marker: str) -> str:
        """Store a note on the deal; returns its id."""
        with self._calling("create_note"):
            note_id = f"note-{next(self._ids)}"
            self.notes[note_id] = (deal_id, body, marker)
            return note_id

    def list_pipelines(self) -> tuple[PipelineInfo, ...]:
        """The pipelines a test gave the fake."""
        with self._calling("list_pipelines"):
            return self.pipelines

    def list_deal_properties(self) -> tuple[PropertyInfo, ...]:
        """Every property some deal has, as text."""
        with self._calling("list_deal_properties"):
            names = sorted({p for d in self.deals.values() for p in d.properties})
            return tuple(PropertyInfo(n, n, "string", "text") for n in names)

    def list_customer_properties(self, kind: str) -> tuple[PropertyInfo, ...]:
        """The fake has no companies or contacts: no properties of theirs."""
        with self._calling("list_customer_properties"):
            return ()

    def get_customers(self, kind: str, ids: Sequence[str], properties: Sequence[str]) -> tuple[CustomerSnapshot, ...]:
        """The fake has no companies or contacts: none of these ids is known."""
        with self._calling("get_customers"):
            return ()

    def list_owners(self) -> tuple[OwnerInfo, ...]:
        """Every owner of some deal."""
        with self._calling("list_owners"):
            return tuple(OwnerInfo(o, None) for o in sorted({d.owner_id for d in self.deals.values() if d.owner_id}))

    def native_stage_requirements(self) -> dict[str, tuple[str, ...]]:
        """None: the fake has no required fields of its own."""
        with self._calling("native_stage_requirements"):
            return {}

    def close(self) -> None:
        """Count the release (the service closes an adapter after each use)."""
        self.closed += 1

    # Internals.

    @contextmanager
    def _calling(self, name: str) -> Iterator[None]:
        self.calls.append(name)
        fault = next((f for f in self._faults if f.on in (None, name)), None)
        if fault is not None:
            self._faults.remove(fault)
            if not fault.applied:
                raise fault.error
        yield
        if fault is not None:
            raise fault.error

    def _deal(self, deal_id: str) -> FakeDeal:
        if deal_id not in self.deals:
            raise CRMNotFound(f"GET /deals/{deal_id} -> 404: deal not found", status=404)
        return self.deals[deal_id]

    @staticmethod
    def _snapshot(deal: FakeDeal, properties: Sequence[str]) -> DealSnapshot:
        return DealSnapshot(id=deal.id, pipeline_id=deal.pipeline_id, stage_id=deal.stage_id, owner_id=deal.owner_id,
                            amount=None, name=deal.name, modified_at=deal.modified_at,
                            properties={p: deal.properties.get(p) for p in properties},
                            stage_history=tuple(deal.history))

    def _move(self, deal_id: str, stage_id: str, pipeline_id: str | None, source_type: str, by: str) -> None:
        deal = self._deal(deal_id)
        old_stage, old_pipeline = deal.stage_id, deal.pipeline_id
        deal.stage_id, deal.pipeline_id, deal.modified_at = stage_id, pipeline_id or deal.pipeline_id, self.clock()
        deal.history.insert(0, StageChange(stage_id, self.clock(), source_type, by))
        source = "ui" if source_type == "CRM_UI" else "api"
        self._emit(deal_id, "property_change", source=source, change_source=source_type, by=by, new_stage=stage_id,
                   new_pipeline=deal.pipeline_id, old_pipeline=old_pipeline, raw={"oldStage": old_stage})

    def _emit(self, deal_id: str, kind: str, *, source: str, change_source: str, by: str,
              new_stage: str | None = None, new_pipeline: str | None = None, old_pipeline: str | None = None,
              raw: Mapping[str, Any] | None = None) -> None:
        self.webhooks.append(WebhookEvent(
            delivery_key=f"{deal_id}:{kind}:{len(self.webhooks) + 1}", object_id=deal_id, kind=kind,
            occurred_at=self.clock(), change_source=change_source, source_id=by, source=source,
            new_stage=new_stage, new_pipeline=new_pipeline, old_pipeline=old_pipeline, raw=dict(raw or {})))


@dataclass
class FakeRuntime(Runtime):
    """A Runtime whose every connection talks to one FakeCRM."""

    crm: FakeCRM = field(default_factory=lambda: FakeCRM(FakeClock()))

    def adapter(self, connection: Any) -> CRMAdapter:
        """The fake CRM, whatever the connection."""
        self.crm.opened += 1
        return self.crm


def memory_engine() -> Engine:
    """An in-memory SQLite database with the schema of the models, on one shared connection (StaticPool), so
    every unit of work, reading or writing, sees the same data."""
    engine = make_engine("sqlite://", poolclass=StaticPool)
    Base.metadata.create_all(engine)
    return engine


def empty(engine: Engine) -> None:
    """Delete every row of every table (children first)."""
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())


def fake_runtime(engine: Engine | None = None, clock: FakeClock | None = None,
                 settings: Settings | None = None) -> FakeRuntime:
    """A runtime on `engine` (else a new memory_engine()) with a fixed clock and a FakeCRM on that clock.
    Disposing the runtime disposes the engine, and an in-memory database goes with its one connection."""
    clock = clock or FakeClock()
    engine = engine or memory_engine()
    return FakeRuntime(settings=settings or Settings(database_url="sqlite://"), engine=engine,
                       session_factory=make_session_factory(engine), vault=Vault([Fernet.generate_key().decode()]),
                       read_session_factory=None, clock=clock, crm=FakeCRM(clock))


# Builders of the stored set-up: plain model rows in the caller's session (the caller commits).

def add_connection(session: Session, vault: Vault, *, kind: str = "hubspot", language: str = "en") -> Connection:
    """A connection to a CRM account with (fake) encrypted credentials."""
    connection = Connection(name="Fake CRM", kind=kind, base_url="https://crm.invalid", account_id="1",
                            credentials_encrypted=vault.encrypt({"access_token": "fake"}), language=language)
    session.add(connection)
    session.flush()
    return connection


def add_pipeline(session: Session, connection: Connection, external_id: str, label: str,
                 stages: Sequence[tuple[str, str, str]]) -> Pipeline:
    """A mirrored pipeline with its stages given as (id, label, kind open|won|lost), in order."""
    pipeline = Pipeline(connection_id=connection.id, external_id=external_id, label=label, stages=[
        Stage(external_id=sid, label=slabel, order=(i + 1) * 10, kind=kind) for i, (sid, slabel, kind) in
        enumerate(stages)])
    session.add(pipeline)
    session.flush()
    return pipeline


def add_field(session: Session, key: str, label: str, type: str, **constraints: Any) -> Field:
    """A portrait field (`constraints`: min, max, options, ...)."""
    row = Field(key=key, label=label, type=type, constraints=constraints)
    session.add(row)
    session.flush()
    return row


def map_field(session: Session, connection: Connection, row: Field, property: str) -> FieldMapping:
    """Feed the field from a CRM deal property."""
    mapping = FieldMapping(connection_id=connection.id, field_id=row.id, property=property, value_map={})
    session.add(mapping)
    session.flush()
    return mapping


def add_gate(session: Session, connection: Connection, pipeline: Pipeline, stage_id: str, mode: str,
             required: Sequence[str] = (), persona_requirement: dict[str, Any] | None = None) -> Gate:
    """A gate on entering one stage, requiring fields by key; bumps the connection's configuration version,
    as the admin use cases do, so cached gatekeepers are rebuilt."""
    stage = next(s for s in pipeline.stages if s.external_id == stage_id)
    gate = Gate(connection_id=connection.id, stage_id=stage.id, mode=mode,
                requirements=[{"field": key} for key in required], persona_requirement=persona_requirement)
    session.add(gate)
    connection.config_version += 1
    session.flush()
    return gate


def add_persona(session: Session, name: str, criteria: list[dict[str, Any]]) -> Persona:
    """An active persona (default thresholds A 80, B 60, C 40) with weighted criteria."""
    persona = Persona(name=name, criteria=criteria, thresholds={}, must_cap="C", ring="target", active=True,
                      version=1)
    session.add(persona)
    session.flush()
    return persona


def add_event(session: Session, connection: Connection, event: WebhookEvent, now: datetime) -> InboundEvent:
    """A webhook event as intake stores it, already claimed by a worker (processing, first attempt)."""
    row = InboundEvent(
        connection_id=connection.id, delivery_key=event.delivery_key, object_id=event.object_id, kind=event.kind,
        occurred_at=event.occurred_at, payload=dict(event.raw), new_stage=event.new_stage, source=event.source,
        actor=event.source_id, old_stage=event.old_stage, new_pipeline=event.new_pipeline,
        old_pipeline=event.old_pipeline, change_source=event.change_source, received_at=now,
        status=EventStatus.PROCESSING, attempts=1, started_at=now)
    session.add(row)
    session.flush()
    return row
