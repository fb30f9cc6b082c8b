"""Companies and contacts of the amoCRM sandbox (API v4 shapes), their custom fields and the read endpoints.

GET /api/v4/companies and /api/v4/contacts page like leads (`page`, `limit` <= 250, 204 for an empty page) and
take `filter[id]` as one id or a list (`filter[id][]=1&filter[id][]=2`, or indexed `filter[id][0]=1`); unknown
ids are simply not listed. GET /api/v4/companies/custom_fields and /api/v4/contacts/custom_fields list their
fields. A lead embeds its companies always and its contacts only with `with=contacts` (`is_main` marks the main
one). Shapes: https://www.amocrm.ru/developers/content/crm_platform/companies-api and contacts-api.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from werkzeug.datastructures import MultiDict

from adapters.sandbox.amocrm_state import USER_ANNA, _field, validation_error

C_INDUSTRY, C_EMPLOYEES, C_REGION, P_REGION = 920_001, 920_002, 920_003, 920_011
COMPANY_INDUSTRY_ENUMS = {930_001: "Wholesale", 930_002: "Retail", 930_003: "IT"}
SEED_TIME = 1_672_531_200  # 2023-01-01
FIELD_NAMES = {C_INDUSTRY: "Industry", C_EMPLOYEES: "Employees", C_REGION: "Region", P_REGION: "Region"}


def company_fields() -> list[dict[str, Any]]:
    """Company custom fields: industry (select), employees (numeric), region (text)."""
    fields = [_field(C_INDUSTRY, "Industry", "select", "INDUSTRY", 10, enums=COMPANY_INDUSTRY_ENUMS),
              _field(C_EMPLOYEES, "Employees", "numeric", "EMPLOYEES", 20),
              _field(C_REGION, "Region", "text", "REGION", 30)]  # fmt: skip
    return [{**f, "entity_type": "companies"} for f in fields]


def contact_fields() -> list[dict[str, Any]]:
    """Contact custom fields: region (text)."""
    return [{**_field(P_REGION, "Region", "text", "REGION", 10), "entity_type": "contacts"}]


def _values(fid: int, kind: str, value: Any) -> dict[str, Any]:
    stored = ({"value": COMPANY_INDUSTRY_ENUMS[value], "enum_id": value, "enum_code": None} if kind == "select"
              else {"value": value})  # fmt: skip
    return {"field_id": fid, "kind": kind, "values": [stored]}


def company(company_id: int, name: str, industry: int, employees: int, region: str) -> dict[str, Any]:
    """A stored company: standard fields and its custom values (as `custom`)."""
    return {"id": company_id, "name": name, "responsible_user_id": USER_ANNA, "group_id": 0,
            "created_by": USER_ANNA, "updated_by": USER_ANNA, "created_at": SEED_TIME, "updated_at": SEED_TIME,
            "closest_task_at": None, "is_deleted": False,
            "custom": [_values(C_INDUSTRY, "select", industry), _values(C_EMPLOYEES, "numeric", employees),
                       _values(C_REGION, "text", region)]}  # fmt: skip


def contact(contact_id: int, first: str, last: str, region: str, company_id: int | None) -> dict[str, Any]:
    """A stored contact: standard fields, its company and its custom values (as `custom`)."""
    return {"id": contact_id, "name": f"{first} {last}", "first_name": first, "last_name": last,
            "responsible_user_id": USER_ANNA, "group_id": 0, "created_by": USER_ANNA, "updated_by": USER_ANNA,
            "created_at": SEED_TIME, "updated_at": SEED_TIME, "closest_task_at": None, "is_deleted": False,
            "company_id": company_id, "custom": [_values(P_REGION, "text", region)]}  # fmt: skip


def seed_companies() -> dict[int, dict[str, Any]]:
    """Three companies by id."""
    rows = [company(40_000_001, "Acme Wholesale", 930_001, 250, "North"),
            company(40_000_002, "Bolt Retail", 930_002, 40, "South"),
            company(40_000_003, "Cobalt IT", 930_003, 12, "North")]  # fmt: skip
    return {row["id"]: row for row in rows}


def seed_contacts() -> dict[int, dict[str, Any]]:
    """Three contacts by id (the first works at the first company)."""
    rows = [contact(41_000_001, "Dana", "Buyer", "North", 40_000_001),
            contact(41_000_002, "Eli", "Shopper", "South", None),
            contact(41_000_003, "Fay", "Client", "East", None)]  # fmt: skip
    return {row["id"]: row for row in rows}


def render(item: Mapping[str, Any], path: str, account_id: int, base_url: str) -> dict[str, Any]:
    """A company or contact as the v4 list answers it (`path`: companies | contacts)."""
    out = {k: v for k, v in item.items() if k not in ("custom", "company_id")}
    out["custom_fields_values"] = [
        {"field_id": c["field_id"], "field_name": FIELD_NAMES[c["field_id"]],
         "field_code": FIELD_NAMES[c["field_id"]].upper(), "field_type": c["kind"],
         "values": c["values"]} for c in item["custom"]] or None  # fmt: skip
    out["account_id"] = account_id
    out["_links"] = {"self": {"href": f"{base_url}/api/v4/{path}/{item['id']}"}}
    embedded: dict[str, Any] = {"tags": []}
    if path == "contacts":
        embedded["companies"] = [{"id": item["company_id"]}] if item.get("company_id") else []
    out["_embedded"] = embedded
    return out


def wanted_ids(args: MultiDict[str, str]) -> set[int] | None:
    """The `filter[id]` filter in any of its spellings; None when absent; 400 for a non-integer id."""
    raw = [value for key, value in args.items(multi=True) if key == "filter[id]" or key.startswith("filter[id][")]
    if not raw:
        return None
    if not all(value.strip().isdigit() for value in raw):
        raise validation_error("filter.id", "This value should be of type int.")
    return {int(value) for value in raw}


def listed(items: Mapping[int, dict[str, Any]], args: MultiDict[str, str]) -> list[dict[str, Any]]:
    """The live items the `filter[id]` filter keeps, by id."""
    wanted = wanted_ids(args)
    return [item for key, item in sorted(items.items())
            if not item["is_deleted"] and (wanted is None or key in wanted)]  # fmt: skip


def links_of(raw: Mapping[str, Any], companies: Mapping[int, Any], contacts: Mapping[int, Any],
             request_id: str) -> dict[str, Any]:  # fmt: skip
    """`_embedded.companies` / `_embedded.contacts` of a lead body as {"company_id", "contact_ids"} (the first
    contact, or the one marked `is_main`, is the main one); 400 for an unknown id."""
    embedded = raw.get("_embedded") or {}
    out: dict[str, Any] = {}
    if "companies" in embedded:
        ids = _ids(embedded["companies"], companies, "_embedded.companies", request_id)
        out["company_id"] = ids[0] if ids else None
    if "contacts" in embedded:
        entries = embedded["contacts"] or []
        ids = _ids(entries, contacts, "_embedded.contacts", request_id)
        main = [int(e["id"]) for e in entries if isinstance(e, dict) and e.get("is_main")]
        out["contact_ids"] = main[:1] + [i for i in ids if i not in main[:1]]
    return out


def _ids(entries: Any, known: Mapping[int, Any], path: str, request_id: str) -> list[int]:
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise validation_error(path, "This value should be an array of objects.", request_id)
    ids = [str(e.get("id")) for e in entries]
    if not all(i.isdigit() and int(i) in known for i in ids):
        raise validation_error(f"{path}.id", "Entity not found", request_id)
    return [int(i) for i in ids]
