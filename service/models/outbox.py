"""Outbox actions (CRM side effects) and expected reverts (echo suppression)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base, UTCDateTime, utcnow
from service.log_context import current_request_id
from service.models.statuses import ActionStatus


class OutboxAction(Base):
    """A CRM write decided in the same transaction as its transition, delivered at least once."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_next", "status", "next_attempt_at"),
                      Index("ix_outbox_transition_id", "transition_id"))  # a purged transition's actions lose it

    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    record_id: Mapped[int | None] = mapped_column(ForeignKey("records.id", ondelete="SET NULL"))
    transition_id: Mapped[int | None] = mapped_column(ForeignKey("transitions.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=ActionStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    vendor_message: Mapped[str | None] = mapped_column(Text)
    crm_object_id: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The request id of the work that decided it (the webhook request of its event), for the logs.
    request_id: Mapped[str | None] = mapped_column(String(64), default=current_request_id)


class ExpectedRevert(Base):
    """A revert Qualify made, so the webhook it echoes back is not gated again."""

    __tablename__ = "expected_reverts"
    __table_args__ = (Index("ix_expected_reverts_lookup", "connection_id", "external_id", "stage_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(64))
    stage_id: Mapped[str] = mapped_column(String(64))
    pipeline_id: Mapped[str | None] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    consumed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
