"""Turning Pipedrive API v2 JSON into the adapter DTOs (and our string values into v2 write formats).

v2 shapes: https://pipedrive.readme.io/docs/pipedrive-api-v2-migration-guide (custom fields moved to a
`custom_fields` object keyed by 40-character hashes, RFC 3339 timestamps, strict numeric input) and
https://pipedrive.readme.io/docs/core-api-concepts-custom-fields. Custom field values read as: text -> string,
number -> number, enum -> option id, set -> list of option ids, monetary -> {"value", "currency"}.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from adapters.amounts import plain_amount
from adapters.base import CustomerSnapshot, DealSnapshot, OptionInfo, OwnerInfo, PipelineInfo, PropertyInfo, StageInfo
from adapters.pipedrive_status import PIPELINE_STAGE_SEPARATOR, is_virtual, stage_of, virtual_stages

HASH_KEY = re.compile(r"^[0-9a-f]{40}$")
STANDARD_FIELDS = (
    "title", "value", "currency", "status", "stage_id", "pipeline_id", "owner_id", "person_id", "org_id",
    "expected_close_date", "probability", "lost_reason", "add_time", "update_time", "stage_change_time",
    "won_time", "lost_time", "close_time", "is_deleted",
)  # fmt: skip
INT_FIELDS = frozenset({"stage_id", "pipeline_id", "owner_id", "person_id", "org_id"})
NUMBER_FIELDS = frozenset({"value", "probability"})
# Pipedrive field_type -> a HubSpot-like coarse type, so the service can treat every CRM alike.
COARSE_TYPES = {
    "double": "number", "monetary": "number", "int": "number", "enum": "enumeration", "set": "enumeration",
    "status": "enumeration", "stage": "enumeration", "date": "date", "daterange": "date", "time": "datetime",
    "timerange": "datetime", "boolean": "bool",
}  # fmt: skip


def is_custom_key(name: str) -> bool:
    """Whether `name` is a Pipedrive custom field key (a 40-character lowercase hex hash)."""
    return bool(HASH_KEY.match(name))


def parse_pipedrive_time(value: object) -> datetime | None:
    """A UTC datetime from RFC 3339, "YYYY-MM-DD HH:MM:SS" (v1, UTC), epoch seconds or ms; else None."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    text = str(value).strip()
    try:
        if text.replace(".", "", 1).isdigit():
            number = float(text)
            return datetime.fromtimestamp(number / 1000.0 if number > 1e11 else number, tz=UTC)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def rfc3339_of(when: datetime) -> str:
    """RFC 3339 in UTC with seconds precision, truncated down (so `updated_since` never skips a record)."""
    aware = when if when.tzinfo else when.replace(tzinfo=UTC)
    return aware.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def text_of(value: object) -> str | None:
    """A raw API value as the string the service compares: 50000.0 -> "50000", [1, 2] -> "1,2"."""
    kind = type(value)
    if kind is str or value is None:  # the common cases first: this runs for every field of every deal
        return value  # type: ignore[return-value]
    if kind is int:
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, list | tuple):
        return ",".join(t for t in map(text_of, value) if t is not None)
    if isinstance(value, Mapping):
        return text_of(value.get("value", value.get("id")))
    return str(value)


def custom_properties(custom: Mapping[str, Any]) -> dict[str, str | None]:
    """Custom values keyed by hash key; a monetary field adds `<key>_currency` (the v1 subfield name)."""
    props: dict[str, str | None] = {}
    for key, raw in custom.items():
        props[str(key)] = text_of(raw)
        if isinstance(raw, Mapping) and "currency" in raw:
            props[f"{key}_currency"] = text_of(raw.get("currency"))
    return props


def closed_time_of(deal: Mapping[str, Any]) -> datetime | None:
    """When a won or lost deal was closed: close_time, else won_time / lost_time; None while it is open."""
    status = deal.get("status")
    if status not in ("won", "lost"):
        return None
    return parse_pipedrive_time(deal.get("close_time") or deal.get(f"{status}_time"))


