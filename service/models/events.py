"""Inbound webhook deliveries (raw bodies) and the deduplicated events they carried."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base, UTCDateTime, utcnow
from service.log_context import current_request_id
from service.models.statuses import EventStatus


class WebhookDelivery(Base):
    """The raw body and selected headers of a delivery that brought at least one new event."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_received_at", "received_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    headers: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    event_count: Mapped[int] = mapped_column(Integer, default=0)


class WebhookRejection(Base):
    """Refused webhook deliveries of one connection in one UTC hour for one reason (bad_signature, bad_token,
    wrong_account, malformed, ...): a count and the last time, never a body."""

    __tablename__ = "webhook_rejections"

    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"), primary_key=True)
    hour: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    reason: Mapped[str] = mapped_column(String(40), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_at: Mapped[datetime] = mapped_column(UTCDateTime)


class InboundEvent(Base):
    """One CRM event, unique per (connection, delivery key), processed by the worker."""

    __tablename__ = "inbound_events"
    __table_args__ = (
        UniqueConstraint("connection_id", "delivery_key"),
        Index("ix_inbound_events_status_occurred", "status", "occurred_at"),
        Index("ix_inbound_events_processed_at", "processed_at"),  # retention
        Index("ix_inbound_events_delivery_id", "delivery_id"),  # a purged delivery's events lose their link
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    delivery_id: Mapped[int | None] = mapped_column(ForeignKey("webhook_deliveries.id", ondelete="SET NULL"))
    delivery_key: Mapped[str] = mapped_column(String(200))
    object_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    new_stage: Mapped[str | None] = mapped_column(String(64))
    old_stage: Mapped[str | None] = mapped_column(String(64))
    new_pipeline: Mapped[str | None] = mapped_column(String(64))
    old_pipeline: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(16), default="unknown")
    change_source: Mapped[str | None] = mapped_column(String(40))
    actor: Mapped[str | None] = mapped_column(String(120))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default=EventStatus.RECEIVED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    available_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The id of the webhook request that stored it (its log lines and the worker's carry it too).
    request_id: Mapped[str | None] = mapped_column(String(64), default=current_request_id)
