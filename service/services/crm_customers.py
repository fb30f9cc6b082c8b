"""The buyers of a connection's deals (their CRM companies and contacts) stored as customers.

A deal's customer is its company when it has one, else its contact (B2B, else B2C). Each customer is read
from the CRM with the properties its kind's mappings name (`company.<property>`, `contact.<property>`) and
stored with its name and its portrait values, normalized like a deal's.

Sync refreshes the buyers of every deal it read (`refresh_customers`); the worker, refreshing one deal from a
webhook, reads that deal's buyer (`read_buyer`) and stores it with the deal's purchase (`store_buyer`), so a deal
won through a webhook is a purchase without waiting for the next sync.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.base import CRMAdapter, CustomerSnapshot, DealSnapshot
from adapters.errors import CRMError
from adapters.registry import kind_of
from service.models import Connection, Customer
from service.runtime import Runtime
from service.services.deals import MappedField, customer_fields, portrait_values
from service.services.purchases import crm_source, refresh_purchases
from service.services.stored_config import placeholders_of

log = logging.getLogger("qualify.customers")

Buyer = tuple[str, str]  # (kind, CRM id)


def buyer_of(deal: DealSnapshot) -> Buyer | None:
    """The deal's customer: ("company", id) when it has a company, else ("contact", id), else None."""
    if deal.company_id:
        return "company", deal.company_id
    if deal.contact_id:
        return "contact", deal.contact_id
    return None


def buyers_of(deals: Iterable[DealSnapshot]) -> set[Buyer]:
    """The customers of these deals."""
    return {buyer for buyer in map(buyer_of, deals) if buyer is not None}


def refresh_customers(runtime: Runtime, connection_id: int, adapter: CRMAdapter, buyers: Iterable[Buyer]) -> int:
    """Read these customers from the CRM (one batched read per kind) and create or update them with their name
    and mapped portrait values; returns how many were written. adapters.errors types from the CRM read."""
    wanted: dict[str, list[str]] = {"company": [], "contact": []}
    for kind, external_id in sorted(set(buyers)):
        wanted[kind].append(external_id)
    if not any(wanted.values()):
        return 0
    with runtime.read_uow() as uow:
        mapping = customer_fields(uow.session, connection_id)
    read = [customer for kind, ids in wanted.items() if ids
            for customer in adapter.get_customers(kind, ids, [m.property for m in mapping[kind]])]
    with runtime.uow() as uow:
        connection = uow.session.get_one(Connection, connection_id)
        written = upsert_customers(uow.session, connection, read, mapping)
        uow.commit()
    return written


def read_buyer(runtime: Runtime, connection_id: int, adapter: CRMAdapter, deal: DealSnapshot,
               mapping: dict[str, list[MappedField]]) -> tuple[CustomerSnapshot, ...]:  # fmt: skip
    """The deal's buyer read from the CRM with its mapped properties, when the deal is closed (a purchase may
    follow) or its buyer is not stored yet; () otherwise, or when the CRM cannot serve it (logged: the deal is
    applied all the same and the next sync reads the buyer)."""
    buyer = buyer_of(deal)
    if buyer is None:
        return ()
    kind, external_id = buyer
    if deal.closed_at is None:
        with runtime.read_uow() as uow:
            known = uow.session.scalar(select(Customer.id).where(
                Customer.source == crm_source(connection_id), Customer.kind == kind,
                Customer.external_id == external_id))
        if known is not None:
            return ()
    try:
        return adapter.get_customers(kind, [external_id], [m.property for m in mapping[kind]])
    except CRMError as exc:
        log.warning("connection %s: %s %s of deal %s not read: %s", connection_id, kind, external_id, deal.id, exc)
        return ()


def store_buyer(session: Session, connection: Connection, deal_id: str, customers: Iterable[CustomerSnapshot],
                mapping: dict[str, list[MappedField]]) -> dict[str, int]:
    """Store the deal's buyer read by `read_buyer` and bring that deal's purchase in line with its stored record,
    in the session's transaction (the caller has applied the deal); returns the purchase counts."""
    upsert_customers(session, connection, customers, mapping)
    session.flush()
    return refresh_purchases(session, connection.id, [deal_id])


def upsert_customers(session: Session, connection: Connection, customers: Iterable[CustomerSnapshot],
                     mapping: dict[str, list[MappedField]]) -> int:
    """Create or update the connection's customers from these snapshots in the session's transaction; returns
    how many were written."""
    source = crm_source(connection.id)
    latest = {(c.kind, c.id): c for c in customers}
    if not latest:
        return 0
    stored = {(c.kind, c.external_id): c for c in session.scalars(select(Customer).where(
        Customer.source == source, Customer.external_id.in_({external_id for _, external_id in latest})))}
    placeholders, separator = placeholders_of(connection), kind_of(connection.kind).multi_separator
    for key, snapshot in latest.items():
        customer = stored.get(key)
        if customer is None:
            customer = Customer(source=source, connection_id=connection.id, kind=snapshot.kind,
                                external_id=snapshot.id)
            session.add(customer)
        customer.name = (snapshot.name or "")[:300] or None
        customer.values = portrait_values(snapshot, mapping[snapshot.kind], placeholders, separator)
    session.flush()
    return len(latest)
