"""The REST methods the Bitrix24 sandbox answers, with Bitrix24's envelopes and list paging.

Each handler takes (sandbox context, params) and returns the envelope without `time`:
``{"result": ...}`` plus ``next``/``total`` for lists (50 per page; ``start=-1`` skips the count
and `next`, settings/performance/huge-data.md). Filters understand the prefixes ``>=``, ``<=``,
``>``, ``<``, ``!=``/``!``, ``=`` and list values (IN); dates compare as datetimes.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Any
from urllib.parse import unquote

from adapters.formdata import parse_php_form
from adapters.sandbox import bitrix24_tasks as tasks
from adapters.sandbox.bitrix24_state import B24Error, Portal, parse_time

PAGE = 50
_OPS = (">=", "<=", "!=", "!@", ">", "<", "=", "@", "!")  # "@" IN a list, "!@" not in it
# A reference to an earlier batch command's answer: $result[name][0][ID] (batch.md, "Using Results").
_REFERENCE = re.compile(r"\$(result|result_error|result_total|result_next)\[([^\]]+)\]((?:\[[^\]]*\])*)")
_STEP = re.compile(r"\[([^\]]*)\]")


@dataclass
class Context:
    """What a handler may use: the portal, the calling user, offline queue access."""

    portal: Portal
    user_id: str
    offline: Any  # adapters.sandbox.bitrix24_events.OfflineQueue
    oauth: bool
    quirks: frozenset[str] = frozenset()  # deliberate misbehaviour for client tests ("ignore_id_filter")
    # An injected failure for a batch command of this method, if one is due (Bitrix24Sandbox.fail_next).
    failure: Callable[[str], B24Error | None] = lambda method: None


Handler = Callable[[Context, dict[str, Any]], dict[str, Any]]


def _compare(actual: Any, op: str, wanted: Any) -> bool:
    if op in ("@", "!@"):
        listed = wanted.values() if isinstance(wanted, dict) else wanted if isinstance(wanted, list) else [wanted]
        return any(_compare(actual, "=", w) for w in listed) is (op == "@")
    if isinstance(wanted, list) and op in ("=", ""):
        return any(_compare(actual, "=", w) for w in wanted)
    if actual is None:
        return op in ("!", "!=") and wanted not in (None, "")
    left: Any
    right: Any
    # A digits-only wanted value (an ID) compares as a number, never as a time: no need to parse times.
    timed = not str(wanted).lstrip("-").isdigit()
    left_time, right_time = (parse_time(actual), parse_time(wanted)) if timed else (None, None)
    if left_time is not None and right_time is not None:
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


def _field(record: Mapping[str, Any], name: str) -> Any:
    """A record's value of an upper-case field name, matching its keys case-insensitively."""
    if name in record:
        return record[name]
    return {str(k).upper(): v for k, v in record.items()}.get(name)


def _terms(flt: Any) -> list[tuple[str, str, Any]]:
    """A filter object as (upper-case field, operator, wanted value) terms."""
    terms = []
    for key, wanted in (flt.items() if isinstance(flt, dict) else ()):
        op = next((o for o in _OPS if str(key).startswith(o)), "")
        terms.append((str(key)[len(op) :].upper(), op, wanted))
    return terms


def matching(records: Iterable[Mapping[str, Any]], flt: Any) -> list[Any]:
    """The records that pass a Bitrix24 filter object (the filter read once for all of them)."""
    terms = _terms(flt)
    return [r for r in records if all(_compare(_field(r, field), op, wanted) for field, op, wanted in terms)]


def ordered(records: list[dict[str, Any]], order: Any) -> list[dict[str, Any]]:
    """Records sorted by an order object {FIELD: ASC|DESC} (numeric where the values are)."""
    out = list(records)
    for field, direction in reversed(list(order.items()) if isinstance(order, dict) else []):

        def key(r: dict[str, Any], f: str = str(field).upper()) -> tuple[int, float, str]:
            value = _field(r, f)
            if type(value) is int:
                return 0, float(value), ""
            text = "" if value is None else str(value)
            return (0, float(text), "") if text.lstrip("-").replace(".", "", 1).isdigit() else (1, 0.0, text)

        out.sort(key=key, reverse=str(direction).upper() == "DESC")
    return out


def page(records: list[Any], params: Mapping[str, Any], wrap: str | None = None,
         shape: Callable[[Any], Any] | None = None) -> dict[str, Any]:
    """One page of 50 from `start`, each record passed through `shape`; start=-1 answers the first 50
    with neither total nor next."""
    try:
        start = int(str(params.get("start", 0) or 0))
    except ValueError:
        start = 0
    chunk = records[max(start, 0) : max(start, 0) + PAGE]
    if shape is not None:
        chunk = [shape(r) for r in chunk]
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
    order = p.get("order") or {"ID": "ASC"}
    after = _after_id(flt) if str(p.get("start")) == "-1" and _by_id(order) else None
    if after is not None:  # the fast pattern (start=-1, >ID, ID order): walk the ID index, as the portal's DB does
        records = _first_after(ctx.portal.deals, ctx.portal.deal_ids, after, _terms(flt))
    else:
        records = ordered(matching(ctx.portal.deals.values(), flt), order)
    return page(records, p, shape=lambda d: selected(d, p.get("select")))


def _by_id(order: Any) -> bool:
    return isinstance(order, dict) and [(str(k).upper(), str(v).upper()) for k, v in order.items()] == [("ID", "ASC")]


