"""Small helpers shared by the use cases: pagination and lookups that raise NotFoundError."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from service.errors import NotFoundError

T = TypeVar("T")


def get_or_404(session: Session, model: type[T], ident: int, what: str) -> T:
    """The row with primary key `ident`, or NotFoundError naming `what`."""
    row = session.get(model, ident)
    if row is None:
        raise NotFoundError(f"{what} {ident} does not exist.")
    return row


def paginate(session: Session, query: Select[Any], page: int, page_size: int) -> dict[str, Any]:
    """One page of `query` (which must have a stable order) with the total count."""
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    items = session.scalars(query.limit(page_size).offset((page - 1) * page_size)).unique().all()
    return {"items": list(items), "total": total, "page": page, "page_size": page_size}
