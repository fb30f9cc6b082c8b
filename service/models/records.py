"""Synced CRM records and the transitions (stage-move audit) Qualify decided on."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base, UTCDateTime, utcnow


class Record(Base):
    """A CRM deal as Qualify last saw it, with normalized portrait values."""

    __tablename__ = "records"
    __table_args__ = (UniqueConstraint("connection_id", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16), default="deal")
    name: Mapped[str | None] = mapped_column(String(300))
    pipeline_external_id: Mapped[str | None] = mapped_column(String(64))
    stage_external_id: Mapped[str | None] = mapped_column(String(64))
    owner_external_id: Mapped[str | None] = mapped_column(String(64))
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
    __table_args__ = (Index("ix_transitions_record_occurred", "record_id", "occurred_at"),
                      Index("ix_transitions_connection_occurred", "connection_id", "occurred_at"),
                      Index("ix_transitions_event_id", "event_id"))  # a purged event's transitions lose their link

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
