"""Sync runs: one incremental or full pass over a connection's records."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base, UTCDateTime, utcnow
from service.models.statuses import RunStatus


class SyncRun(Base):
    """Counts, duration and outcome of one sync of one connection."""

    __tablename__ = "sync_runs"
    __table_args__ = (Index("ix_sync_runs_connection_started", "connection_id", "started_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    full: Mapped[bool] = mapped_column(default=False)
    trigger: Mapped[str] = mapped_column(String(16), default="schedule")
    status: Mapped[str] = mapped_column(String(16), default=RunStatus.QUEUED)
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cursor_from: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cursor_to: Mapped[datetime | None] = mapped_column(UTCDateTime)
    pages: Mapped[int] = mapped_column(Integer, default=0)
    fetched: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    moves: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
