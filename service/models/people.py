"""The people of a CRM account: the owners of deals and the users who move them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from service.db import Base, UTCDateTime, utcnow


class CrmUser(Base):
    """A CRM user as the account lists it: deals name it as their owner by `external_id`, changes name it as
    who made them by `user_id` (the same id in most CRMs; HubSpot's owners and users differ)."""

    __tablename__ = "crm_users"
    __table_args__ = (UniqueConstraint("connection_id", "external_id"),
                      Index("ix_crm_users_connection_user", "connection_id", "user_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connections.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str | None] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    active: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