def snapshot_of(deal: Mapping[str, Any], requested: Sequence[str] = ()) -> DealSnapshot:
    """A DealSnapshot with standard fields and custom fields (by hash key); history is always (), and
    modified_by None: a deal names no last modifier (webhooks do, in meta.user_id). A won or lost deal stands
    in the virtual stage `won`/`lost` (adapters.pipedrive_status); its real stage stays in properties."""
    props: dict[str, str | None] = {name: None for name in requested}
    props.update({name: text_of(deal.get(name)) for name in STANDARD_FIELDS if name in deal})
    props.update(custom_properties(deal.get("custom_fields") or {}))
    get = props.get
    stage = stage_of(deal.get("status"), get("stage_id"))  # won/lost: the virtual stage; props keep stage_id
    return DealSnapshot.trusted(
        str(deal["id"]), get("pipeline_id"), stage, get("owner_id"), plain_amount(deal.get("value")),
        get("title"), parse_pipedrive_time(deal.get("update_time")), props, (), get("currency") or None,
        parse_pipedrive_time(deal.get("add_time")), closed_time_of(deal), None, get("org_id") or None,
        get("person_id") or None,
    )  # fmt: skip


# v2 organization / person fields that are not a property to map (ids, flags, lists of emails and phones).
CUSTOMER_SKIPPED = frozenset({"id", "custom_fields", "emails", "phones", "im", "label_ids", "postal_address"})


def customer_of(raw: Mapping[str, Any], kind: str) -> CustomerSnapshot:
    """A CustomerSnapshot of a v2 organization (`kind` company) or person (contact): its scalar standard fields,
    an object field's parts as `<field>_<part>` (v1's subfield names: address_admin_area_level_1, ...), and its
    custom fields by hash key."""
    props: dict[str, str | None] = {}
    for name, value in raw.items():
        if name in CUSTOMER_SKIPPED or isinstance(value, list):
            continue
        if isinstance(value, Mapping):
            props.update({f"{name}_{part}": text_of(inner) for part, inner in value.items()
                          if not isinstance(inner, Mapping | list)})
            props[name] = text_of(value.get("value"))
        else:
            props[name] = text_of(value)
    props.update(custom_properties(raw.get("custom_fields") or {}))
    return CustomerSnapshot(kind, str(raw["id"]), props.get("name") or None, props)


def pipelines_of(pipelines: Iterable[Mapping[str, Any]], stages: Iterable[Mapping[str, Any]]) -> list[PipelineInfo]:
    """Pipelines with their stages, both ordered by order_nr; deleted ones are left out.

    Pipedrive stages are never "closed": won and lost are deal statuses (`status`), so every real stage is
    open, and each pipeline ends with the virtual stages `won` and `lost` (adapters.pipedrive_status).
    """
    by_pipeline: dict[str, list[StageInfo]] = {}
    for raw in stages:
        if raw.get("is_deleted"):
            continue
        probability = raw.get("deal_probability")
        stage = StageInfo(
            str(raw["id"]), str(raw.get("name") or raw["id"]), int(raw.get("order_nr") or 0), False, False,
            None if probability is None else float(probability),
        )  # fmt: skip
        by_pipeline.setdefault(str(raw.get("pipeline_id")), []).append(stage)
    result = []
    for p in pipelines:
        if p.get("is_deleted"):
            continue
        real = sorted(by_pipeline.get(str(p["id"]), []), key=lambda s: (s.order, int(s.id)))
        last = max((s.order for s in real), default=0)
        result.append(PipelineInfo(str(p["id"]), str(p.get("name") or p["id"]), int(p.get("order_nr") or 0),
                                   (*real, *virtual_stages(last))))  # fmt: skip
    return sorted(result, key=lambda p: (p.order, p.id))


