"""Synced CRM records, the transitions (stage-move audit) Qualify decided on, and the report's day counts of
transitions, kept exact by triggers (service/models/rollup_sql.py)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    event,
    text,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base, UTCDateTime, utcnow
from service.models import reach_sql, rollup_sql


class Record(Base):
    """A CRM deal as Qualify last saw it, with normalized portrait values."""

    __tablename__ = "records"
    __table_args__ = (
        UniqueConstraint("connection_id", "external_id"),
        # When a deal was created and closed, as the report reads them (and statistics of them for the planner).
        Index("ix_records_created", text("coalesce(crm_created_at, created_at)")),
        Index("ix_records_closed", text("coalesce(closed_at, stage_changed_at)")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16), default="deal")
    name: Mapped[str | None] = mapped_column(String(300))
    pipeline_external_id: Mapped[str | None] = mapped_column(String(64))
    stage_external_id: Mapped[str | None] = mapped_column(String(64))
    owner_external_id: Mapped[str | None] = mapped_column(String(64))
    # The deal's buyer in the CRM (its associated company, else contact): the customer of its purchase if won.
    company_external_id: Mapped[str | None] = mapped_column(String(64))
    contact_external_id: Mapped[str | None] = mapped_column(String(64))
    amount: Mapped[str | None] = mapped_column(String(40))  # as the CRM gave it
    amount_value: Mapped[Decimal | None] = mapped_column(Numeric(20, 4))  # the amount as a number, in `currency`
    currency: Mapped[str | None] = mapped_column(String(8))
    crm_created_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    values: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    crm_modified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stage_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deleted: Mapped[bool] = mapped_column(default=False)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Transition(Base):
    """One observed stage move and what Qualify decided and did about it."""

    __tablename__ = "transitions"
    __table_args__ = (
        # A deal's moves in time, with what the report reads of them (PostgreSQL: an index-only scan).
        Index("ix_transitions_record_occurred", "record_id", "occurred_at", postgresql_include=[
            "id", "connection_id", "to_pipeline", "to_stage", "direction", "stages_passed", "decision"]),
        Index("ix_transitions_connection_occurred", "connection_id", "occurred_at"),
        Index("ix_transitions_event_id", "event_id"),  # a purged event's transitions lose their link
        Index("ix_transitions_occurred", "occurred_at"),
        # Blocked moves (the report's time to pass, deals held, ever blocked).
        Index("ix_transitions_blocked", "occurred_at", postgresql_include=[
            "record_id", "id", "connection_id", "to_pipeline", "from_stage", "to_stage", "owner_id", "passed_at",
            "followed"],
            postgresql_where=text("decision = 'blocked'"), sqlite_where=text("decision = 'blocked'")),
        # Blocked moves no move of the deal followed: the deals held in front of a gate now, and where.
        Index("ix_transitions_held", "record_id", postgresql_include=[
            "from_stage", "to_stage", "to_pipeline", "connection_id", "occurred_at"],
              postgresql_where=text("decision = 'blocked' AND NOT followed"),
              sqlite_where=text("decision = 'blocked' AND followed = 0")),
        # Moves the day counts leave out (the report counts them one by one), with what it counts of them.
        Index("ix_transitions_uncounted", "occurred_at", postgresql_include=[
            "record_id", "connection_id", "to_pipeline", "to_stage", "owner_id", "direction", "decision", "source",
            "mover_kind", "too_old", "required_fields", "unfilled_fields", "stages_passed"],
              postgresql_where=text("owner_id IS NULL OR to_pipeline IS NULL OR mover_kind IS NULL"),
              sqlite_where=text("owner_id IS NULL OR to_pipeline IS NULL OR mover_kind IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    record_id: Mapped[int] = mapped_column(ForeignKey("records.id", ondelete="CASCADE"))
    event_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_events.id", ondelete="SET NULL"))
    from_pipeline: Mapped[str | None] = mapped_column(String(64))
    from_stage: Mapped[str | None] = mapped_column(String(64))
    to_pipeline: Mapped[str | None] = mapped_column(String(64))
    to_stage: Mapped[str] = mapped_column(String(64))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str | None] = mapped_column(String(120))  # who made the move, as the CRM names them
    mover_user_id: Mapped[str | None] = mapped_column(String(64))  # the CRM user behind `actor` (crm_users.user_id)
    mover_kind: Mapped[str | None] = mapped_column(String(16))  # through what: ui|api|automation|import|integration
    owner_id: Mapped[str | None] = mapped_column(String(64))  # the deal's owner then (crm_users.external_id)
    source: Mapped[str] = mapped_column(String(16))  # how Qualify saw it: webhook | sync
    change_source: Mapped[str | None] = mapped_column(String(40))
    direction: Mapped[str] = mapped_column(String(16))
    decision: Mapped[str] = mapped_column(String(16))
    mode: Mapped[str | None] = mapped_column(String(8))
    issues: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    message: Mapped[str] = mapped_column(Text, default="")
    action: Mapped[str] = mapped_column(String(32), default="none")
    too_old: Mapped[bool] = mapped_column(default=False, server_default="0")  # found by sync past the window
    # Distinct fields the gates on the move's route required (the issues say which of them were not filled).
    required_fields: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    unfilled_fields: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # of those: not filled
    # Open stages the move passed, its target included (a forward move to the next stage: 1; more: a skip).
    stages_passed: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Of a blocked move, kept by triggers (rollup_sql.py): when the deal entered the stage after all (its first
    # later move into it that was not blocked), and whether any later move of the deal exists.
    passed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    followed: Mapped[bool] = mapped_column(default=False, server_default="0")


class TransitionDay(Base):
    """Transitions of one UTC day into one stage, by the deal's owner then and the move's direction: how many,
    what Qualify decided, how they went around the gates, the fields required and unfilled, the skips that
    happened (not blocked). Only moves that recorded the deal's owner then and a pipeline (rollup_sql); kept by
    triggers on transitions."""

    __tablename__ = "transition_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"), primary_key=True)
    to_pipeline: Mapped[str] = mapped_column(String(64), primary_key=True)
    to_stage: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    direction: Mapped[str] = mapped_column(String(16), primary_key=True)
    moves: Mapped[int] = mapped_column(Integer, default=0)
    allowed: Mapped[int] = mapped_column(Integer, default=0)
    blocked: Mapped[int] = mapped_column(Integer, default=0)
    warned: Mapped[int] = mapped_column(Integer, default=0)
    audited: Mapped[int] = mapped_column(Integer, default=0)  # not too old
    found_by_sync: Mapped[int] = mapped_column(Integer, default=0)
    automated: Mapped[int] = mapped_column(Integer, default=0)
    too_old: Mapped[int] = mapped_column(Integer, default=0)
    required: Mapped[int] = mapped_column(Integer, default=0)
    unfilled: Mapped[int] = mapped_column(Integer, default=0)
    skips: Mapped[int] = mapped_column(Integer, default=0)  # not blocked, passing more than one stage


class TransitionFieldDay(Base):
    """Blocked and warned transitions of one UTC day into one pipeline, by the deal's owner then, that named a
    field as missing or invalid (with the label the issue gave it). Kept by triggers on transitions."""

    __tablename__ = "transition_field_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"), primary_key=True)
    to_pipeline: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    field: Mapped[str] = mapped_column(String(120), primary_key=True)
    label: Mapped[str] = mapped_column(String(300), primary_key=True)  # '' without one
    moves: Mapped[int] = mapped_column(Integer, default=0)


class DealReach(Base):
    """Of one deal in one pipeline ('' for moves that recorded none): the stages its moves reached (not blocked),
    those it reached strictly, and how many of its moves were blocked. Kept by triggers on transitions
    (reach_sql)."""

    __tablename__ = "deal_reaches"
    __table_args__ = (Index("ix_deal_reaches_blocked", "record_id", postgresql_where=text("blocked > 0"),
                            sqlite_where=text("blocked > 0")),)

    record_id: Mapped[int] = mapped_column(Integer, primary_key=True)  # no foreign key: see reach_sql
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"), primary_key=True)
    pipeline: Mapped[str] = mapped_column(String(64), primary_key=True)
    stages: Mapped[str | None] = mapped_column(Text)  # stage ids joined by reach_sql.SEPARATOR
    strict_stages: Mapped[str | None] = mapped_column(Text)
    blocked: Mapped[int] = mapped_column(Integer, default=0)


def _create_rollup_triggers(metadata: MetaData, connection: Connection, **kw: Any) -> None:
    """`create_all` also makes the triggers migrations 0008 and 0009 make, when it creates their tables."""
    names = {table.name for table in kw.get("tables", ())}
    if TransitionDay.__tablename__ in names:
        for statement in rollup_sql.create_triggers(connection.dialect.name):
            connection.exec_driver_sql(statement)
    if DealReach.__tablename__ in names:
        for statement in reach_sql.create_triggers(connection.dialect.name):
            connection.exec_driver_sql(statement)


event.listen(Base.metadata, "after_create", _create_rollup_triggers)
