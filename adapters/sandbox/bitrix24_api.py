"""The REST methods the Bitrix24 sandbox answers, with Bitrix24's envelopes and list paging.

Each handler takes (sandbox context, params) and returns the envelope without `time`:
``{"result": ...}`` plus ``next``/``total`` for lists (50 per page; ``start=-1`` skips the count
and `next`, settings/performance/huge-data.md). Filters understand the prefixes ``>=``, ``<=``,
``>``, ``<``, ``!=``/``!``, ``=`` and list values (IN); dates compare as datetimes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from adapters.formdata import parse_php_form
from adapters.sandbox import bitrix24_tasks as tasks
from adapters.sandbox.bitrix24_state import B24Error, Portal, parse_time

PAGE = 50
_OPS = (">=", "<=", "!=", ">", "<", "=", "!")


@dataclass
class Context:
    """What a handler may use: the portal, the calling user, offline queue access."""

    portal: Portal
    user_id: str
    offline: Any  # adapters.sandbox.bitrix24_events.OfflineQueue
    oauth: bool
    quirks: frozenset[str] = frozenset()  # deliberate misbehaviour for client tests ("ignore_id_filter")


Handler = Callable[[Context, dict[str, Any]], dict[str, Any]]


def _compare(actual: Any, op: str, wanted: Any) -> bool:
    if isinstance(wanted, list) and op in ("=", ""):
        return any(_compare(actual, "=", w) for w in wanted)
    if actual is None:
        return op in ("!", "!=") and wanted not in (None, "")
    left: Any
    right: Any
    left_time, right_time = parse_time(actual), parse_time(wanted)
    if left_time is not None and right_time is not None and not str(wanted).lstrip("-").isdigit():
        left, right = left_time, right_time
    else:
        try:
            left, right = float(str(actual)), float(str(wanted))
        except ValueError:
            left, right = str(actual), str(wanted)
    return {
        ">=": left >= right, "<=": left <= right, ">": left > right, "<": left < right,
        "!=": left != right, "!": left != right, "=": left == right, "": left == right,
    }[op]  # fmt: skip


def matches(record: Mapping[str, Any], flt: Any) -> bool:
    """Whether a record passes a Bitrix24 filter object (case-insensitive field names)."""
    if not isinstance(flt, dict):
        return True
    upper = {str(k).upper(): v for k, v in record.items()}
    for key, wanted in flt.items():
        op = next((o for o in _OPS if str(key).startswith(o)), "")
        field = str(key)[len(op) :].upper()
        if not _compare(upper.get(field), op, wanted):
            return False
    return True


def ordered(records: list[dict[str, Any]], order: Any) -> list[dict[str, Any]]:
    """Records sorted by an order object {FIELD: ASC|DESC} (numeric where the values are)."""
    out = list(records)
    for field, direction in reversed(list(order.items()) if isinstance(order, dict) else []):

        def key(r: dict[str, Any], f: str = str(field).upper()) -> tuple[int, float, str]:
            value = {str(k).upper(): v for k, v in r.items()}.get(f)
            text = "" if value is None else str(value)
            return (0, float(text), "") if text.lstrip("-").replace(".", "", 1).isdigit() else (1, 0.0, text)

        out.sort(key=key, reverse=str(direction).upper() == "DESC")
    return out


def page(records: list[Any], params: Mapping[str, Any], wrap: str | None = None) -> dict[str, Any]:
    """One page of 50 from `start`; start=-1 answers the first 50 with neither total nor next."""
    try:
        start = int(str(params.get("start", 0) or 0))
    except ValueError:
        start = 0
    chunk = records[max(start, 0) : max(start, 0) + PAGE]
    body: dict[str, Any] = {"result": {wrap: chunk} if wrap else chunk}
    if start >= 0:
        body["total"] = len(records)
        if start + PAGE < len(records):
            body["next"] = start + PAGE
    return body


def selected(record: dict[str, Any], select: Any) -> dict[str, Any]:
    """The record limited to `select` ("*" = standard fields, "UF_*" = user fields)."""
    names = [str(s) for s in select] if isinstance(select, list) and select else ["*"]
    keep = {
        k for k in record if ("*" in names and not k.startswith("UF_")) or ("UF_*" in names and k.startswith("UF_"))
    }
    keep |= {n for n in names if n in record}
    keep.add("ID")
    return {k: v for k, v in record.items() if k in keep}


def _deal_id(params: Mapping[str, Any]) -> Any:
    value = params.get("id", params.get("ID"))
    if value in (None, ""):
        raise B24Error(400, "", "ID is not defined or invalid.")
    return value


def deal_get(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    return {"result": dict(ctx.portal.deal(_deal_id(p)))}


def deal_list(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    flt = p.get("filter")
    if "ignore_id_filter" in ctx.quirks and isinstance(flt, dict):
        flt = {k: v for k, v in flt.items() if k.upper().lstrip("<>=!") != "ID"}
    records = [d for d in ctx.portal.deals.values() if matches(d, flt)]
    records = ordered(records, p.get("order") or {"ID": "ASC"})
    return page([selected(d, p.get("select")) for d in records], p)


def deal_add(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    return {"result": ctx.portal.create_deal(dict(p.get("fields") or {}), ctx.user_id)}


def deal_update(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    fields = {k: v for k, v in dict(p.get("fields") or {}).items() if k != "CATEGORY_ID"}  # immutable here
    ctx.portal.update_deal(_deal_id(p), fields, ctx.user_id)
    return {"result": True}


def item_update(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    """crm.item.update for deals only: camelCase categoryId/stageId (the way to change a deal's category)."""
    if str(p.get("entityTypeId")) != "2":
        raise B24Error(400, "NOT_FOUND", "Smart process not found")
    fields = dict(p.get("fields") or {})
    renamed = {"CATEGORY_ID": fields.get("categoryId"), "STAGE_ID": fields.get("stageId")}
    ctx.portal.update_deal(_deal_id(p), {k: v for k, v in renamed.items() if v is not None}, ctx.user_id)
    deal = ctx.portal.deal(_deal_id(p))
    return {"result": {"item": {"id": int(deal["ID"]), "categoryId": int(deal["CATEGORY_ID"]),
                                "stageId": deal["STAGE_ID"], "title": deal["TITLE"]}}}  # fmt: skip


def stage_history(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    if str(p.get("entityTypeId")) != "2":
        raise B24Error(400, "ENTITY_TYPE_NOT_SUPPORTED", f"Entity type {p.get('entityTypeId')} is not supported")
    records = ordered([h for h in ctx.portal.history if matches(h, p.get("filter"))], p.get("order") or {})
    return page([selected(h, p.get("select") or list(h)) for h in records], p, wrap="items")


def category_list(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    if str(p.get("entityTypeId")) != "2":
        raise B24Error(400, "NOT_FOUND", "Smart process not found")
    categories = ordered([dict(c) for c in ctx.portal.categories], {"sort": "ASC"})
    return page(categories, p, wrap="categories")


def status_list(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    records = ordered([s for s in ctx.portal.statuses if matches(s, p.get("filter"))], p.get("order") or {})
    return {"result": records}


def deal_fields(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    return {"result": ctx.portal.fields}


def userfield_list(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    return page([u for u in ctx.portal.userfields if matches(u, p.get("filter"))], p)


def todo_add(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    return {"result": {"id": ctx.portal.add_todo(p, ctx.user_id)}}


def activity_list(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    records = ordered([a for a in ctx.portal.activities if matches(a, p.get("filter"))], p.get("order") or {})
    return page([selected(a, p.get("select")) for a in records], p)


def task_add(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    return {"result": {"task": tasks.render(tasks.add_task(ctx.portal, p.get("fields"), ctx.user_id))}}


def task_get(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    return tasks.get_answer(ctx.portal, p)


def task_list(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    records = ordered([t for t in ctx.portal.tasks if matches(t, p.get("filter"))], p.get("order") or {"ID": "ASC"})
    return page([tasks.render(t, p.get("select")) for t in records], p, wrap="tasks")


def comment_add(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    return {"result": ctx.portal.add_comment(dict(p.get("fields") or {}), ctx.user_id)}


def user_get(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    flt = p.get("filter") or p.get("FILTER") or {}
    flt = {k: v for k, v in flt.items() if str(k).upper() != "ACTIVE"} if isinstance(flt, dict) else {}
    return page([u for u in ctx.portal.users if matches(u, flt)], p)


def _app_only(ctx: Context) -> None:
    if not ctx.oauth:  # event.offline.* "works only in the context of application authorization"
        raise B24Error(401, "WRONG_AUTH_TYPE", "Current authorization type is denied for this method")


def offline_get(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    _app_only(ctx)
    clear = str(p.get("clear", 1)) not in ("0", "false", "False")
    return {"result": ctx.offline.take(int(str(p.get("limit") or 50)), clear)}


def offline_clear(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    _app_only(ctx)
    if not p.get("process_id"):
        raise B24Error(400, "", "process_id is required")
    ctx.offline.clear(str(p["process_id"]), [str(m) for m in p.get("message_id") or []])
    return {"result": True}


METHODS: dict[str, Handler] = {
    "crm.deal.get": deal_get, "crm.deal.list": deal_list, "crm.deal.add": deal_add,
    "crm.deal.update": deal_update, "crm.item.update": item_update, "crm.deal.fields": deal_fields,
    "crm.deal.userfield.list": userfield_list,
    "crm.stagehistory.list": stage_history, "crm.category.list": category_list, "crm.status.list": status_list,
    "crm.activity.todo.add": todo_add, "crm.activity.list": activity_list,
    "crm.timeline.comment.add": comment_add, "user.get": user_get,
    "tasks.task.add": task_add, "tasks.task.get": task_get, "tasks.task.list": task_list,
    "event.offline.get": offline_get, "event.offline.clear": offline_clear,
}  # fmt: skip


def call(ctx: Context, method: str, params: dict[str, Any]) -> dict[str, Any]:
    """Run one method (or `batch`); raises B24Error (404 ERROR_METHOD_NOT_FOUND for unknown names)."""
    name = method.lower()
    if name == "batch":
        return batch(ctx, params)
    handler = METHODS.get(name)
    if handler is None:
        raise B24Error(404, "ERROR_METHOD_NOT_FOUND", "Method not found!")
    return handler(ctx, params)


def batch(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """`batch`: up to 50 "method?query" commands; results and errors keyed by command name."""
    cmd = params.get("cmd") or {}
    if not isinstance(cmd, dict) or len(cmd) > PAGE:
        raise B24Error(400, "ERROR_BATCH_LENGTH_EXCEEDED", f"Max batch length exceeded {PAGE}")
    halt = str(params.get("halt", 0)) not in ("0", "false", "False", "")
    out: dict[str, dict[str, Any]] = {k: {} for k in ("result", "result_error", "result_total", "result_next")}
    for key, command in cmd.items():
        method, _, query = str(command).partition("?")
        if method.lower() == "batch":
            out["result_error"][key] = {"error": "ERROR_BATCH_METHOD_NOT_ALLOWED", "error_description": "No batch"}
            continue
        try:
            answer = call(ctx, unquote(method), parse_php_form(query))
        except B24Error as exc:
            out["result_error"][key] = exc.body
            if halt:
                break
            continue
        out["result"][key] = answer["result"]
        for field in ("total", "next"):
            if field in answer:
                out[f"result_{field}"][key] = answer[field]
    # PHP encodes an empty associative array as [] - Bitrix24 answers empty sections that way.
    return {"result": {k: (v or []) for k, v in out.items()} | {"result_time": []}}
