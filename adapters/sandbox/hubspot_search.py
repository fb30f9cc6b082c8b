"""`POST /crm/v3/objects/{type}/search` semantics.

Per https://developers.hubspot.com/docs/api-reference/search/guide: filters inside a group are
ANDed, groups are ORed (at most 5 groups, 6 filters per group, 18 in all); `limit` at most 200;
`after` is an offset cursor and paging past 10,000 results is a 400; date properties compare as
epoch milliseconds (ISO strings accepted here too). Response: {total, results, paging.next.after}.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from typing import Any

from adapters.sandbox import hubspot_errors as errors
from adapters.sandbox.hubspot_state import CrmObject, Portal
from adapters.sandbox.hubspot_values import as_number, parse_time
from adapters.sandbox.hubspot_views import public

MAX_LIMIT = 200
MAX_RESULTS = 10_000
QUERY_PROPS = {"deals": ["dealname", "description"], "tasks": ["hs_task_subject", "hs_task_body"],
               "notes": ["hs_note_body"]}
OPERATORS = frozenset({"EQ", "NEQ", "LT", "LTE", "GT", "GTE", "BETWEEN", "IN", "NOT_IN", "HAS_PROPERTY",
                       "NOT_HAS_PROPERTY", "CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"})


def search(portal: Portal, object_type: str, body: Any) -> dict[str, Any]:
    """Run one search request; raises HubSpotApiError (400) for invalid requests."""
    if not isinstance(body, dict):
        raise errors.validation("Invalid input JSON: expected an object")
    limit, offset = _paging(body)
    groups = body.get("filterGroups") or []
    _check_groups(portal, object_type, groups)
    matched = [o for o in portal.live(object_type)
               if _matches_query(o, body.get("query"), object_type) and _matches_groups(portal, o, groups)]
    for sort in reversed(body.get("sorts") or []):
        name, descending = _sort_spec(sort)
        kind = portal.properties[object_type].get(name, {}).get("type", "string")
        present = [o for o in matched if o.properties.get(name) not in (None, "")]
        missing = [o for o in matched if o.properties.get(name) in (None, "")]
        present.sort(key=_sort_key(name, kind), reverse=descending)
        matched = present + missing
    chunk = matched[offset:offset + limit]
    properties = body.get("properties") or None
    result: dict[str, Any] = {
        "total": len(matched),
        "results": [public(portal, o, properties=properties) for o in chunk],
    }
    if offset + limit < len(matched):
        result["paging"] = {"next": {"after": str(offset + limit)}}
    return result


def _paging(body: dict[str, Any]) -> tuple[int, int]:
    try:
        limit = int(body.get("limit") or 10)
        offset = int(body.get("after") or 0)
    except (TypeError, ValueError) as exc:
        raise errors.validation(f"Invalid paging parameters: {exc}") from exc
    if limit < 1 or limit > MAX_LIMIT:
        raise errors.validation(f"limit must be between 1 and {MAX_LIMIT}, got {limit}")
    if offset >= MAX_RESULTS:
        raise errors.validation(f"Search results are limited to {MAX_RESULTS} records; after={offset} "
                                "pages past that limit. Narrow the filters instead.")
    return limit, offset


def _check_groups(portal: Portal, object_type: str, groups: Any) -> None:
    if not isinstance(groups, list) or len(groups) > 5:
        raise errors.validation("filterGroups must be a list of at most 5 groups")
    total = 0
    for group in groups:
        filters = group.get("filters") if isinstance(group, dict) else None
        if not isinstance(filters, list) or len(filters) > 6:
            raise errors.validation("each filter group needs a list of at most 6 filters")
        total += len(filters)
        for item in filters:
            if not isinstance(item, dict) or item.get("operator") not in OPERATORS:
                raise errors.validation(f"Invalid filter: {item!r}")
            if item.get("propertyName") not in portal.properties[object_type]:
                name = item.get("propertyName")
                raise errors.validation(f"Property {name!r} does not exist on {object_type}")
    if total > 18:
        raise errors.validation("A search request may contain at most 18 filters")


def _sort_key(name: str, kind: str) -> Callable[[CrmObject], Any]:
    return lambda obj: _comparable(obj.properties.get(name), kind)


def _sort_spec(sort: Any) -> tuple[str, bool]:
    if isinstance(sort, str):
        return sort.lstrip("-"), sort.startswith("-")
    if isinstance(sort, dict) and sort.get("propertyName"):
        return str(sort["propertyName"]), str(sort.get("direction", "ASCENDING")).upper() == "DESCENDING"
    raise errors.validation(f"Invalid sort: {sort!r}")


def _matches_query(obj: CrmObject, query: Any, object_type: str) -> bool:
    if not query:
        return True
    needle = str(query).lower()
    return any(needle in (obj.properties.get(n) or "").lower() for n in QUERY_PROPS[object_type])


def _matches_groups(portal: Portal, obj: CrmObject, groups: list[dict[str, Any]]) -> bool:
    if not groups:
        return True
    definitions = portal.properties[obj.object_type]
    return any(all(_matches(obj, f, definitions[f["propertyName"]]) for f in g["filters"]) for g in groups)


def _comparable(value: Any, kind: str) -> Any:
    if kind == "number":
        number = as_number(None if value is None else str(value))
        return number if number is not None else float("nan")
    if kind in ("datetime", "date"):
        ms = parse_time(value)
        return ms if ms is not None else 0
    return str(value).lower()


def _matches(obj: CrmObject, item: dict[str, Any], definition: dict[str, Any]) -> bool:
    op = item["operator"]
    raw = obj.properties.get(item["propertyName"])
    has = raw not in (None, "")
    if op == "HAS_PROPERTY":
        return has
    if op == "NOT_HAS_PROPERTY":
        return not has
    kind = definition["type"]
    if op in ("IN", "NOT_IN"):
        wanted = {str(_comparable(v, kind)) for v in item.get("values") or []}
        inside = has and str(_comparable(raw, kind)) in wanted
        return inside if op == "IN" else not inside
    if op in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
        pattern = str(item.get("value", "")).lower()
        tokens = (raw or "").lower().replace(";", " ").split()
        found = any(fnmatch.fnmatchcase(t, pattern) for t in [*tokens, (raw or "").lower()])
        return found if op == "CONTAINS_TOKEN" else not found
    if definition.get("fieldType") == "checkbox" and op in ("EQ", "NEQ"):
        inside = str(item.get("value", "")).lower() in (raw or "").lower().split(";")
        return inside if op == "EQ" else not inside
    if not has:
        return op == "NEQ"
    left, right = _comparable(raw, kind), _comparable(item.get("value"), kind)
    if op == "BETWEEN":
        return bool(right <= left <= _comparable(item.get("highValue"), kind))
    return bool({
        "EQ": left == right, "NEQ": left != right, "LT": left < right, "LTE": left <= right,
        "GT": left > right, "GTE": left >= right,
    }[op])
