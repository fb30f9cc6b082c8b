"""CRM objects rendered in HubSpot's v3 response shapes.

`SimplePublicObjectWithAssociations`: id, properties (requested ones plus hs_object_id and the
create/modify dates; unset values are null), propertiesWithHistory (newest first), createdAt,
updatedAt, archived, and associations keyed by object type with `{"id", "type"}` results —
types without associations are left out, as HubSpot does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from adapters.sandbox.hubspot_state import CREATED_PROP, DEFAULT_PROPS, CrmObject, HistoryEntry, Portal
from adapters.sandbox.hubspot_values import iso


def split_list(values: Iterable[str] | None) -> list[str]:
    """`a,b` and repeated `x=a&x=b` (the SDK's 'multi' format) both mean [a, b]."""
    result: list[str] = []
    for value in values or []:
        result.extend(part.strip() for part in str(value).split(",") if part.strip())
    return result


def history_entry(entry: HistoryEntry) -> dict[str, Any]:
    item: dict[str, Any] = {
        "value": entry.value,
        "timestamp": iso(entry.timestamp_ms),
        "sourceType": entry.actor.source_type,
        "sourceId": entry.actor.source_id,
    }
    if entry.actor.user_id is not None:
        item["updatedByUserId"] = entry.actor.user_id
    return item


def public(portal: Portal, obj: CrmObject, *, properties: list[str] | None = None,
           history: list[str] | None = None, associations: list[str] | None = None) -> dict[str, Any]:
    """Render one object; unknown requested properties are ignored, as the API documents."""
    definitions = portal.properties[obj.object_type]
    names = list(properties) if properties else list(DEFAULT_PROPS[obj.object_type])
    for always in ("hs_object_id", CREATED_PROP[obj.object_type], "hs_lastmodifieddate"):
        if always not in names:
            names.append(always)
    body: dict[str, Any] = {
        "id": obj.id,
        "properties": {n: obj.properties.get(n) for n in names if n in definitions or n in obj.properties},
        "createdAt": iso(obj.created_ms),
        "updatedAt": iso(obj.updated_ms),
        "archived": obj.archived,
    }
    if obj.archived_ms is not None:
        body["archivedAt"] = iso(obj.archived_ms)
    if history:
        body["propertiesWithHistory"] = {n: [history_entry(e) for e in reversed(obj.history.get(n, []))]
                                         for n in history if n in definitions}
    if associations:
        linked = {}
        for to_type in associations:
            found = obj.associations.get(to_type)
            if found:
                linked[to_type] = {"results": [{"id": i, "type": t} for i, t in sorted(found.items())]}
        if linked:
            body["associations"] = linked
    return body


def full(obj: CrmObject) -> dict[str, Any]:
    """Test-helper view: every stored property."""
    return {"id": obj.id, "properties": dict(obj.properties), "createdAt": iso(obj.created_ms),
            "updatedAt": iso(obj.updated_ms), "archived": obj.archived}


def page(items: list[Any], after: str | None, limit: int, link: str,
         key: Callable[[Any], int] | None = None) -> tuple[list[Any], dict[str, Any] | None]:
    """Paging with HubSpot's `paging.next.after` cursor (a string) and `link`.

    With `key`, the cursor is the key (record id) of the next item, so deletes between pages do
    not skip records; without it the cursor is an offset.
    """
    cursor_value = int(after) if after and after.isdigit() else 0
    if key is None:
        start = cursor_value
    else:
        start = next((i for i, item in enumerate(items) if key(item) >= cursor_value), len(items))
    chunk = items[start:start + limit]
    if start + limit >= len(items):
        return chunk, None
    cursor = str(key(items[start + limit]) if key else start + limit)
    sep = "&" if "?" in link else "?"
    return chunk, {"next": {"after": cursor, "link": f"{link}{sep}after={cursor}"}}
