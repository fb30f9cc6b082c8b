"""Timestamps and property-value checks in HubSpot's formats.

HubSpot v3 returns datetimes as ISO 8601 with milliseconds and `Z`, accepts epoch milliseconds or
ISO strings on write, and stores every property value as a string
(https://developers.hubspot.com/docs/api-reference/crm-properties-v3/guide).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from adapters.sandbox import hubspot_errors as errors


def now_ms() -> int:
    return int(time.time() * 1000)


def iso(ms: int) -> str:
    """Epoch milliseconds -> ``2024-05-01T10:20:30.123Z``."""
    dt = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def parse_time(value: Any) -> int | None:
    """Epoch ms (int or digit string), ISO datetime, or YYYY-MM-DD -> epoch ms; None if unparseable."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return int(value)
    text = str(value).strip()
    if not text:
        return None
    if text.lstrip("-").isdigit():
        return int(text)
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000)


def as_text(value: Any) -> str | None:
    """A JSON value as HubSpot stores it: strings stay, numbers/bools are stringified, null clears."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def as_number(value: str | None) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value)
    except ValueError:
        return None


def check_value(definition: dict[str, Any], raw: Any,
                portal_id: int) -> tuple[str | None, dict[str, Any] | None]:
    """Normalize one value against its property definition.

    Returns (stored value, None) or (None, HubSpot validation result) when the value is invalid.
    Options of `externalOptions` properties (dealstage, pipeline, owner) are checked by the caller.
    """
    name = definition["name"]
    text = as_text(raw)
    if text is None or text == "":
        return None, None
    kind = definition["type"]
    if kind == "number":
        if as_number(text) is None:
            message = f"{text} was not a valid number."
            return None, errors.property_result(name, "INVALID_FLOAT", message, portal_id)
        return text, None
    if kind in ("datetime", "date"):
        ms = parse_time(text)
        if ms is None:
            message = f"{text} was not a valid date. Expected epoch milliseconds or an ISO 8601 date."
            return None, errors.property_result(name, "INVALID_DATE", message, portal_id)
        return iso(ms), None
    if kind == "enumeration" and not definition.get("externalOptions"):
        allowed = [o["value"] for o in definition.get("options", [])]
        parts = text.split(";") if definition.get("fieldType") == "checkbox" else [text]
        bad = [p for p in parts if p not in allowed]
        if bad:
            message = f"{bad[0]} was not one of the allowed options: [{', '.join(allowed)}]"
            return None, errors.property_result(name, "INVALID_OPTION", message, portal_id)
    return text, None
