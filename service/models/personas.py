"""Personas (target customer portraits), their versions, lead scores and rescoring runs."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base, UTCDateTime, utcnow
from service.models.statuses import RunStatus


class Persona(Base):
    """A target portrait with weighted criteria; every change bumps `version`."""

    __tablename__ = "personas"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    segment: Mapped[str | None] = mapped_column(String(200))
    ring: Mapped[str] = mapped_column(String(16), default="target")
    description: Mapped[str | None] = mapped_column(Text)
    owner: Mapped[str | None] = mapped_column(String(200))
    owner_connection_id: Mapped[int | None] = mapped_column(ForeignKey("connections.id", ondelete="SET NULL"))
    owner_crm_user_id: Mapped[str | None] = mapped_column(String(64))
    review_interval_days: Mapped[int] = mapped_column(Integer, default=182)
    last_reviewed_on: Mapped[date | None] = mapped_column(Date)
    review_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    thresholds: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    must_cap: Mapped[str] = mapped_column(String(1), default="C")
    criteria: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(default=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class PersonaVersion(Base):
    """The full definition of a persona as of one version (scores name the version they used)."""

    __tablename__ = "persona_versions"
    __table_args__ = (UniqueConstraint("persona_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    persona_id: Mapped[int] = mapped_column(ForeignKey("personas.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    change: Mapped[str] = mapped_column(String(16), default="update")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RecordScore(Base):
    """A record's fit against every active persona (one row per record: a full rescore writes one row,
    not one per persona), with the best match and the trend since the previous computation."""

    __tablename__ = "record_scores"
    __table_args__ = (Index("ix_record_scores_best", "best_persona_id", "best_grade"),)

    record_id: Mapped[int] = mapped_column(ForeignKey("records.id", ondelete="CASCADE"), primary_key=True)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    best_persona_id: Mapped[int | None] = mapped_column(Integer)
    best_score: Mapped[int | None] = mapped_column(Integer)
    best_grade: Mapped[str | None] = mapped_column(String(1))
    previous_best_score: Mapped[int | None] = mapped_column(Integer)
    trend: Mapped[str] = mapped_column(String(16), default="not_enough_info")
    # [{"persona_id", "version", "score", "grade", "completeness", "disqualified", "previous"}]
    scores: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # The score/grade/persona values last queued for write-back to the CRM, by CRM property.
    written: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class RescoreRun(Base):
    """A background rescore of all open records for one persona (or all personas), in batches."""

    __tablename__ = "rescore_runs"
    __table_args__ = (Index("ix_rescore_runs_status", "status", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    persona_id: Mapped[int | None] = mapped_column(ForeignKey("personas.id", ondelete="CASCADE"))
    trigger: Mapped[str] = mapped_column(String(16), default="api")
    status: Mapped[str] = mapped_column(String(16), default=RunStatus.QUEUED)
    total: Mapped[int] = mapped_column(Integer, default=0)
    done: Mapped[int] = mapped_column(Integer, default=0)
    last_record_id: Mapped[int] = mapped_column(Integer, default=0)
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
