"""Gates: the required portrait fields for entering one pipeline stage."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.db import Base, UTCDateTime, utcnow
from service.models.connections import Stage


class Gate(Base):
    """Required fields (each optionally conditional) for a stage, with a mode."""

    __tablename__ = "gates"

    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    stage_id: Mapped[int] = mapped_column(ForeignKey("stages.id", ondelete="CASCADE"), unique=True)
    mode: Mapped[str] = mapped_column(String(8), default="enforce")
    requirements: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    description: Mapped[str | None] = mapped_column(Text)
    # Optional fit requirement: {"min_best_score": 60} | {"persona_id": 3, "min_score": 70} | {"not_disqualified": true}
    persona_requirement: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    stage: Mapped[Stage] = relationship(lazy="joined")
