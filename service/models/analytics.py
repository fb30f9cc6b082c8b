"""The data-driven portrait (issue 15): customers and their purchases (won deals of the CRM, or imported
receipts), each customer's current segments with their history, the stored analysis runs, and the win models."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Date, Float, ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base, UTCDateTime, utcnow


class Customer(Base):
    """A buyer: a CRM company (B2B) or contact (B2C) of a connection, or a customer of an imported purchase log.
    `source` is `crm:<connection id>` or `import:<dataset>`; `values` are its portrait values, mapped like a
    deal's."""

    __tablename__ = "customers"
    __table_args__ = (UniqueConstraint("source", "kind", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(80))
    connection_id: Mapped[int | None] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # company | contact | customer (imported)
    external_id: Mapped[str] = mapped_column(String(120))
    name: Mapped[str | None] = mapped_column(String(300))
    values: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Purchase(Base):
    """One purchase of a customer: a won deal (`record_id`) or one imported row; unique per (source, external
    id) so a sync or an import run twice adds nothing."""

    __tablename__ = "purchases"
    __table_args__ = (
        UniqueConstraint("source", "external_id"),
        Index("ix_purchases_customer", "customer_id"),
        Index("ix_purchases_on", "purchased_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(80))
    external_id: Mapped[str] = mapped_column(String(120))
    record_id: Mapped[int | None] = mapped_column(ForeignKey("records.id", ondelete="SET NULL"))
    amount: Mapped[Decimal] = mapped_column(Numeric(20, 4))
    currency: Mapped[str] = mapped_column(String(8))
    margin: Mapped[Decimal | None] = mapped_column(Numeric(20, 4))
    purchased_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CustomerSegment(Base):
    """A customer's current RFM segment and ABC/XYZ classes, the previous segment and when it changed (kept with
    hysteresis so a customer does not flip daily)."""

    __tablename__ = "customer_segments"

    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True)
    segment: Mapped[str | None] = mapped_column(String(32))
    scores: Mapped[str | None] = mapped_column(String(8))  # R, F and M scores, e.g. "545"
    abc: Mapped[str | None] = mapped_column(String(1))
    xyz: Mapped[str | None] = mapped_column(String(1))
    previous_segment: Mapped[str | None] = mapped_column(String(32))
    changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class AnalyticsRun(Base):
    """One computation of the portrait analyses (RFM, ABC-XYZ, ...), queued by the scheduler, the CLI or the API,
    with its progress while it runs and its result (the domain's report as JSON) with the date it was for."""

    __tablename__ = "analytics_runs"
    __table_args__ = (Index("ix_analytics_runs_kind_finished", "kind", "finished_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), default="portrait")
    status: Mapped[str] = mapped_column(String(16), default="queued")  # queued | running | done | failed
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    as_of: Mapped[date | None] = mapped_column(Date)
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WinModel(Base):
    """A pipeline's win-probability model (naive Bayes frequency tables over the portrait fields and the stage),
    with its calibration on a time-based hold-out. `status`: current | replaced | rejected (its hold-out AUC fell
    below 0.95 x the current one's) | disabled (under the data floor; `reason` says why)."""

    __tablename__ = "win_models"
    __table_args__ = (Index("ix_win_models_pipeline", "connection_id", "pipeline_external_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    pipeline_external_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    won: Mapped[int] = mapped_column(Integer, default=0)
    lost: Mapped[int] = mapped_column(Integer, default=0)
    tables: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    calibration: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    auc: Mapped[float | None] = mapped_column(Float)
    brier: Mapped[float | None] = mapped_column(Float)
    reason: Mapped[str | None] = mapped_column(Text)
    built_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
