"""Turning HubSpot's JSON into the adapter DTOs (and our values into HubSpot's formats)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from adapters.base import DealSnapshot, OptionInfo, OwnerInfo, PipelineInfo, PropertyInfo, StageChange, StageInfo

BASE_PROPERTIES = ("dealname", "amount", "dealstage", "pipeline", "hubspot_owner_id", "hs_lastmodifieddate")


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
    at = parse_hubspot_time(entry.get("timestamp"))
    if at is None or entry.get("value") in (None, ""):
        return None
    source_id = entry.get("sourceId") or entry.get("updatedByUserId")
    return StageChange(
        str(entry["value"]), at, str_or_none_of(entry.get("sourceType")), str_or_none_of(source_id)
    )


def snapshot_of(obj: Mapping[str, Any]) -> DealSnapshot:
    props = {str(k): str_or_none_of(v) for k, v in (obj.get("properties") or {}).items()}
    entries = (obj.get("propertiesWithHistory") or {}).get("dealstage") or []
    history = [change for change in map(change_of, entries) if change is not None]
    history.sort(key=lambda change: change.at, reverse=True)  # HubSpot's order is not documented
    modified = parse_hubspot_time(props.get("hs_lastmodifieddate") or obj.get("updatedAt"))
    get = props.get
    head = (
        get("pipeline"),
        get("dealstage"),
        get("hubspot_owner_id") or None,
        get("amount"),
        get("dealname"),
    )
    return DealSnapshot.trusted(str(obj["id"]), *head, modified, props, tuple(history))


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
    names = (raw.get("email"), raw.get("firstName"), raw.get("lastName"), raw.get("userId"))
    email, first, last, user_id = map(str_or_none_of, names)
    return OwnerInfo(str(raw["id"]), email, first, last, user_id)
