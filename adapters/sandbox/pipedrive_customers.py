"""Organizations and persons of the Pipedrive sandbox (API v2 shapes) and their read endpoints.

GET /api/v2/organizations and /api/v2/persons list them with cursor paging and the `ids` filter (at most 100
comma-separated ids; unknown ids are simply not listed); /api/v2/organizationFields and /api/v2/personFields
list their fields. Shapes: https://developers.pipedrive.com/docs/api/v1/Organizations#getOrganizations (v2).
"""

from __future__ import annotations

from typing import Any

from adapters.sandbox import pipedrive_errors as errors
from adapters.sandbox.pipedrive_seed import SEED_TIME, _field, field_key

IDS_MAX = 100
ORG_KEYS = {name: field_key(f"organization:{name}") for name in ("industry", "employees", "region")}
PERSON_KEYS = {name: field_key(f"person:{name}") for name in ("region",)}
ORG_INDUSTRY_OPTIONS = {61: "Retail", 62: "Manufacturing", 63: "IT"}


def organization(org_id: int, name: str, industry: int | None, employees: int | None, region: str | None,
                 owner_id: int = 1) -> dict[str, Any]:
    """An organization as v2 answers it: standard fields, an `address` object, custom fields by hash key."""
    return {
        "id": org_id, "name": name, "owner_id": owner_id, "add_time": SEED_TIME, "update_time": SEED_TIME,
        "is_deleted": False, "visible_to": 3, "label_ids": [],
        "address": {"value": f"{region or ''} office", "country": "Spain", "admin_area_level_1": region},
        "custom_fields": {ORG_KEYS["industry"]: industry, ORG_KEYS["employees"]: employees,
                          ORG_KEYS["region"]: region},
    }  # fmt: skip


def person(person_id: int, name: str, org_id: int | None, region: str | None, owner_id: int = 1) -> dict[str, Any]:
    """A person as v2 answers it (emails and phones are lists of {value, primary, label})."""
    first, _, last = name.partition(" ")
    return {
        "id": person_id, "name": name, "first_name": first, "last_name": last, "owner_id": owner_id,
        "org_id": org_id, "add_time": SEED_TIME, "update_time": SEED_TIME, "is_deleted": False, "visible_to": 3,
        "emails": [{"value": f"{first.lower()}@example.com", "primary": True, "label": "work"}], "phones": [],
        "label_ids": [], "custom_fields": {PERSON_KEYS["region"]: region},
    }  # fmt: skip


def organizations() -> dict[int, dict[str, Any]]:
    """The seeded organizations by id."""
    rows = [organization(301, "Acme Wholesale", 61, 250, "North"), organization(302, "Bolt Manufacturing", 62, 40,
            "South"), organization(303, "Cobalt IT", 63, 12, "North")]  # fmt: skip
    return {row["id"]: row for row in rows}


def persons() -> dict[int, dict[str, Any]]:
    """The seeded persons by id."""
    rows = [person(401, "Dana Buyer", 301, "North"), person(402, "Eli Shopper", None, "South")]
    return {row["id"]: row for row in rows}


def organization_fields() -> list[dict[str, Any]]:
    """Standard organization fields plus industry (enum), employees (double) and region (varchar)."""
    industry = [{"id": option_id, "label": label} for option_id, label in ORG_INDUSTRY_OPTIONS.items()]
    return [
        _field("name", "Name", "varchar", custom=False, order=0),
        _field("owner_id", "Owner", "user", custom=False, order=1),
        _field("address", "Address", "address", custom=False, order=2),
        _field(ORG_KEYS["industry"], "Industry", "enum", custom=True, order=10, options=industry),
        _field(ORG_KEYS["employees"], "Employees", "double", custom=True, order=11),
        _field(ORG_KEYS["region"], "Region", "varchar", custom=True, order=12),
    ]


def person_fields() -> list[dict[str, Any]]:
    """Standard person fields plus region (varchar)."""
    return [
        _field("name", "Name", "varchar", custom=False, order=0),
        _field("owner_id", "Owner", "user", custom=False, order=1),
        _field("org_id", "Organization", "org", custom=False, order=2),
        _field(PERSON_KEYS["region"], "Region", "varchar", custom=True, order=10),
    ]


def wanted_ids(value: str | None) -> set[int] | None:
    """The `ids` filter: None when absent; 400 for a non-integer or more than IDS_MAX ids."""
    if not value:
        return None
    parts = [part.strip() for part in value.split(",") if part.strip()]
    if not all(part.isdigit() for part in parts):
        raise errors.invalid("Parameter 'ids' must be a comma-separated list of integers")
    if len(parts) > IDS_MAX:
        raise errors.invalid(f"Parameter 'ids' accepts at most {IDS_MAX} ids")
    return {int(part) for part in parts}


def listed_customers(items: dict[int, dict[str, Any]], ids: str | None) -> list[dict[str, Any]]:
    """The live items (by id) the `ids` filter keeps."""
    wanted = wanted_ids(ids)
    return [item for key, item in sorted(items.items())
            if not item["is_deleted"] and (wanted is None or key in wanted)]
