"""Purchases from the CRM: every won deal with an amount and a buyer is a purchase of that buyer.

`refresh_purchases` brings a connection's purchases (or those of some of its deals: the worker's refresh of one
deal) in line with its records in three set-based statements (no row is read into Python): purchases of deals no
longer won (or without an amount or buyer) are deleted, changed ones updated, new ones inserted. A purchase's
customer is the deal's company, else its contact, as stored by `crm_customers`; a deal whose buyer is not stored
yet waits for the next run.

When the connection names a `margin_field`, each purchase's margin is that portrait field's value on the deal
(`refresh_margins`); otherwise CRM purchases carry none.
"""

from __future__ import annotations

from collections.abc import Collection
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    Select,
    String,
    and_,
    bindparam,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.orm import Session

from service.db import utcnow
from service.domain.fieldtypes import NUMERIC_TYPES
from service.errors import InvalidInputError
from service.models import Connection, Customer, Field, Pipeline, Purchase, Record, Stage
from service.services.deals import amount_value
from service.services.guardrails import suggestion

MARGIN_PLACES = Decimal("0.0001")  # purchases.margin is Numeric(20, 4)



def crm_source(connection_id: int) -> str:
    """The `source` of a connection's customers and purchases."""
    return f"crm:{connection_id}"


def _won_deals(connection_id: int, dialect: str, deal_ids: Collection[str] | None) -> Select[Any]:
    """(record id, external id, customer id, amount, currency, purchased on) of the connection's won deals (those
    of `deal_ids` only, unless None) with an amount and a stored buyer."""
    closed = func.coalesce(Record.closed_at, Record.stage_changed_at)
    # SQLite has no DATE type: date() gives the "YYYY-MM-DD" text SQLAlchemy's Date stores there.
    day = func.date(closed) if dialect == "sqlite" else sql_cast(closed, Date)
    buyer = or_(
        and_(Record.company_external_id.is_not(None), Customer.kind == "company",
             Customer.external_id == Record.company_external_id),
        and_(Record.company_external_id.is_(None), Customer.kind == "contact",
             Customer.external_id == Record.contact_external_id),
    )
    query = (
        select(Record.id.label("record_id"), Record.external_id.label("external_id"),
               Customer.id.label("customer_id"), Record.amount_value.label("amount"),
               func.coalesce(Record.currency, "").label("currency"), day.label("purchased_on"))
        .join(Pipeline, and_(Pipeline.connection_id == Record.connection_id,
                             Pipeline.external_id == Record.pipeline_external_id))
        .join(Stage, and_(Stage.pipeline_id == Pipeline.id, Stage.external_id == Record.stage_external_id))
        .join(Customer, and_(Customer.source == crm_source(connection_id), buyer))
        .where(Record.connection_id == connection_id, Record.deleted.is_(False), Stage.kind == "won",
               Record.amount_value.is_not(None), closed.is_not(None))
    )  # fmt: skip
    return query if deal_ids is None else query.where(Record.external_id.in_(deal_ids))


def refresh_purchases(session: Session, connection_id: int, deal_ids: Collection[str] | None = None
                      ) -> dict[str, int]:  # fmt: skip
    """Insert, update and delete the connection's CRM purchases (source `crm:<id>`, one per won deal, by deal
    id), or only those of the deals `deal_ids`, in the session's transaction; returns the counts {"created",
    "updated", "deleted"}."""
    source = crm_source(connection_id)
    won = _won_deals(connection_id, session.get_bind().dialect.name, deal_ids).subquery("won")
    mine: ColumnElement[bool] = Purchase.source == source
    if deal_ids is not None:
        mine = and_(mine, Purchase.external_id.in_(deal_ids))

    def rows(statement: Any) -> int:
        # Counted from RETURNING: an INSERT ... SELECT's rowcount is not reliable on every driver.
        return len(session.execute(statement.returning(Purchase.id)).all())

    deleted = rows(delete(Purchase).where(
        mine, Purchase.external_id.not_in(select(won.c.external_id))))
    updated = rows(
        update(Purchase).where(
            mine, Purchase.external_id == won.c.external_id,
            or_(Purchase.amount != won.c.amount, Purchase.currency != won.c.currency,
                Purchase.purchased_on != won.c.purchased_on, Purchase.customer_id != won.c.customer_id,
                Purchase.record_id.is_(None), Purchase.record_id != won.c.record_id),
        ).values(amount=won.c.amount, currency=won.c.currency, purchased_on=won.c.purchased_on,
                 customer_id=won.c.customer_id, record_id=won.c.record_id)
    )
    stored = exists().where(mine, Purchase.external_id == won.c.external_id)
    new = select(won.c.customer_id, literal(source, String), won.c.external_id, won.c.record_id, won.c.amount,
                 won.c.currency, won.c.purchased_on, bindparam("now", utcnow(), type_=Purchase.created_at.type)
                 ).where(~stored)  # fmt: skip
    created = rows(insert(Purchase).from_select(
        ["customer_id", "source", "external_id", "record_id", "amount", "currency", "purchased_on", "created_at"],
        new))
    refresh_margins(session, connection_id, deal_ids)
    return {"created": created, "updated": updated, "deleted": deleted}


def refresh_margins(session: Session, connection_id: int, deal_ids: Collection[str] | None = None) -> int:
    """Set the margin of the connection's CRM purchases (those of `deal_ids` only, unless None) to their deal's
    value of the connection's margin field (None when it has none, the value is not a number, or no field is
    named), in the session's transaction; returns how many purchases changed."""
    key = session.scalar(select(Connection.margin_field).where(Connection.id == connection_id))
    mine: ColumnElement[bool] = Purchase.source == crm_source(connection_id)
    if deal_ids is not None:
        mine = and_(mine, Purchase.external_id.in_(deal_ids))
    if key is None:  # only margins left from a field named before need clearing
        query = select(Purchase.id, Purchase.margin, literal(None, String)).where(mine, Purchase.margin.is_not(None))
    else:
        query = select(Purchase.id, Purchase.margin, Record.values[key].as_string()).join(
            Record, Record.id == Purchase.record_id).where(mine)
    changed = [{"id": id_, "margin": margin} for id_, old, text in session.execute(query)
               if (margin := _margin(text)) != old]
    if changed:
        session.execute(update(Purchase), changed)  # ORM bulk UPDATE by primary key
    return len(changed)


def _margin(value: Any) -> Decimal | None:
    """A margin field's stored value as purchases.margin holds it (4 decimal places), None when not a number."""
    found = amount_value(None if value is None else str(value))
    return None if found is None else found.quantize(MARGIN_PLACES)


def check_margin_field(session: Session, key: str | None) -> None:
    """InvalidInputError unless `key` is None or a numeric (number, integer, money) field's key (naming the
    closest ones)."""
    if key is None:
        return
    fields = {key: type_ for key, type_ in session.execute(select(Field.key, Field.type))}
    if key not in fields:
        problem = f"no field {key!r}.{suggestion(key, fields)}"
    elif fields[key] not in NUMERIC_TYPES:
        problem = f"{key!r} is a {fields[key]} field; a margin needs a number, integer or money field."
    else:
        return
    raise InvalidInputError(f"margin_field: {problem}", {"margin_field": [problem]})
