"""Synced CRM records and the transitions (stage-move audit) Qualify decided on."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
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
    amount: Mapped[str | None] = mapped_column(String(40))
    currency: Mapped[str | None] = mapped_column(String(8))
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
    __table_args__ = (Index("ix_transitions_record_occurred", "record_id", "occurred_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    record_id: Mapped[int] = mapped_column(ForeignKey("records.id", ondelete="CASCADE"))
    event_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_events.id", ondelete="SET NULL"))
    from_pipeline: Mapped[str | None] = mapped_column(String(64))
    from_stage: Mapped[str | None] = mapped_column(String(64))
    to_pipeline: Mapped[str | None] = mapped_column(String(64))
    to_stage: Mapped[str] = mapped_column(String(64))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str | None] = mapped_column(String(120))
    source: Mapped[str] = mapped_column(String(16))
    change_source: Mapped[str | None] = mapped_column(String(40))
    direction: Mapped[str] = mapped_column(String(16))
    decision: Mapped[str] = mapped_column(String(16))
    mode: Mapped[str | None] = mapped_column(String(8))
    issues: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    message: Mapped[str] = mapped_column(Text, default="")
    action: Mapped[str] = mapped_column(String(32), default="none")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