def _after_id(flt: Any) -> int | None:
    """The `>ID` bound of a filter, when it has a whole-number one; an empty one counts as 0, as MySQL casts
    '' for an integer column."""
    wanted = flt.get(">ID", flt.get(">id")) if isinstance(flt, dict) else None
    if wanted == "":
        return 0
    return int(str(wanted)) if wanted is not None and str(wanted).lstrip("-").isdigit() else None


def _first_after(deals: Mapping[int, dict[str, Any]], ids: Sequence[int], after: int,
                 terms: list[tuple[str, str, Any]]) -> list[Any]:
    """The first PAGE deals with an ID above `after`, in ID order (`ids`: every deal's, ascending), that pass
    every filter term."""
    found: list[Any] = []
    for deal_id in islice(ids, bisect_right(ids, after), None):
        deal = deals[deal_id]
        if all(_compare(_field(deal, field), op, wanted) for field, op, wanted in terms):
            found.append(deal)
            if len(found) == PAGE:
                break
    return found


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
    records = ordered(matching(ctx.portal.history, p.get("filter")), p.get("order") or {})
    return page(records, p, wrap="items", shape=lambda h: selected(h, p.get("select") or list(h)))


def category_list(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    if str(p.get("entityTypeId")) != "2":
        raise B24Error(400, "NOT_FOUND", "Smart process not found")
    categories = ordered([dict(c) for c in ctx.portal.categories], {"sort": "ASC"})
    return page(categories, p, wrap="categories")


def status_list(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    records = ordered(matching(ctx.portal.statuses, p.get("filter")), p.get("order") or {})
    return {"result": records}


def deal_fields(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    return {"result": ctx.portal.fields}


def customer_list(kind: str) -> Handler:
    """crm.company.list / crm.contact.list: filter (`@ID` for a list of ids), order, select, paging."""
    return lambda ctx, p: page(ordered(matching(ctx.portal.customers[kind], p.get("filter")),
                                       p.get("order") or {"ID": "ASC"}), p,
                               shape=lambda r: selected(r, p.get("select")))


def userfield_list(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    return page(matching(ctx.portal.userfields, p.get("filter")), p)


def todo_add(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    return {"result": {"id": ctx.portal.add_todo(p, ctx.user_id)}}


def activity_list(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    records = ordered(matching(ctx.portal.activities, p.get("filter")), p.get("order") or {})
    return page(records, p, shape=lambda a: selected(a, p.get("select")))


def task_add(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    return {"result": {"task": tasks.render(tasks.add_task(ctx.portal, p.get("fields"), ctx.user_id))}}


def task_get(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    return tasks.get_answer(ctx.portal, p)


def task_list(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    records = ordered(matching(ctx.portal.tasks, p.get("filter")), p.get("order") or {"ID": "ASC"})
    return page([tasks.render(t, p.get("select")) for t in records], p, wrap="tasks")


def comment_add(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    return {"result": ctx.portal.add_comment(dict(p.get("fields") or {}), ctx.user_id)}


def user_get(ctx: Context, p: dict[str, Any]) -> dict[str, Any]:
    """user.get: every user, dismissed ones too; the ACTIVE filter set to true leaves those out (user-get.md)."""
    flt = p.get("filter") or p.get("FILTER") or {}
    flt = flt if isinstance(flt, dict) else {}
    active = next((v for k, v in flt.items() if str(k).upper() == "ACTIVE"), None)
    users = ctx.portal.users
    if active is not None and str(active).lower() in ("true", "1", "y"):
        users = [u for u in users if u["ACTIVE"]]
    return page(matching(users, {k: v for k, v in flt.items() if str(k).upper() != "ACTIVE"}), p)


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
    "crm.company.list": customer_list("company"), "crm.contact.list": customer_list("contact"),
    "crm.company.fields": lambda ctx, p: {"result": ctx.portal.customer_fields["company"]},
    "crm.contact.fields": lambda ctx, p: {"result": ctx.portal.customer_fields["contact"]},
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
    """`batch`: up to 50 "method?query" commands run in order; results and errors keyed by command name. A
    command's parameters may refer to earlier answers (``$result[name][49][ID]``)."""
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
            injected = ctx.failure(unquote(method))
            if injected is not None:
                raise injected
            answer = call(ctx, unquote(method), _resolved(parse_php_form(query), out))
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


def _resolved(value: Any, out: Mapping[str, Mapping[str, Any]]) -> Any:
    """A command's parameters with every $result[...] reference replaced by the value it names in the
    answers so far. A reference to nothing (a list shorter than its index) becomes "": the docs do not say
    what Bitrix24 does there, and the adapter never relies on it."""
    if isinstance(value, dict):
        return {key: _resolved(item, out) for key, item in value.items()}
    if isinstance(value, list):
        return [_resolved(item, out) for item in value]
    if isinstance(value, str) and "$" in value:
        return _REFERENCE.sub(lambda found: _referenced(found, out), value)
    return value


def _referenced(found: re.Match[str], out: Mapping[str, Mapping[str, Any]]) -> str:
    node: Any = out[found.group(1)].get(found.group(2))
    for step in _STEP.findall(found.group(3)):
        if isinstance(node, list) and step.isdigit() and int(step) < len(node):
            node = node[int(step)]
        elif isinstance(node, dict) and step in node:
            node = node[step]
        else:
            return ""
    return "" if node is None or isinstance(node, dict | list) else str(node)
