"""Turning HubSpot's JSON into the adapter DTOs (and our values into HubSpot's formats)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from adapters.amounts import plain_amount
from adapters.base import (
    CustomerSnapshot,
    DealSnapshot,
    OptionInfo,
    OwnerInfo,
    PipelineInfo,
    PropertyInfo,
    StageChange,
    StageInfo,
)

# Read with every deal: the head of the snapshot, its currency and dates, whether it is closed (closedate is the
# expected close date until then) and the user who last changed it.
BASE_PROPERTIES = ("dealname", "amount", "dealstage", "pipeline", "hubspot_owner_id", "hs_lastmodifieddate",
                   "createdate", "closedate", "hs_is_closed", "deal_currency_code", "hs_updated_by_user_id")
# HubSpot's changeSource (webhooks) and sourceType (property history) values by who made the change
# (https://developers.hubspot.com/docs/api/webhooks; the source enum of the CRM OpenAPI specs). Others: unknown.
SOURCE_KINDS = {
    "CRM_UI": "ui", "CRM_UI_BULK_ACTION": "ui", "MOBILE_IOS": "ui", "MOBILE_ANDROID": "ui", "SALES": "ui",
    "EXTENSION": "ui", "SIDEKICK": "ui",
    "API": "api", "CRM": "api",
    "INTEGRATION": "integration", "INTEGRATIONS_PLATFORM": "integration", "INTEGRATIONS_SYNC": "integration",
    "SALESFORCE": "integration", "MARKETPLACE": "integration",
    "AUTOMATION_PLATFORM": "automation", "WORKFLOWS": "automation", "AUTOMATION": "automation",
    "SEQUENCES": "automation", "BOT": "automation",
    "IMPORT": "import", "MIGRATION": "import",
}  # fmt: skip
_USER_ACTOR = "userId:"


def change_source_kind(change_source: str | None) -> str:
    """Normalize HubSpot's changeSource / sourceType into adapters.changes.SOURCES."""
    return SOURCE_KINDS.get(change_source or "", "unknown")


def hubspot_user_of(actor: str | None) -> str | None:
    """The user id in an actor HubSpot names as "userId:45678" (a person); None for an app ("1160452"), a
    workflow, an import or anything else."""
    if actor is None or not actor.startswith(_USER_ACTOR):
        return None
    user = actor[len(_USER_ACTOR):]
    return user if user.isascii() and user.isdigit() and len(user) <= 20 else None


def parse_hubspot_time(value: object) -> datetime | None:
    """A UTC datetime from an ISO 8601 string (any precision, Z or offset) or epoch ms; else None."""
    if value is None or value == "":
        return None
    text = str(value).strip()
    try:
        if text.lstrip("-").isdigit():
            return datetime.fromtimestamp(int(text) / 1000.0, tz=UTC)
        parsed = datetime.fromisoformat(text)
    except (ValueError, OverflowError, OSError):
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def iso_ms_of(when: datetime) -> str:
    aware = when if when.tzinfo else when.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def props_of(names: Sequence[str]) -> list[str]:
    return list(dict.fromkeys([*BASE_PROPERTIES, *names]))


def str_or_none_of(value: object) -> str | None:
    return None if value is None else str(value)


def float_or_none_of(value: object) -> float | None:
    try:
        return None if value in (None, "") else float(str(value))
    except ValueError:
        return None


def change_of(entry: Mapping[str, Any]) -> StageChange | None:
    """A dealstage history entry; its actor is sourceId, or "userId:<updatedByUserId>" when only that is given."""
    at = parse_hubspot_time(entry.get("timestamp"))
    if at is None or entry.get("value") in (None, ""):
        return None
    source_type = str_or_none_of(entry.get("sourceType"))
    source_id = str_or_none_of(entry.get("sourceId"))
    if not source_id and entry.get("updatedByUserId") not in (None, ""):
        source_id = f"{_USER_ACTOR}{entry['updatedByUserId']}"
    return StageChange(str(entry["value"]), at, source_type, source_id, change_source_kind(source_type))


# The v3 read answers a primary association as `deal_to_company` and every association again as
# `deal_to_company_unlabeled`; the v4 read gives the primary one typeId 5 / label "Primary".
PRIMARY_TYPES = frozenset({"deal_to_company", "deal_to_contact"})
PRIMARY_TYPE_IDS = frozenset({5})


def v3_associated(obj: Mapping[str, Any], to_type: str) -> str | None:
    """The primary (else first) object of `to_type` in a v3 object's `associations` (`?associations=...`)."""
    results = ((obj.get("associations") or {}).get(to_type) or {}).get("results") or []
    primary = [r for r in results if r.get("type") in PRIMARY_TYPES]
    chosen = (primary or results)[:1]
    return str(chosen[0]["id"]) if chosen and chosen[0].get("id") is not None else None


