"""Rate-limiter state shared by every process on PostgreSQL (service/limit_stores.py)."""

from __future__ import annotations

from sqlalchemy import Float, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base


class RateLimitState(Base):
    """The state of one limiter bucket of one CRM connection (e.g. "connection:7:default"): JSON written by
    the adapters' limiter steps, locked for the moment of each call's check."""

    __tablename__ = "rate_limit_states"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    state: Mapped[str | None] = mapped_column(Text)
    # Seconds since the epoch on the database's clock after which the state means nothing (a drained bucket).
    expires_at: Mapped[float] = mapped_column(Float, default=0.0)
