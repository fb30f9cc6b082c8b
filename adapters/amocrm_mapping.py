"""Turning amoCRM / Kommo API v4 JSON into the adapter DTOs, and our values into amoCRM's.

Lead shape: https://www.amocrm.ru/developers/content/crm_platform/leads-api (v4 HAL JSON).
DealSnapshot.properties holds the standard lead fields under their v4 names (STANDARD_FIELDS,
as strings; unix timestamps stay unix-second strings) and every custom field under
``str(field_id)``. Enum fields (select, radiobutton, multiselect, category) store the enum id
(``"139517"``; multiselect: ids joined by ``","``) and the enum text under ``f"{field_id}:text"``
so a gate can be written against either. Checkboxes are ``"true"``/``"false"``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx

from adapters.amounts import plain_amount
from adapters.base import CustomerSnapshot, DealSnapshot, OptionInfo, OwnerInfo, PipelineInfo, PropertyInfo, StageInfo
from adapters.errors import CRMAuthError, CRMError, CRMRateLimited
from adapters.http import classify_response

WON_STATUS, LOST_STATUS = 142, 143  # amoCRM's system statuses, shared by every pipeline
_CLOSED_TEXT = frozenset({str(WON_STATUS), str(LOST_STATUS)})
STANDARD_FIELDS = (
    "name", "price", "status_id", "pipeline_id", "responsible_user_id", "loss_reason_id",
    "created_by", "updated_by", "created_at", "updated_at", "closed_at",
)  # fmt: skip
INT_FIELDS = frozenset({"price", "status_id", "pipeline_id", "responsible_user_id", "loss_reason_id"})
ENUM_TYPES = frozenset({"select", "radiobutton", "multiselect", "category"})
_TYPES = {
    "text": "string", "textarea": "string", "url": "string", "streetaddress": "string",
    "numeric": "number", "price": "number", "monetary": "number",
    "checkbox": "bool", "date": "date", "date_time": "datetime", "birthday": "date",
    "select": "enumeration", "radiobutton": "enumeration", "multiselect": "enumeration", "category": "enumeration",
}  # fmt: skip
_STANDARD_INFO = (
    PropertyInfo("name", "Lead name", "string", "text"),
    PropertyInfo("price", "Sale", "number", "numeric"),
    PropertyInfo("status_id", "Status", "enumeration", "status"),
    PropertyInfo("pipeline_id", "Pipeline", "enumeration", "pipeline"),
    PropertyInfo("responsible_user_id", "Responsible user", "string", "user"),
    PropertyInfo("loss_reason_id", "Loss reason", "string", "loss_reason"),
)


def str_or_none(value: object) -> str | None:
    """None stays None, booleans become "true"/"false", everything else str()."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def unix_time(value: object) -> datetime | None:
    """A UTC datetime from unix seconds (int or digit string); None for empty or bad values."""
    try:
        return None if value in (None, "", 0) else datetime.fromtimestamp(int(str(value)), tz=UTC)
    except (ValueError, OverflowError, OSError):
        return None


