"""Companies and contacts of the Bitrix24 sandbox: seed records and the field lists crm.company.fields and
crm.contact.fields answer.

A deal names its buyer by COMPANY_ID ("0" for none) and CONTACT_ID (its first contact; null for none). Company
records carry the standard INDUSTRY and EMPLOYEES (crm_status codes) and the user fields UF_CRM_REGION (string)
and UF_CRM_SEGMENT (enumeration: the item ID is stored); contacts carry NAME, LAST_NAME, COMPANY_ID and
UF_CRM_REGION. Shapes: api-reference/crm/companies/crm-company-list.md and crm-company-fields.md in
https://github.com/bitrix24/b24restdocs.
"""

from __future__ import annotations

from typing import Any

SEGMENT_ITEMS = {"301": "Wholesale", "302": "Retail"}
SEED_TIME = "2024-01-10T10:00:00+03:00"


def _meta(kind: str, title: str, *, readonly: bool = False, dynamic: bool = False,
          items: dict[str, str] | None = None, status_type: str | None = None) -> dict[str, Any]:  # fmt: skip
    meta: dict[str, Any] = {"type": kind, "isRequired": False, "isReadOnly": readonly, "isImmutable": False,
                            "isMultiple": False, "isDynamic": dynamic, "title": title}  # fmt: skip
    if dynamic:
        meta.update({"title": title.upper(), "listLabel": title, "formLabel": title, "filterLabel": title})
    if items:
        meta["items"] = [{"ID": item_id, "VALUE": value} for item_id, value in items.items()]
    if status_type:
        meta["statusType"] = status_type
    return meta


def company_fields() -> dict[str, Any]:
    """crm.company.fields: standard fields, then the UF_CRM_* ones."""
    return {
        "ID": _meta("integer", "ID", readonly=True), "TITLE": _meta("string", "Company name"),
        "COMPANY_TYPE": _meta("crm_status", "Company type", status_type="COMPANY_TYPE"),
        "INDUSTRY": _meta("crm_status", "Industry", status_type="INDUSTRY"),
        "EMPLOYEES": _meta("crm_status", "Employees", status_type="EMPLOYEES"),
        "REVENUE": _meta("double", "Annual revenue"), "ASSIGNED_BY_ID": _meta("user", "Responsible"),
        "DATE_CREATE": _meta("datetime", "Created", readonly=True),
        "UF_CRM_REGION": _meta("string", "Region", dynamic=True),
        "UF_CRM_SEGMENT": _meta("enumeration", "Segment", dynamic=True, items=SEGMENT_ITEMS),
    }  # fmt: skip


def contact_fields() -> dict[str, Any]:
    """crm.contact.fields: standard fields, then the UF_CRM_* ones."""
    return {
        "ID": _meta("integer", "ID", readonly=True), "NAME": _meta("string", "First name"),
        "LAST_NAME": _meta("string", "Last name"), "TYPE_ID": _meta("crm_status", "Contact type",
                                                                    status_type="CONTACT_TYPE"),
        "COMPANY_ID": _meta("crm_company", "Company"), "ASSIGNED_BY_ID": _meta("user", "Responsible"),
        "DATE_CREATE": _meta("datetime", "Created", readonly=True),
        "UF_CRM_REGION": _meta("string", "Region", dynamic=True),
    }  # fmt: skip


def company(company_id: int, title: str, industry: str, employees: str, region: str, segment: str
            ) -> dict[str, Any]:  # fmt: skip
    """A crm.company.list record (values as strings, as Bitrix24 answers them)."""
    return {"ID": str(company_id), "TITLE": title, "COMPANY_TYPE": "CUSTOMER", "INDUSTRY": industry,
            "EMPLOYEES": employees, "REVENUE": "0.00", "ASSIGNED_BY_ID": "1", "DATE_CREATE": SEED_TIME,
            "UF_CRM_REGION": region, "UF_CRM_SEGMENT": segment}  # fmt: skip


def contact(contact_id: int, name: str, last_name: str, company_id: int | None, region: str) -> dict[str, Any]:
    """A crm.contact.list record."""
    return {"ID": str(contact_id), "NAME": name, "LAST_NAME": last_name, "TYPE_ID": "CLIENT",
            "COMPANY_ID": str(company_id) if company_id else None, "ASSIGNED_BY_ID": "1",
            "DATE_CREATE": SEED_TIME, "UF_CRM_REGION": region}  # fmt: skip


def seed_companies() -> list[dict[str, Any]]:
    """Three companies, by ID."""
    return [company(21, "Acme Wholesale", "MANUFACTURING", "EMPLOYEES_3", "North", "301"),
            company(22, "Bolt Retail", "DELIVERY", "EMPLOYEES_1", "South", "302"),
            company(23, "Cobalt IT", "IT", "EMPLOYEES_2", "North", "302")]  # fmt: skip


def seed_contacts() -> list[dict[str, Any]]:
    """Three contacts, by ID (the first works at the first company)."""
    return [contact(31, "Dana", "Buyer", 21, "North"), contact(32, "Eli", "Shopper", None, "South"),
            contact(33, "Fay", "Client", None, "East")]  # fmt: skip