def property_of(raw: Mapping[str, Any]) -> PropertyInfo:
    """A PropertyInfo from a v2 dealFields / organizationFields / personFields item (field_code, field_name,
    field_type, options)."""
    options = tuple(OptionInfo(str(o.get("id")), str(o.get("label") or o.get("id"))) for o in raw.get("options") or [])
    field_type = str(raw.get("field_type") or "varchar")
    code = str(raw["field_code"])
    return PropertyInfo(code, str(raw.get("field_name") or code), COARSE_TYPES.get(field_type, "string"), field_type,
                        options)  # fmt: skip


def owner_of(raw: Mapping[str, Any]) -> OwnerInfo:
    """An OwnerInfo from a v1 user; Pipedrive has one `name`, split at the first space, one id (deals' owner_id
    and webhooks' meta.user_id alike), and `active_flag` false for a deactivated user."""
    first, _, last = str(raw.get("name") or "").strip().partition(" ")
    email, user_id = raw.get("email"), str(raw["id"])
    return OwnerInfo(user_id, None if email is None else str(email), first or None, last.strip() or None, user_id,
                     raw.get("active_flag") not in (False, 0, "0", "false"))  # fmt: skip


def requirements_of(fields: Iterable[Mapping[str, Any]], all_stage_ids: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """Stage id -> required field codes from dealFields `required_fields`.

    `{enabled, stage_ids: [], statuses: {}}` means required everywhere (real stages); a requirement on marking
    won/lost (`statuses: {"<pipeline id>": ["won", "lost"]}`) attaches to that pipeline's virtual stage, keyed
    "<pipeline id>:won" since `won` is a stage id of every pipeline.
    """
    wanted: dict[str, list[str]] = {}
    for raw in fields:
        rule = raw.get("required_fields") or {}
        if not isinstance(rule, Mapping) or not rule.get("enabled"):
            continue
        stage_ids = [str(s) for s in rule.get("stage_ids") or []]
        statuses = rule.get("statuses")
        statuses = statuses if isinstance(statuses, Mapping) else {}
        for pipeline_id, marked in statuses.items():
            for status in marked if isinstance(marked, list) else []:
                if is_virtual(status):
                    key = f"{pipeline_id}{PIPELINE_STAGE_SEPARATOR}{status}"
                    wanted.setdefault(key, []).append(str(raw["field_code"]))
        if not stage_ids and statuses:
            continue
        for stage_id in stage_ids or all_stage_ids:
            wanted.setdefault(stage_id, []).append(str(raw["field_code"]))
    return {stage: tuple(dict.fromkeys(codes)) for stage, codes in wanted.items()}


def write_value(field_type: str, text: str) -> Any:
    """Our string value in the JSON type a v2 write expects for a custom field of `field_type`.

    Raises ValueError for a number or option id that does not parse (v2 does not coerce strings).
    """
    if text == "":
        return None
    if field_type in ("double", "monetary"):
        number = float(text)
        return int(number) if number.is_integer() else number
    if field_type in ("enum", "user", "org", "people"):
        return int(text)
    if field_type == "set":
        return [int(part) for part in text.split(",") if part.strip()]
    return text


def update_body(properties: Mapping[str, str], field_types: Mapping[str, str]) -> dict[str, Any]:
    """A PATCH /api/v2/deals/{id} body from string properties; custom keys go under `custom_fields`.

    Raises ValueError for an unknown custom key or a value that does not fit its type.
    """
    body: dict[str, Any] = {}
    custom: dict[str, Any] = {}
    for name, text in properties.items():
        if name.endswith("_currency") and is_custom_key(name[: -len("_currency")]):
            continue
        if is_custom_key(name):
            if name not in field_types:
                raise ValueError(f"unknown Pipedrive deal field {name!r}")
            value = write_value(field_types[name], text)
            if field_types[name] == "monetary" and value is not None:
                value = {"value": value, "currency": properties.get(f"{name}_currency") or "USD"}
            custom[name] = value
        elif name in INT_FIELDS:
            body[name] = int(text) if text != "" else None
        elif name in NUMBER_FIELDS:
            body[name] = write_value("double", text)
        else:
            body[name] = text or None
    if custom:
        body["custom_fields"] = custom
    return body
