"""A deal's company and contact, and customers read with their properties, over real HTTP against the HubSpot,
Pipedrive, amoCRM and Bitrix24 sandboxes (no mocks)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from adapters.amocrm import AmoCRMAdapter
from adapters.errors import CRMAuthError, CRMRejected
from adapters.hubspot import HubSpotAdapter
from adapters.pipedrive import PipedriveAdapter
from adapters.sandbox import amocrm_customers, bitrix24_customers
from adapters.sandbox.amocrm import AmoCRMSandbox
from adapters.sandbox.bitrix24 import Bitrix24Sandbox
from adapters.sandbox.hubspot import HubSpotSandbox
from adapters.sandbox.hubspot_seed import COMPANIES, CONTACTS
from adapters.sandbox.pipedrive import PipedriveSandbox
from adapters.sandbox.pipedrive_customers import ORG_KEYS, organizations, persons
from tests.adapters.amocrm_fixtures import amocrm_fixture, token_adapter  # noqa: F401
from tests.adapters.bitrix24_fixtures import bitrix24_fixture  # noqa: F401
from tests.adapters.bitrix24_fixtures import make_adapter as make_bitrix24
from tests.adapters.pipedrive_fixtures import adapter_fixture, pipedrive_fixture, receiver_fixture  # noqa: F401
from tests.adapters.pipedrive_fixtures import make_adapter as make_pipedrive
from tests.adapters.pipedrive_fixtures import new_deal as new_pipedrive_deal
from tests.adapters.test_hubspot_adapter import make_adapter as make_hubspot
from tests.adapters.test_hubspot_adapter import sandbox  # noqa: F401

PRIMARY, UNLABELED, CONTACT = 5, 341, 3


def link(to_id: str, type_id: int) -> dict[str, object]:
    return {"to": {"id": to_id}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}]}


def hubspot_deal(sb: HubSpotSandbox, name: str, links: list[dict[str, object]]) -> str:
    props = {"dealname": name, "dealstage": "appointmentscheduled", "pipeline": "default", "amount": "10"}
    with sb.lock:
        return sb.portal.create("deals", props, sb.actor(), links).id


@pytest.fixture
def hubspot(sandbox: HubSpotSandbox) -> Iterator[HubSpotAdapter]:  # noqa: F811
    with make_hubspot(sandbox) as adapter:
        yield adapter


def test_hubspot_deal_read_and_search_give_the_primary_company_and_first_contact(
        sandbox: HubSpotSandbox, hubspot: HubSpotAdapter) -> None:  # noqa: F811
    (first_company, _), (second_company, _) = COMPANIES[0], COMPANIES[1]
    contact = CONTACTS[1][0]
    b2b = hubspot_deal(sandbox, "B2B", [link(first_company, UNLABELED), link(second_company, PRIMARY),
                                        link(contact, CONTACT)])
    b2c = hubspot_deal(sandbox, "B2C", [link(contact, CONTACT)])
    alone = hubspot_deal(sandbox, "Alone", [])
    read = hubspot.get_deal(b2b, [])
    assert (read.company_id, read.contact_id) == (second_company, contact)
    page = hubspot.search_deals_modified_since(datetime(2000, 1, 1, tzinfo=UTC), [])
    found = {d.id: (d.company_id, d.contact_id) for d in page.deals}
    assert found == {b2b: (second_company, contact), b2c: (None, contact), alone: (None, None)}
    assert sandbox.api_calls("POST", "/crm/v4/associations/deals/companies/batch/read")


def test_hubspot_customers_are_read_in_one_batch_with_their_properties(hubspot: HubSpotAdapter) -> None:
    ids = [company_id for company_id, _ in COMPANIES]
    customers = hubspot.get_customers("company", [*ids, "404404"], ["industry", "numberofemployees", "state"])
    expected = {company_id: (props["name"], props["industry"], props["numberofemployees"], props["state"])
                for company_id, props in COMPANIES}
    got = {c.id: (c.name, c.properties["industry"], c.properties["numberofemployees"], c.properties["state"])
           for c in customers}
    assert got == expected
    contact_id, contact = CONTACTS[0]
    (person,) = hubspot.get_customers("contact", [contact_id], ["state"])
    assert (person.kind, person.name, person.properties["state"]) == (
        "contact", f"{contact['firstname']} {contact['lastname']}", contact["state"])


def test_hubspot_lists_company_properties_and_refuses_other_kinds(hubspot: HubSpotAdapter) -> None:
    names = {p.name for p in hubspot.list_customer_properties("company")}
    assert {"name", "industry", "numberofemployees", "state"} <= names
    with pytest.raises(CRMRejected):
        hubspot.get_customers("deal", ["1"], [])


def test_hubspot_customer_read_with_a_bad_token_is_an_auth_error(sandbox: HubSpotSandbox) -> None:  # noqa: F811
    with make_hubspot(sandbox, token="wrong") as adapter, pytest.raises(CRMAuthError):
        adapter.get_customers("company", [COMPANIES[0][0]], [])


def test_pipedrive_deal_gives_its_organization_and_person(pipedrive: PipedriveSandbox,
                                                          adapter: PipedriveAdapter) -> None:
    deal_id = new_pipedrive_deal(pipedrive, "B2B", org_id=301, person_id=401)
    lone = new_pipedrive_deal(pipedrive, "Lone")
    read = adapter.get_deal(str(deal_id), [])
    assert (read.company_id, read.contact_id) == ("301", "401")
    page = adapter.search_deals_modified_since(datetime(2000, 1, 1, tzinfo=UTC), [])
    found = {d.id: (d.company_id, d.contact_id) for d in page.deals}
    assert found[str(deal_id)] == ("301", "401") and found[str(lone)] == (None, None)


def test_pipedrive_organizations_and_persons_are_read_by_id_with_custom_fields(adapter: PipedriveAdapter) -> None:
    seeded = organizations()
    customers = adapter.get_customers("company", ["301", "303", "999"], [ORG_KEYS["industry"]])
    got = {c.id: (c.name, c.properties[ORG_KEYS["industry"]], c.properties[ORG_KEYS["employees"]],
                  c.properties["address_admin_area_level_1"]) for c in customers}
    assert got == {str(i): (seeded[i]["name"], str(seeded[i]["custom_fields"][ORG_KEYS["industry"]]),
                            str(seeded[i]["custom_fields"][ORG_KEYS["employees"]]),
                            seeded[i]["address"]["admin_area_level_1"]) for i in (301, 303)}
    (person,) = adapter.get_customers("contact", ["402"], [])
    assert (person.kind, person.name) == ("contact", persons()[402]["name"])
    fields = {p.name: p for p in adapter.list_customer_properties("company")}
    assert {o.label for o in fields[ORG_KEYS["industry"]].options} == {"Retail", "Manufacturing", "IT"}


def test_pipedrive_refuses_a_non_numeric_id_and_a_bad_token(pipedrive: PipedriveSandbox,
                                                            adapter: PipedriveAdapter) -> None:
    with pytest.raises(CRMRejected):
        adapter.get_customers("company", ["abc"], [])
    with make_pipedrive(pipedrive, token="wrong") as bad, pytest.raises(CRMAuthError):
        bad.get_customers("company", ["301"], [])


@pytest.fixture
def amo(amocrm: AmoCRMSandbox) -> Iterator[AmoCRMAdapter]:
    with token_adapter(amocrm) as adapter:
        yield adapter


def test_amocrm_lead_read_and_search_give_its_company_and_main_contact(amocrm: AmoCRMSandbox,
                                                                        amo: AmoCRMAdapter) -> None:
    company_id, (first, second) = 40_000_002, list(amocrm_customers.seed_contacts())[:2]
    b2b = amocrm.ui_create_lead({"name": "B2B", "company_id": company_id, "contact_ids": [second, first]})
    b2c = amocrm.ui_create_lead({"name": "B2C", "contact_ids": [first]})
    read = amo.get_deal(str(b2b), [])
    assert (read.company_id, read.contact_id) == (str(company_id), str(second))
    page = amo.search_deals_modified_since(datetime(2000, 1, 1, tzinfo=UTC), [])
    found = {d.id: (d.company_id, d.contact_id) for d in page.deals}
    assert found[str(b2b)] == (str(company_id), str(second)) and found[str(b2c)] == (None, str(first))
    assert sum(v == (None, None) for v in found.values()) == len(found) - 2  # the seeded leads have no buyer
    with amocrm.lock:
        amocrm.account.update_lead(b2c, {"contact_ids": []}, 5_000_001)
    assert amo.get_deal(str(b2c), []).contact_id is None


def test_amocrm_companies_and_contacts_are_read_by_id_with_custom_fields(amo: AmoCRMAdapter) -> None:
    seeded = amocrm_customers.seed_companies()
    wanted = sorted(seeded)[::2]
    customers = amo.get_customers("company", [*map(str, wanted), "404404"], [])

    def value(company: dict[str, object], field_id: int) -> object:
        return next(c["values"][0]["value"] for c in company["custom"] if c["field_id"] == field_id)  # type: ignore

    got = {c.id: (c.name, c.properties[f"{amocrm_customers.C_INDUSTRY}:text"],
                  c.properties[str(amocrm_customers.C_EMPLOYEES)], c.properties[str(amocrm_customers.C_REGION)])
           for c in customers}
    assert got == {str(i): (seeded[i]["name"], value(seeded[i], amocrm_customers.C_INDUSTRY),
                            str(value(seeded[i], amocrm_customers.C_EMPLOYEES)),
                            value(seeded[i], amocrm_customers.C_REGION)) for i in wanted}
    contact_id, contact = next(iter(amocrm_customers.seed_contacts().items()))
    (person,) = amo.get_customers("contact", [str(contact_id)], [])
    assert (person.kind, person.name, person.properties[str(amocrm_customers.P_REGION)]) == (
        "contact", contact["name"], contact["custom"][0]["values"][0]["value"])
    fields = {p.name: p for p in amo.list_customer_properties("company")}
    industry = fields[str(amocrm_customers.C_INDUSTRY)]
    assert {o.label for o in industry.options} == set(amocrm_customers.COMPANY_INDUSTRY_ENUMS.values())
    assert {"name", str(amocrm_customers.P_REGION)} == {p.name for p in amo.list_customer_properties("contact")}


def test_amocrm_customer_read_refuses_a_bad_token_and_a_bad_kind(amocrm: AmoCRMSandbox) -> None:
    with token_adapter(amocrm, token="wrong") as bad, pytest.raises(CRMAuthError):
        bad.get_customers("company", ["40000001"], [])
    with token_adapter(amocrm) as adapter, pytest.raises(CRMRejected):
        adapter.list_customer_properties("lead")


def test_bitrix24_deal_gives_its_company_and_contact(bitrix24: Bitrix24Sandbox) -> None:
    b2b = bitrix24.ui_create_deal({"TITLE": "B2B", "COMPANY_ID": 22, "CONTACT_ID": 31})
    b2c = bitrix24.ui_create_deal({"TITLE": "B2C", "CONTACT_ID": 32})
    lone = bitrix24.ui_create_deal({"TITLE": "Lone"})
    with make_bitrix24(bitrix24) as adapter:
        read = adapter.get_deal(b2b, [])
        assert (read.company_id, read.contact_id) == ("22", "31")
        page = adapter.search_deals_modified_since(datetime(2000, 1, 1, tzinfo=UTC), [])
    found = {d.id: (d.company_id, d.contact_id) for d in page.deals}
    assert found == {b2b: ("22", "31"), b2c: (None, "32"), lone: (None, None)}


def test_bitrix24_companies_and_contacts_are_read_by_id_in_one_filtered_list(bitrix24: Bitrix24Sandbox) -> None:
    seeded = {c["ID"]: c for c in bitrix24_customers.seed_companies()}
    wanted = sorted(seeded)[1:]
    with make_bitrix24(bitrix24, "oauth") as adapter:
        customers = adapter.get_customers("company", [*wanted, "999"], ["INDUSTRY", "EMPLOYEES"])
        (person,) = adapter.get_customers("contact", ["33"], [])
        fields = {p.name: p for p in adapter.list_customer_properties("company")}
    got = {c.id: (c.name, c.properties["INDUSTRY"], c.properties["EMPLOYEES"], c.properties["UF_CRM_REGION"],
                  c.properties["UF_CRM_SEGMENT"]) for c in customers}
    assert got == {i: (seeded[i]["TITLE"], seeded[i]["INDUSTRY"], seeded[i]["EMPLOYEES"], seeded[i]["UF_CRM_REGION"],
                       seeded[i]["UF_CRM_SEGMENT"]) for i in wanted}
    contact = next(c for c in bitrix24_customers.seed_contacts() if c["ID"] == "33")
    assert (person.kind, person.name) == ("contact", f"{contact['NAME']} {contact['LAST_NAME']}")
    lists = bitrix24.api_calls("crm.company.list")
    assert len(lists) == 1  # one @ID-filtered list, not one call per company
    segment = fields["UF_CRM_SEGMENT"]
    assert {(o.value, o.label) for o in segment.options} == set(bitrix24_customers.SEGMENT_ITEMS.items())
    assert {"TITLE", "INDUSTRY", "EMPLOYEES", "UF_CRM_REGION"} <= set(fields)
