"""A sync of the HubSpot, Pipedrive, amoCRM and Bitrix24 sandboxes stores each deal's buyer as a customer with its
mapped portrait values, and its won deals as purchases (SQLite and PostgreSQL)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from adapters.sandbox import amocrm_customers, bitrix24_customers
from adapters.sandbox.amocrm import AmoCRMSandbox
from adapters.sandbox.amocrm_state import WON
from adapters.sandbox.bitrix24 import Bitrix24Sandbox
from adapters.sandbox.hubspot import HubSpotSandbox
from adapters.sandbox.hubspot_seed import COMPANIES, CONTACTS
from adapters.sandbox.pipedrive import PipedriveSandbox
from adapters.sandbox.pipedrive_customers import ORG_INDUSTRY_OPTIONS, ORG_KEYS, organizations
from service.models import Customer, Field, Purchase, Record
from service.runtime import Runtime
from service.services.mappings import replace_mappings
from service.services.purchases import crm_source
from tests.integration.syncing import SANDBOX_UNLIMITED, UNLIMITED, connect, connect_hubspot, run_sync

TOKEN = "pat-customers"


def add_fields(runtime: Runtime) -> None:
    with runtime.uow() as uow:
        uow.session.add_all([Field(key="industry", label="Industry", type="text", constraints={}),
                             Field(key="region", label="Region", type="text", constraints={})])
        uow.commit()


def stored(runtime: Runtime, connection_id: int) -> tuple[dict[tuple[str, str], tuple], dict[str, tuple]]:  # type: ignore[type-arg]
    with runtime.read_uow() as uow:
        customers = {(c.kind, c.external_id): (c.name, c.values) for c in uow.session.scalars(
            select(Customer).where(Customer.source == crm_source(connection_id)))}
        purchases = {p.external_id: (Decimal(p.amount), p.currency) for p in uow.session.scalars(
            select(Purchase).where(Purchase.source == crm_source(connection_id)))}
        return customers, purchases


def test_a_hubspot_sync_stores_buyers_with_mapped_values_and_won_deals_as_purchases(runtime: Runtime) -> None:
    add_fields(runtime)
    sandbox = HubSpotSandbox(access_token=TOKEN, rate_limit=SANDBOX_UNLIMITED, search_rate_limit=SANDBOX_UNLIMITED)
    sandbox.start()
    try:
        company_id, company = COMPANIES[0]
        contact_id, contact = CONTACTS[1]
        with sandbox.lock:
            won = sandbox.portal.create("deals", {"dealname": "Won", "dealstage": "closedwon", "pipeline": "default",
                                                  "amount": "1500", "deal_currency_code": "EUR"}, sandbox.actor(),
                                        [{"to": {"id": company_id}, "types": [{"associationCategory": "HUBSPOT_DEFINED",
                                                                              "associationTypeId": 5}]}]).id
            open_b2c = sandbox.portal.create("deals", {"dealname": "Open", "dealstage": "appointmentscheduled",
                                                       "pipeline": "default", "amount": "20"}, sandbox.actor(),
                                             [{"to": {"id": contact_id}, "types": [{
                                                 "associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 3}]}],
                                             ).id
        connection_id = connect_hubspot(runtime, sandbox, TOKEN)
        result = replace_mappings(runtime, connection_id, [
            {"property": "company.industry", "field": "industry"}, {"property": "contact.state", "field": "region"}])
        assert result["warnings"] == []
        run = run_sync(runtime, connection_id)
        assert run.status == "done", run.last_error
        customers, purchases = stored(runtime, connection_id)
        assert customers == {("company", company_id): (company["name"], {"industry": company["industry"]}),
                             ("contact", contact_id): (f"{contact['firstname']} {contact['lastname']}",
                                                       {"region": contact["state"]})}
        assert purchases == {won: (Decimal("1500"), "EUR")}
        with runtime.read_uow() as uow:
            record = uow.session.scalars(select(Record).where(Record.external_id == open_b2c)).one()
            assert (record.company_external_id, record.contact_external_id) == (None, contact_id)
            assert "industry" not in record.values  # customer mappings do not feed the deal's values
        assert run_sync(runtime, connection_id).status == "done"
        assert stored(runtime, connection_id)[1] == purchases  # a second sync adds nothing
    finally:
        sandbox.stop()


def test_an_unknown_customer_property_is_refused_with_the_closest_names(runtime: Runtime) -> None:
    add_fields(runtime)
    sandbox = HubSpotSandbox(access_token=TOKEN, rate_limit=SANDBOX_UNLIMITED, search_rate_limit=SANDBOX_UNLIMITED)
    sandbox.start()
    try:
        connection_id = connect_hubspot(runtime, sandbox, TOKEN)
        with pytest.raises(Exception) as caught:
            replace_mappings(runtime, connection_id, [{"property": "company.industri", "field": "industry"}])
        assert "company.industry" in str(getattr(caught.value, "errors", caught.value))
    finally:
        sandbox.stop()


def test_a_pipedrive_sync_stores_the_deals_organizations_with_mapped_values(runtime: Runtime) -> None:
    add_fields(runtime)
    sandbox = PipedriveSandbox(api_token="pd-customers", rate_limit=SANDBOX_UNLIMITED)
    sandbox.start()
    try:
        deal_id = sandbox.ui_create_deal({"title": "B2B", "stage_id": 1, "value": 900, "owner_id": 2,
                                          "org_id": 302, "person_id": 401})
        connection_id = connect(runtime, {"name": "pipedrive", "kind": "pipedrive", "base_url": sandbox.base_url,
                                          "access_token": "pd-customers",
                                          "webhook_password": "secret", "rate_limits": {"default": UNLIMITED}})
        replace_mappings(runtime, connection_id, [{"property": f"company.{ORG_KEYS['industry']}", "field": "industry",
                                                   "value_map": {"62": "Manufacturing"}}])
        assert run_sync(runtime, connection_id).status == "done"
        customers, _ = stored(runtime, connection_id)
        org = organizations()[302]
        assert customers == {("company", "302"): (org["name"], {"industry": ORG_INDUSTRY_OPTIONS[62]})}
        with runtime.read_uow() as uow:
            record = uow.session.scalars(select(Record).where(Record.external_id == str(deal_id))).one()
            assert (record.company_external_id, record.contact_external_id) == ("302", "401")
    finally:
        sandbox.stop()


def test_an_amocrm_sync_stores_the_leads_companies_and_contacts_and_won_leads_as_purchases(runtime: Runtime) -> None:
    add_fields(runtime)
    sandbox = AmoCRMSandbox(rate_limit=SANDBOX_UNLIMITED)
    sandbox.start()
    try:
        (company_id, company), (contact_id, contact) = (next(iter(amocrm_customers.seed_companies().items())),
                                                        list(amocrm_customers.seed_contacts().items())[1])
        won = sandbox.ui_create_lead({"name": "Won", "price": 1500, "company_id": company_id,
                                      "contact_ids": [contact_id]})
        sandbox.ui_move_lead(won, WON)
        open_b2c = sandbox.ui_create_lead({"name": "Open", "price": 20, "contact_ids": [contact_id]})
        connection_id = connect(runtime, {"name": "amo", "kind": "amocrm", "base_url": sandbox.base_url,
                                          "access_token": sandbox.access_token,
                                          "account_id": str(sandbox.account_id), "rate_limits": {"default": UNLIMITED}})
        industry = next(c for c in company["custom"] if c["field_id"] == amocrm_customers.C_INDUSTRY)["values"][0]
        result = replace_mappings(runtime, connection_id, [
            {"property": f"company.{amocrm_customers.C_INDUSTRY}", "field": "industry",
             "value_map": {str(industry["enum_id"]): industry["value"]}},
            {"property": f"contact.{amocrm_customers.P_REGION}", "field": "region"}])
        assert result["warnings"] == []
        run = run_sync(runtime, connection_id)
        assert run.status == "done", run.last_error
        customers, purchases = stored(runtime, connection_id)
        assert customers == {("company", str(company_id)): (company["name"], {"industry": industry["value"]}),
                             ("contact", str(contact_id)): (contact["name"],
                                                            {"region": contact["custom"][0]["values"][0]["value"]})}
        assert purchases == {str(won): (Decimal("1500"), "RUB")}  # the account's currency
        with runtime.read_uow() as uow:
            record = uow.session.scalars(select(Record).where(Record.external_id == str(open_b2c))).one()
            assert (record.company_external_id, record.contact_external_id) == (None, str(contact_id))
    finally:
        sandbox.stop()


def test_a_bitrix24_sync_stores_the_deals_companies_and_contacts_and_won_deals_as_purchases(runtime: Runtime) -> None:
    add_fields(runtime)
    sandbox = Bitrix24Sandbox(leaky_bucket=(1000.0, 1000))
    sandbox.start()
    try:
        company, contact = bitrix24_customers.seed_companies()[0], bitrix24_customers.seed_contacts()[1]
        won = sandbox.ui_create_deal({"TITLE": "Won", "OPPORTUNITY": "900.50", "CURRENCY_ID": "EUR",
                                      "COMPANY_ID": company["ID"], "CONTACT_ID": contact["ID"]})
        sandbox.ui_move_deal(won, "WON")
        lost = sandbox.ui_create_deal({"TITLE": "Lost", "OPPORTUNITY": "10", "COMPANY_ID": company["ID"]})
        sandbox.ui_move_deal(lost, "LOSE")
        open_b2c = sandbox.ui_create_deal({"TITLE": "Open", "OPPORTUNITY": "20", "CONTACT_ID": contact["ID"]})
        connection_id = connect(runtime, {"name": "b24", "kind": "bitrix24", "base_url": sandbox.incoming_webhook_url,
                                          "application_token": "apptoken", "account_id": "sandbox-member"})
        segment = bitrix24_customers.SEGMENT_ITEMS[company["UF_CRM_SEGMENT"]]
        result = replace_mappings(runtime, connection_id, [
            {"property": "company.UF_CRM_SEGMENT", "field": "industry",
             "value_map": {company["UF_CRM_SEGMENT"]: segment}},
            {"property": "contact.UF_CRM_REGION", "field": "region"}])
        assert result["warnings"] == []
        run = run_sync(runtime, connection_id)
        assert run.status == "done", run.last_error
        customers, purchases = stored(runtime, connection_id)
        assert customers == {("company", company["ID"]): (company["TITLE"], {"industry": segment}),
                             ("contact", contact["ID"]): (f"{contact['NAME']} {contact['LAST_NAME']}",
                                                          {"region": contact["UF_CRM_REGION"]})}
        assert purchases == {won: (Decimal("900.50"), "EUR")}
        with runtime.read_uow() as uow:
            record = uow.session.scalars(select(Record).where(Record.external_id == open_b2c)).one()
            assert (record.company_external_id, record.contact_external_id) == (None, contact["ID"])
    finally:
        sandbox.stop()