def unix_of(when: datetime) -> int:
    """Unix seconds of a datetime (naive means UTC)."""
    return int((when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp())


def custom_values(fields: Sequence[Mapping[str, Any]] | None) -> dict[str, str | None]:
    """Flatten `custom_fields_values` into {field_id: value, field_id:text: enum text} (module doc)."""
    out: dict[str, str | None] = {}
    for field in fields or []:
        if field.get("field_id") is None:
            continue
        key, values = str(field["field_id"]), field.get("values") or []
        enum_ids = [str(v["enum_id"]) for v in values if v.get("enum_id") is not None]
        if enum_ids:
            out[key] = ",".join(enum_ids)
            out[f"{key}:text"] = ",".join(str(v.get("value")) for v in values if v.get("enum_id") is not None)
        else:
            out[key] = ",".join(s for s in (str_or_none(v.get("value")) for v in values) if s is not None) or None
    return out


def snapshot_of(lead: Mapping[str, Any], requested: Sequence[str] = (), currency: str | None = None) -> DealSnapshot:
    """A DealSnapshot of a v4 lead; requested names the lead lacks are present with None. A lead's price is in
    the account's `currency` (GET /api/v4/account); closed_at only counts in the won (142) or lost (143) status."""
    props: dict[str, str | None] = dict.fromkeys(requested)
    props.update({name: str_or_none(lead.get(name)) for name in STANDARD_FIELDS})
    props.update(custom_values(lead.get("custom_fields_values")))
    get = props.get
    closed, modifier = get("status_id") in _CLOSED_TEXT, get("updated_by")
    return DealSnapshot.trusted(
        id=str(lead["id"]), pipeline_id=get("pipeline_id"), stage_id=get("status_id"),
        owner_id=get("responsible_user_id") or None, amount=plain_amount(lead.get("price")), name=get("name"),
        modified_at=unix_time(lead.get("updated_at")), properties=props, stage_history=(), currency=currency,
        created_at=unix_time(lead.get("created_at")), closed_at=unix_time(lead.get("closed_at")) if closed else None,
        modified_by=modifier if modifier not in (None, "", "0") else None,  # 0 names no user
        company_id=embedded_id(lead, "companies"), contact_id=embedded_id(lead, "contacts"),
    )  # fmt: skip


def embedded_id(obj: Mapping[str, Any], key: str) -> str | None:
    """The first company, or the main (`is_main`, else first) contact, in an object's `_embedded` (contacts are
    embedded with `with=contacts`; companies always are)."""
    items = [item for item in (obj.get("_embedded") or {}).get(key) or [] if item.get("id") is not None]
    main = [item for item in items if item.get("is_main")]
    chosen = (main or items)[:1]
    return str(chosen[0]["id"]) if chosen else None


def customer_of(raw: Mapping[str, Any], kind: str) -> CustomerSnapshot:
    """A CustomerSnapshot of a v4 company or contact: `name` plus its custom field values keyed by field id."""
    props: dict[str, str | None] = {"name": str_or_none(raw.get("name"))}
    props.update(custom_values(raw.get("custom_fields_values")))
    return CustomerSnapshot(kind, str(raw["id"]), props["name"] or None, props)


def stage_of(raw: Mapping[str, Any]) -> StageInfo:
    """StageInfo of a status; 142 (won) and 143 (lost) are closed."""
    status_id = int(raw["id"])
    won, lost = status_id == WON_STATUS, status_id == LOST_STATUS
    probability = 1.0 if won else (0.0 if lost else None)
    label, order = str(raw.get("name") or status_id), int(raw.get("sort") or 0)
    return StageInfo(str(status_id), label, order, won or lost, won, probability)


def pipeline_of(raw: Mapping[str, Any]) -> PipelineInfo:
    """PipelineInfo with the embedded statuses in `sort` order."""
    statuses = (raw.get("_embedded") or {}).get("statuses") or []
    stages = tuple(sorted((stage_of(s) for s in statuses), key=lambda s: s.order))
    return PipelineInfo(str(raw["id"]), str(raw.get("name") or raw["id"]), int(raw.get("sort") or 0), stages)


def property_of(raw: Mapping[str, Any]) -> PropertyInfo:
    """PropertyInfo of a custom field: name is the field id, options are (enum id, enum text)."""
    enums = sorted(raw.get("enums") or [], key=lambda e: int(e.get("sort") or 0))
    options = tuple(OptionInfo(str(e["id"]), str(e.get("value"))) for e in enums)
    amo_type = str(raw.get("type"))
    return PropertyInfo(str(raw["id"]), str(raw.get("name") or raw["id"]), _TYPES.get(amo_type, "string"),
                        amo_type, options)  # fmt: skip


def standard_properties() -> tuple[PropertyInfo, ...]:
    """The standard lead fields the adapter reads and writes."""
    return _STANDARD_INFO


def owner_of(raw: Mapping[str, Any]) -> OwnerInfo:
    """OwnerInfo of a user; amoCRM has one `name`, kept as first_name, one id (leads' responsible_user_id and
    webhooks' modified_user_id alike), and `rights.is_active` false for a deactivated user."""
    rights = raw.get("rights")
    active = not isinstance(rights, Mapping) or rights.get("is_active") is not False
    return OwnerInfo(str(raw["id"]), str_or_none(raw.get("email")), str_or_none(raw.get("name")) or None, None,
                     str(raw["id"]), active)  # fmt: skip


def requirements_of(fields: Sequence[Mapping[str, Any]]) -> dict[str, tuple[str, ...]]:
    """status id -> custom field ids required to enter it, from `required_statuses`.

    Status ids are unique per account except 142/143, which every pipeline shares: their lists
    are the union over pipelines.
    """
    required: dict[str, list[str]] = {}
    for field in fields:
        for rule in field.get("required_statuses") or []:
            if rule.get("status_id") is None:
                continue
            names = required.setdefault(str(rule["status_id"]), [])
            if str(field["id"]) not in names:
                names.append(str(field["id"]))
    return {status: tuple(names) for status, names in required.items()}


def lead_body(properties: Mapping[str, str], field_types: Mapping[str, str]) -> dict[str, Any]:
    """A PATCH body: standard fields as ints where amoCRM wants them, custom fields by id.

    Enum-typed custom fields take enum ids (multiselect: comma-separated); checkboxes "true"/"false";
    an empty string clears a custom field. Raises ValueError for a non-numeric id or unknown key.
    """
    body: dict[str, Any] = {}
    custom: list[dict[str, Any]] = []
    for key, value in properties.items():
        if key in INT_FIELDS:
            body[key] = int(value) if value not in ("", None) else None
        elif key == "name":
            body[key] = value
        elif key.isdigit():
            custom.append({"field_id": int(key), "values": _values_of(value, field_types.get(key, "text"))})
        else:
            raise ValueError(f"amoCRM lead has no writable field {key!r}")
    if custom:
        body["custom_fields_values"] = custom
    return body


def _values_of(value: str, amo_type: str) -> list[dict[str, Any]] | None:
    if value == "":
        return None
    if amo_type in ENUM_TYPES:
        return [{"enum_id": int(part)} for part in value.split(",") if part.strip()]
    if amo_type == "checkbox":
        return [{"value": value.strip().lower() in ("true", "1", "yes")}]
    return [{"value": value}]


def classify_amocrm(response: httpx.Response) -> CRMError | None:
    """adapters.http.classify_response plus amoCRM's problem+json message and its quirks.

    Error bodies look like {"title", "type", "status", "detail"} (+ "validation-errors", "hint");
    402 (account not paid) is an auth failure: retrying will not help. A 429 without
    Retry-After waits a second (the limit is per second).
    """
    error = classify_response(response)
    if error is None:
        return None
    if error.vendor_message is None:
        message = _problem_message(response)
        if message:
            error.vendor_message = message
            error.message = f"{error.message}: {message}"
            error.args = (error.message,)
    if response.status_code == 402:
        return CRMAuthError(error.message, status=402, vendor_message=error.vendor_message,
                            request_id=error.request_id, body=error.body)  # fmt: skip
    if isinstance(error, CRMRateLimited) and error.retry_after is None:
        error.retry_after = 1.0
    return error


def _problem_message(response: httpx.Response) -> str | None:
    try:
        payload = response.json()
    except ValueError:
        return None
    if not isinstance(payload, dict):
        return None
    parts = [str(payload[k]) for k in ("title", "detail", "hint") if payload.get(k)]
    for entry in payload.get("validation-errors") or []:
        for item in (entry or {}).get("errors") or []:
            parts.append(f"{item.get('path')}: {item.get('detail')}")
    return "; ".join(dict.fromkeys(parts)) or None
