"""CRM connections with their mirrored pipelines, stages and property-to-field mappings."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.db import Base, UTCDateTime, utcnow


class Connection(Base):
    """One CRM account. Credentials and the webhook secret are Fernet-encrypted."""

    __tablename__ = "connections"
    # Ids are never reused (SQLite would give a purged connection's id to the next one), so an old webhook URL
    # never points at another CRM account; PostgreSQL sequences never reuse them anyway.
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(16))
    base_url: Mapped[str] = mapped_column(String(300))
    account_id: Mapped[str | None] = mapped_column(String(64))
    app_id: Mapped[str | None] = mapped_column(String(64))
    credentials_encrypted: Mapped[str] = mapped_column(Text)
    webhook_secret_encrypted: Mapped[str | None] = mapped_column(Text)
    signature_versions: Mapped[list[str]] = mapped_column(JSON, default=lambda: ["v3"])
    language: Mapped[str] = mapped_column(String(8), default="en")
    placeholders: Mapped[list[str] | None] = mapped_column(JSON)
    rate_limits: Mapped[dict[str, dict[str, float]] | None] = mapped_column(JSON)
    active: Mapped[bool] = mapped_column(default=True)
    self_hosted: Mapped[bool] = mapped_column(default=False, server_default="0")
    config_version: Mapped[int] = mapped_column(Integer, default=1)
    pipelines_synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sync_cursor: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sync_interval_seconds: Mapped[int] = mapped_column(Integer, default=300, server_default="300")
    last_synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # CRM properties that receive the best-fit score, grade and persona name: {"score": prop, ...}.
    score_write_back: Mapped[dict[str, str] | None] = mapped_column(JSON)
    margin_field: Mapped[str | None] = mapped_column(String(64))  # the field holding a won deal's margin
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    pipelines: Mapped[list[Pipeline]] = relationship(
        back_populates="connection", cascade="all, delete-orphan", order_by="Pipeline.order"
    )


class Pipeline(Base):
    """A CRM pipeline mirrored from the CRM."""

    __tablename__ = "pipelines"
    __table_args__ = (UniqueConstraint("connection_id", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(200))
    order: Mapped[int] = mapped_column(Integer, default=0)
    archived: Mapped[bool] = mapped_column(default=False)

    connection: Mapped[Connection] = relationship(back_populates="pipelines")
    stages: Mapped[list[Stage]] = relationship(
        back_populates="pipeline", cascade="all, delete-orphan", order_by="Stage.order"
    )


class Stage(Base):
    """A pipeline stage with its order and kind (open, won, lost)."""

    __tablename__ = "stages"
    __table_args__ = (UniqueConstraint("pipeline_id", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    pipeline_id: Mapped[int] = mapped_column(ForeignKey("pipelines.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(200))
    order: Mapped[int] = mapped_column(Integer, default=0)
    kind: Mapped[str] = mapped_column(String(8), default="open")
    probability: Mapped[float | None] = mapped_column()
    archived: Mapped[bool] = mapped_column(default=False)

    pipeline: Mapped[Pipeline] = relationship(back_populates="stages")


class FieldMapping(Base):
    """Maps one CRM deal property to one portrait field, with an optional option-value map; a property may feed
    several fields, a field is fed by one property."""

    __tablename__ = "field_mappings"
    __table_args__ = (UniqueConstraint("connection_id", "field_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    field_id: Mapped[int] = mapped_column(ForeignKey("fields.id", ondelete="CASCADE"))
    property: Mapped[str] = mapped_column(String(200))
    value_map: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