def v4_associated(result: Mapping[str, Any]) -> str | None:
    """The primary (else first) target of one result of POST /crm/v4/associations/{from}/{to}/batch/read."""
    targets = [t for t in result.get("to") or [] if t.get("toObjectId") is not None]
    primary = [t for t in targets if any(a.get("typeId") in PRIMARY_TYPE_IDS or a.get("label") == "Primary"
                                         for a in t.get("associationTypes") or [])]
    chosen = (primary or targets)[:1]
    return str(chosen[0]["toObjectId"]) if chosen else None


def customer_of(obj: Mapping[str, Any], kind: str) -> CustomerSnapshot:
    """A CustomerSnapshot of a v3 company (`name`) or contact (first and last name, else the email)."""
    props = {str(k): str_or_none_of(v) for k, v in (obj.get("properties") or {}).items()}
    if kind == "company":
        name = props.get("name")
    else:
        name = " ".join(p for p in (props.get("firstname"), props.get("lastname")) if p) or props.get("email")
    return CustomerSnapshot(kind, str(obj["id"]), name or None, props)


def snapshot_of(obj: Mapping[str, Any], company_currency: str | None = None) -> DealSnapshot:
    """A DealSnapshot of a v3 deal; `company_currency` is the currency of deals whose deal_currency_code is
    empty (HubSpot's company currency, which such deals are in). Its company and contact come from the
    deal's `associations` when it was read with them."""
    props = {str(k): str_or_none_of(v) for k, v in (obj.get("properties") or {}).items()}
    entries = (obj.get("propertiesWithHistory") or {}).get("dealstage") or []
    history = [change for change in map(change_of, entries) if change is not None]
    history.sort(key=lambda change: change.at, reverse=True)  # HubSpot's order is not documented
    get = props.get
    modified = parse_hubspot_time(get("hs_lastmodifieddate") or obj.get("updatedAt"))
    created = parse_hubspot_time(get("createdate") or obj.get("createdAt"))
    closed = parse_hubspot_time(get("closedate")) if get("hs_is_closed") == "true" else None
    return DealSnapshot.trusted(
        str(obj["id"]), get("pipeline"), get("dealstage"), get("hubspot_owner_id") or None, plain_amount(get("amount")),
        get("dealname"), modified, props, tuple(history), get("deal_currency_code") or company_currency, created,
        closed, get("hs_updated_by_user_id") or None, v3_associated(obj, "companies"), v3_associated(obj, "contacts"),
    )  # fmt: skip


def needs_company_currency(obj: Mapping[str, Any]) -> bool:
    """Whether a v3 deal is in the company currency (its deal_currency_code is empty)."""
    return not (obj.get("properties") or {}).get("deal_currency_code")


def stage_of(raw: Mapping[str, Any]) -> StageInfo:
    meta = raw.get("metadata") or {}
    closed = str(meta.get("isClosed")).strip().lower() == "true"  # metadata values are strings
    probability = float_or_none_of(meta.get("probability"))
    label, order = str(raw.get("label") or raw["id"]), int(raw.get("displayOrder") or 0)
    return StageInfo(str(raw["id"]), label, order, closed, closed and probability == 1.0, probability)


def pipeline_of(raw: Mapping[str, Any]) -> PipelineInfo:
    stages = tuple(sorted((stage_of(s) for s in raw.get("stages") or []), key=lambda s: s.order))
    return PipelineInfo(
        str(raw["id"]), str(raw.get("label") or raw["id"]), int(raw.get("displayOrder") or 0), stages
    )


def property_of(raw: Mapping[str, Any]) -> PropertyInfo:
    options = tuple(
        OptionInfo(str(o.get("value")), str(o.get("label") or o.get("value")))
        for o in raw.get("options") or []
    )
    name = str(raw["name"])
    label, kind, field_type = str(raw.get("label") or name), str(raw.get("type")), str(raw.get("fieldType"))
    return PropertyInfo(name, label, kind, field_type, options)


def owner_of(raw: Mapping[str, Any]) -> OwnerInfo:
    """An owner of GET /crm/v3/owners, archived or not. The owner id differs from the user id; an archived
    (deactivated) owner's userId may be null, and userIdIncludingInactive keeps it."""
    user = raw.get("userId") if raw.get("userId") is not None else raw.get("userIdIncludingInactive")
    names = (raw.get("email"), raw.get("firstName"), raw.get("lastName"), user)
    email, first, last, user_id = map(str_or_none_of, names)
    return OwnerInfo(str(raw["id"]), email, first or None, last or None, user_id, not raw.get("archived"))
