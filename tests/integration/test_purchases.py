"""Won deals with an amount and a buyer become purchases, once; changes follow them, by sync and by the worker's
refresh of one deal from a webhook (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select, update

from adapters.base import CustomerSnapshot, DealSnapshot, WebhookEvent
from adapters.sandbox import bitrix24_customers
from adapters.sandbox.bitrix24 import Bitrix24Sandbox
from service.models import Connection, Customer, EventStatus, InboundEvent, Pipeline, Purchase, Record, Stage
from service.runtime import Runtime
from service.services.crm_customers import upsert_customers
from service.services.events import process_event
from service.services.purchases import crm_source, refresh_purchases
from service.services.record_bulk import upsert_unmoved
from tests.fakes import add_event
from tests.integration.syncing import connect, run_sync
from tests.integration.test_record_bulk import add_connection

T0 = datetime(2025, 3, 10, 15, 30, tzinfo=UTC)
NO_MAPPING: dict[str, list] = {"company": [], "contact": []}  # type: ignore[type-arg]


def setup(runtime: Runtime) -> int:
    """A connection with one pipeline (open, won, lost) and a company and a contact stored as customers."""
    connection_id = add_connection(runtime, "purchases")
    with runtime.uow() as uow:
        pipeline = Pipeline(connection_id=connection_id, external_id="default", label="Sales")
        pipeline.stages = [Stage(external_id="open", label="Open", order=0, kind="open"),
                           Stage(external_id="won", label="Won", order=1, kind="won"),
                           Stage(external_id="lost", label="Lost", order=2, kind="lost")]
        uow.session.add(pipeline)
        connection = uow.session.get_one(Connection, connection_id)
        upsert_customers(uow.session, connection, [CustomerSnapshot("company", "C1", "Acme", {}),
                                                   CustomerSnapshot("contact", "P1", "Dana", {})], NO_MAPPING)
        uow.commit()
    return connection_id


def deal(deal_id: str, stage: str, amount: str | None, company: str | None, contact: str | None,
         closed: datetime | None = T0) -> DealSnapshot:
    return DealSnapshot.trusted(deal_id, "default", stage, "101", amount, f"Deal {deal_id}", T0, {}, (), "EUR", T0,
                                closed, None, company, contact)


def write(runtime: Runtime, connection_id: int, deals: list[DealSnapshot]) -> dict[str, int]:
    """Store the deals (the stage too, as observe would for a moved one), then refresh the purchases."""
    with runtime.uow() as uow:
        connection = uow.session.get_one(Connection, connection_id)
        upsert_unmoved(uow.session, connection, deals, [], T0)
        for d in deals:
            uow.session.execute(update(Record).where(Record.connection_id == connection_id,
                                                     Record.external_id == d.id).values(stage_external_id=d.stage_id))
        counts = refresh_purchases(uow.session, connection_id)
        uow.commit()
    return counts


def purchases(runtime: Runtime, connection_id: int) -> dict[str, tuple[str, str, Decimal, str, date]]:
    """deal id -> (customer kind, customer id, amount, currency, purchased on)."""
    with runtime.read_uow() as uow:
        rows = uow.session.execute(select(Purchase, Customer).join(Customer, Customer.id == Purchase.customer_id)
                                   .where(Purchase.source == crm_source(connection_id))).all()
        return {p.external_id: (c.kind, c.external_id, Decimal(p.amount), p.currency, p.purchased_on)
                for p, c in rows}


def test_won_deals_with_amount_and_buyer_become_purchases_once(runtime: Runtime) -> None:
    connection_id = setup(runtime)
    deals = [deal("1", "won", "1200.50", "C1", "P1"), deal("2", "won", "300", None, "P1"),
             deal("3", "open", "999", "C1", None), deal("4", "lost", "50", "C1", None),
             deal("5", "won", None, "C1", None), deal("6", "won", "70", None, None),
             deal("7", "won", "80", "C404", None)]  # a buyer not stored: no purchase yet
    counts = write(runtime, connection_id, deals)
    expected = {"1": ("company", "C1", Decimal("1200.50"), "EUR", T0.date()),
                "2": ("contact", "P1", Decimal("300"), "EUR", T0.date())}
    assert purchases(runtime, connection_id) == expected
    assert counts == {"created": len(expected), "updated": 0, "deleted": 0}
    assert write(runtime, connection_id, deals) == {"created": 0, "updated": 0, "deleted": 0}
    assert purchases(runtime, connection_id) == expected


def test_a_reopened_deal_loses_its_purchase_and_a_changed_one_is_updated(runtime: Runtime) -> None:
    connection_id = setup(runtime)
    write(runtime, connection_id, [deal("1", "won", "100", "C1", None), deal("2", "won", "200", None, "P1")])
    later = T0 + timedelta(days=40)
    counts = write(runtime, connection_id, [deal("1", "open", "100", "C1", None, None),
                                            deal("2", "won", "250", "C1", "P1", later)])
    assert counts == {"created": 0, "updated": 1, "deleted": 1}
    assert purchases(runtime, connection_id) == {"2": ("company", "C1", Decimal("250"), "EUR", later.date())}


def test_purchases_of_other_connections_are_left_alone(runtime: Runtime) -> None:
    first, second = setup(runtime), setup(runtime)
    write(runtime, first, [deal("1", "won", "100", "C1", None)])
    write(runtime, second, [deal("1", "open", "100", "C1", None)])
    assert set(purchases(runtime, first)) == {"1"}
    assert purchases(runtime, second) == {}


def test_a_refresh_of_some_deals_touches_only_their_purchases(runtime: Runtime) -> None:
    connection_id = setup(runtime)
    write(runtime, connection_id, [deal("1", "won", "100", "C1", None), deal("2", "won", "200", None, "P1")])
    with runtime.uow() as uow:
        uow.session.execute(update(Record).where(Record.connection_id == connection_id)
                            .values(stage_external_id="open"))  # both reopened, as a sync would store them
        assert refresh_purchases(uow.session, connection_id, ["2"]) == {"created": 0, "updated": 0, "deleted": 1}
        uow.commit()
    assert set(purchases(runtime, connection_id)) == {"1"}


def deal_event(runtime: Runtime, connection_id: int, deal_id: str, key: str) -> int:
    """A deal update delivered by webhook, stored and claimed as intake and the worker would."""
    with runtime.uow() as uow:
        connection = uow.session.get_one(Connection, connection_id)
        event = add_event(uow.session, connection, WebhookEvent(key, deal_id, "property_change", runtime.clock()),
                          runtime.clock())
        uow.commit()
        return event.id


def test_a_deal_won_through_a_webhook_becomes_a_purchase_of_its_buyer_without_a_sync(runtime: Runtime) -> None:
    sandbox = Bitrix24Sandbox(leaky_bucket=(1000.0, 1000))
    sandbox.start()
    try:
        company, contact = bitrix24_customers.seed_companies()[0], bitrix24_customers.seed_contacts()[2]
        b2b = sandbox.ui_create_deal({"TITLE": "B2B", "OPPORTUNITY": "500", "CURRENCY_ID": "EUR",
                                      "COMPANY_ID": company["ID"]})
        connection_id = connect(runtime, {"name": "b24", "kind": "bitrix24", "base_url": sandbox.incoming_webhook_url,
                                          "application_token": "apptoken", "account_id": "sandbox-member"})
        assert run_sync(runtime, connection_id).status == "done"
        assert purchases(runtime, connection_id) == {}  # open: no purchase yet
        sandbox.ui_move_deal(b2b, "WON")
        b2c = sandbox.ui_create_deal({"TITLE": "B2C", "OPPORTUNITY": "70.25", "CURRENCY_ID": "USD",
                                      "CONTACT_ID": contact["ID"], "STAGE_ID": "WON"})  # a buyer never synced
        events = [deal_event(runtime, connection_id, b2b, "e1"), deal_event(runtime, connection_id, b2c, "e2")]
        for event_id in events:
            process_event(runtime, event_id)
        with runtime.read_uow() as uow:
            statuses = [uow.session.get_one(InboundEvent, e).status for e in events]
            names = {(c.kind, c.external_id): c.name for c in uow.session.scalars(
                select(Customer).where(Customer.source == crm_source(connection_id)))}
        assert EventStatus.FAILED not in statuses
        assert names == {("company", company["ID"]): company["TITLE"],
                         ("contact", contact["ID"]): f"{contact['NAME']} {contact['LAST_NAME']}"}
        found = {deal_id: (kind, buyer, amount, currency) for deal_id, (kind, buyer, amount, currency, _) in
                 purchases(runtime, connection_id).items()}
        assert found == {b2b: ("company", company["ID"], Decimal("500"), "EUR"),
                         b2c: ("contact", contact["ID"], Decimal("70.25"), "USD")}
        sandbox.ui_move_deal(b2b, "LOSE")
        process_event(runtime, deal_event(runtime, connection_id, b2b, "e3"))
        assert set(purchases(runtime, connection_id)) == {b2c}  # lost again: its purchase is gone
    finally:
        sandbox.stop()
