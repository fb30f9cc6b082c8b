"""Turning Bitrix24's REST JSON into the adapter DTOs (and our values into Bitrix24's formats).

Shapes follow https://github.com/bitrix24/b24restdocs (crm-deal-get, crm-stage-history-list,
crm-status-list, crm-deal-fields, crm-deal-userfield-list, user-get). Bitrix24 answers most values
as strings; dates are ISO 8601 with the portal's offset (``2024-04-03T10:26:32+02:00``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx

from adapters.amounts import plain_amount
from adapters.base import (
    Credentials,
    DealSnapshot,
    OptionInfo,
    OwnerInfo,
    PipelineInfo,
    PropertyInfo,
    StageChange,
    StageInfo,
    TaskRequest,
)
from adapters.errors import CRMAuthError, CRMError, CRMNotFound, CRMRateLimited, CRMRejected, CRMUnavailable
from adapters.formdata import encode_php_form
from adapters.http import parse_retry_after

_WEBHOOK_PATH = re.compile(r"^(?P<root>.*/rest/[0-9]+/[^/]+)/?$")  # [0-9]: \d takes any script's digits
PAGE_SIZE = 50  # fixed by Bitrix24 for every *.list method
BATCH_MAX = 50  # commands per `batch` call (settings/how-to-call-rest-api/batch.md)
DEAL_ENTITY_TYPE_ID = 2  # CRM object type id of deals (crm/data-types.md#object_type)
# Read with every deal: the head of the snapshot, its currency, dates and modifier, whether it is closed
# (CLOSEDATE is the expected close date until then) and who last moved it (crm.stagehistory.list names no one).
BASE_FIELDS = ("ID", "TITLE", "STAGE_ID", "CATEGORY_ID", "ASSIGNED_BY_ID", "OPPORTUNITY", "CURRENCY_ID",
               "DATE_MODIFY", "DATE_CREATE", "CLOSED", "CLOSEDATE", "MODIFY_BY_ID", "MOVED_BY_ID", "COMPANY_ID",
               "CONTACT_ID")  # fmt: skip
_STRINGS = frozenset({str})
_plain_amount = re.compile(r"[0-9]+\.[0-9]+").fullmatch  # OPPORTUNITY as Bitrix24 answers it: "1000.00"
_PLAIN = frozenset({str, type(None)})  # value types a snapshot keeps as they are
# crm.stagehistory.list TYPE_ID values (crm-stage-history-list.md).
HISTORY_TYPES = {"1": "creation", "2": "intermediate", "3": "final", "5": "category_change"}
# crm.deal.fields types -> a HubSpot-like field_type the UI understands.
FIELD_TYPES = {
    "string": "text", "integer": "number", "double": "number", "money": "number", "date": "date",
    "datetime": "date", "enumeration": "select", "crm_status": "select", "crm_category": "select",
    "char": "booleancheckbox", "boolean": "booleancheckbox", "user": "select", "url": "text",
}  # fmt: skip


def parse_bitrix_time(value: object) -> datetime | None:
    """A UTC datetime from Bitrix24's ISO 8601 (offset or Z; naive means UTC) or None."""
    if value in (None, "", False):
        return None
    try:
        parsed = datetime.fromisoformat(value if type(value) is str else str(value))  # sync: every deal
    except ValueError:
        try:
            parsed = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def iso_of(when: datetime) -> str:
    """Seconds-precision ISO 8601 with an explicit offset, as Bitrix24 filters and writes expect."""
    aware = when if when.tzinfo else when.replace(tzinfo=UTC)
    return aware.astimezone(UTC).replace(microsecond=0).isoformat()


def todo_params(request: TaskRequest) -> dict[str, Any]:
    """crm.activity.todo.add parameters for a to-do on the deal (body + marker in the description)."""
    params: dict[str, Any] = {
        "ownerTypeId": DEAL_ENTITY_TYPE_ID, "ownerId": request.deal_id, "deadline": iso_of(request.due),
        "title": request.subject, "description": f"{request.body}\n\n{request.marker}",
    }  # fmt: skip
    if request.owner_id:
        params["responsibleId"] = request.owner_id
    return params


def user_task_fields(request: TaskRequest) -> dict[str, Any]:
    """tasks.task.add `fields` for a task of the owner bound to no CRM entity (tasks/tasks-task-add.md)."""
    return {"TITLE": request.subject, "DESCRIPTION": f"{request.body}\n\n{request.marker}",
            "RESPONSIBLE_ID": request.owner_id, "DEADLINE": iso_of(request.due)}  # fmt: skip


def select_of(names: Sequence[str]) -> list[str]:
    """The `select` list for crm.deal.get/list: the base fields, the asked ones, and every UF_CRM_*."""
    return list(dict.fromkeys([*BASE_FIELDS, *names, "UF_*"]))


def deal_list_params(since: datetime, properties: Sequence[str], after_id: int | str) -> dict[str, Any]:
    """crm.deal.list parameters of the fast pattern (settings/performance/huge-data.md): the deals modified
    since `since` with an ID above `after_id`, in ID order, without the COUNT (`start=-1`).

    `after_id` is a number or, inside a batch, a reference to an earlier command's result.
    """
    return {"filter": {">=DATE_MODIFY": iso_of(since), ">ID": after_id}, "order": {"ID": "ASC"},
            "select": select_of(properties), "start": -1}  # fmt: skip


def chained_deal_lists(since: datetime, properties: Sequence[str], after_id: int,
                       count: int) -> dict[str, tuple[str, dict[str, Any]]]:  # fmt: skip
    """`count` batch commands ``l0``, ``l1``, ... listing deals as `deal_list_params` does: the first after
    `after_id`, each later one after the last ID the one before it listed (``$result[l0][49][ID]``, batch.md).

    Only lists up to the first short one (fewer than 50 deals) mean anything: a later one refers to an element
    that does not exist (see `chained_results`).
    """
    base = deal_list_params(since, properties, after_id)
    commands: dict[str, tuple[str, dict[str, Any]]] = {}
    for i in range(count):
        bound: int | str = after_id if i == 0 else f"$result[l{i - 1}][{PAGE_SIZE - 1}][ID]"
        commands[f"l{i}"] = ("crm.deal.list", {**base, "filter": {**base["filter"], ">ID": bound}})
    return commands


def lists_wanted(limit: int, have: int, fresh: bool) -> int:
    """How many lists of 50 the next request of a deal query asks for, holding `have` of `limit` deals: one
    for the first request of a query without a cursor (`fresh`: an incremental sync mostly finds fewer than
    50 deals), else enough to reach `limit`, at most one batch's worth."""
    return 1 if fresh and not have else min(BATCH_MAX, -(-(limit - have) // PAGE_SIZE))


def chained_results(results: Mapping[str, Any], errors: Mapping[str, Any], count: int) -> list[list[Any]]:
    """The lists a `chained_deal_lists` batch answered that mean something: in order, up to and including the
    first short one. A command that failed before that raises its typed error (`batch_command_error`)."""
    lists: list[list[Any]] = []
    for name in (f"l{i}" for i in range(count)):
        if name in errors:
            raise batch_command_error("crm.deal.list", errors[name])
        lists.append(results.get(name) or [])
        if len(lists[-1]) < PAGE_SIZE:
            break
    return lists


def value_of(value: Any) -> str | None:
    """A property value as a string: None stays None, lists (multiple fields) join with commas."""
    if type(value) is str:  # most values: this runs for every field of every deal
        return value
    if value is None or value is False:
        return None
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    if isinstance(value, dict):
        return str(value.get("VALUE") or value.get("value") or "") or None
    return str(value)


def history_of(items: Iterable[Mapping[str, Any]], moved_by: str | None = None,
               stage_id: str | None = None) -> tuple[StageChange, ...]:  # fmt: skip
    """crm.stagehistory.list items as stage changes, newest first (by time, then by record id, as records can
    share a second); items without a stage or a time are left out. The records name no user: the deal's
    MOVED_BY_ID (who last changed its stage) is the newest change's actor when that change is into the deal's
    current `stage_id`. Bitrix24 says nothing of the channel, so `source` stays unknown."""
    dated: list[tuple[datetime, int, str, str | None]] = []
    for item in items:
        at = parse_bitrix_time(item.get("CREATED_TIME"))
        stage = item.get("STAGE_ID") or item.get("STATUS_ID")
        if at is not None and stage:
            dated.append((at, _int(item.get("ID"), 0), str(stage), HISTORY_TYPES.get(str(item.get("TYPE_ID")))))
    dated.sort(key=lambda entry: (entry[0], entry[1]), reverse=True)
    changes = [StageChange(stage, at, kind) for at, _, stage, kind in dated]
    if changes and moved_by and moved_by != "0" and changes[0].stage_id == stage_id:
        changes[0] = StageChange(changes[0].stage_id, changes[0].at, changes[0].source_type, moved_by)
    return tuple(changes)


def snapshot_of(deal: Mapping[str, Any], history: Iterable[Mapping[str, Any]] = ()) -> DealSnapshot:
    """A DealSnapshot from a crm.deal.get/list record: every returned field lands in `properties`."""
    # Sync converts every deal it reads; in most, every key is a string and every value a string or None,
    # which a copy keeps as they are (checked by type, without a Python loop).
    props: dict[str, str | None] = dict(deal)
    if not (_STRINGS.issuperset(map(type, props)) and _PLAIN.issuperset(map(type, props.values()))):
        props = {str(k): value_of(v) for k, v in deal.items()}
    get = props.get
    amount, modifier = get("OPPORTUNITY"), get("MODIFY_BY_ID")
    modified, created = get("DATE_MODIFY"), get("DATE_CREATE")
    modified_at = parse_bitrix_time(modified)
    return DealSnapshot.trusted(
        str(deal["ID"]),
        get("CATEGORY_ID") or "0",  # a deal outside any category is in the default one (0)
        get("STAGE_ID"),
        get("ASSIGNED_BY_ID") or None,
        amount if type(amount) is str and _plain_amount(amount) else plain_amount(amount),  # "1000.00" as it is
        get("TITLE"),
        modified_at,
        props,
        history_of(history, get("MOVED_BY_ID"), get("STAGE_ID")) if history else (),
        get("CURRENCY_ID") or None,
        modified_at if created == modified else parse_bitrix_time(created),  # a deal never changed since
        parse_bitrix_time(get("CLOSEDATE")) if get("CLOSED") == "Y" else None,
        modifier if modifier and modifier != "0" else None,  # 0 names no user
        _linked(get("COMPANY_ID")), _linked(get("CONTACT_ID")),
    )


def _linked(value: str | None) -> str | None:
    """A deal's COMPANY_ID / CONTACT_ID (its first contact): "0" or empty names none."""
    return value if value and value != "0" else None


def stage_of(raw: Mapping[str, Any], position: int) -> StageInfo:
    """A crm.status.list record as a stage; SEMANTICS S = won, F = lost (EXTRA.SEMANTICS as fallback)."""
    semantics = str(raw.get("SEMANTICS") or "").upper()
    extra = str((raw.get("EXTRA") or {}).get("SEMANTICS") or "").lower()
    won = semantics == "S" or extra == "success"
    lost = semantics == "F" or extra in ("failure", "apology")
    return StageInfo(str(raw["STATUS_ID"]), str(raw.get("NAME") or raw["STATUS_ID"]),
                     _int(raw.get("SORT"), position), won or lost, won)  # fmt: skip


def pipeline_of(category: Mapping[str, Any], statuses: Iterable[Mapping[str, Any]]) -> PipelineInfo:
    """A crm.category.list category (camelCase keys) with its crm.status.list stages in SORT order."""
    stages = tuple(sorted((stage_of(s, i) for i, s in enumerate(statuses)), key=lambda s: s.order))
    return PipelineInfo(str(category["id"]), str(category.get("name") or category["id"]),
                        _int(category.get("sort"), 0), stages)  # fmt: skip


def stage_entity_id(category_id: str) -> str:
    """crm.status.list ENTITY_ID of a deal category's stages: DEAL_STAGE (0) or DEAL_STAGE_<id>."""
    return "DEAL_STAGE" if str(category_id) in ("0", "") else f"DEAL_STAGE_{category_id}"


def property_of(name: str, meta: Mapping[str, Any], userfield: Mapping[str, Any] | None = None) -> PropertyInfo:
    """A crm.deal.fields entry (+ the crm.deal.userfield.list record for UF_ fields) as a property.

    Enumeration options use the item ID as value: Bitrix24 stores and filters enum fields by item id.
    """
    kind = str(meta.get("type") or (userfield or {}).get("USER_TYPE_ID") or "string")
    label = meta.get("formLabel") or meta.get("listLabel") or meta.get("title") or name
    items = meta.get("items") or (userfield or {}).get("LIST") or []
    options = tuple(OptionInfo(str(i.get("ID")), str(i.get("VALUE") or i.get("ID"))) for i in items)
    return PropertyInfo(name, str(label), kind, FIELD_TYPES.get(kind, "text"), options)


def owner_of(raw: Mapping[str, Any]) -> OwnerInfo:
    """A user.get record as an owner; the Bitrix24 user id is both id and user_id (deals' ASSIGNED_BY_ID and
    MODIFY_BY_ID alike). ACTIVE is false for a dismissed user (JSON true/false; "Y"/"N" accepted too)."""
    user_id = str(raw["ID"])
    active = raw.get("ACTIVE") not in (False, "N", "n", "0", 0, "false")
    return OwnerInfo(user_id, value_of(raw.get("EMAIL")) or None, value_of(raw.get("NAME")) or None,
                     value_of(raw.get("LAST_NAME")) or None, user_id, active)  # fmt: skip


def _int(value: object, default: int) -> int:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return default


# ---- errors ------------------------------------------------------------------------------------
QUERY_LIMIT_WAIT = 1.0  # the leaky bucket drains 2/s: a second frees two slots
OPERATION_LIMIT_WAIT = 60.0  # the method's time budget: 10 one-minute baskets, one expires per minute
_AUTH_CODES = frozenset({"expired_token", "invalid_token", "INVALID_CREDENTIALS", "NO_AUTH_FOUND",
                         "WRONG_AUTH_TYPE", "insufficient_scope", "user_access_error", "ACCESS_DENIED"})  # fmt: skip


def error_code_of(response: httpx.Response) -> tuple[str, str]:
    """(error, error_description) of a Bitrix24 error body; empty strings when absent."""
    try:
        payload = response.json()
    except ValueError:
        return "", ""
    if not isinstance(payload, dict):
        return "", ""
    return str(payload.get("error") or ""), str(payload.get("error_description") or "")


def classify_for(method: str) -> Callable[[httpx.Response], CRMError | None]:
    """A send_with_retry classifier for one REST method (see classify_bitrix24)."""
    return lambda response: classify_bitrix24(response, method)


def classify_bitrix24(response: httpx.Response, method: str) -> CRMError | None:
    """None for 2xx, else the typed error for Bitrix24's status and error code.

    503 QUERY_LIMIT_EXCEEDED -> CRMRateLimited (retry after ~1 s: the leaky bucket overflowed);
    429 OPERATION_TIME_LIMIT -> CRMRateLimited with OPERATION_LIMIT_WAIT (the method's 480 s per
    10 min budget, longer than any retry policy waits, so the caller reschedules);
    401/403 and the OAuth/webhook codes -> CRMAuthError; 400 "Not found"/NOT_FOUND -> CRMNotFound;
    404 ERROR_METHOD_NOT_FOUND -> CRMRejected (a wrong method or missing scope, not a missing object).
    Messages name the method, never the URL (an incoming webhook's path is its secret).
    """
    status = response.status_code
    if 200 <= status < 300:
        return None
    code, description = error_code_of(response)
    text = f"{method} -> {status}" + (f": {code}" if code else "") + (f": {description}" if description else "")
    return error_for(text, status, code, description, body=response.text[:2000],
                     header_wait=parse_retry_after(response.headers.get("retry-after")))


def batch_command_error(method: str, error: Any) -> CRMError:
    """The typed error for a failed batch command's {"error", "error_description"}, by its code as
    classify_bitrix24 would type it; an unknown code counts as a server failure (the batch itself answered
    200, so there is no status to go by)."""
    known = error if isinstance(error, dict) else {}
    code, description = str(known.get("error") or ""), str(known.get("error_description") or "")
    text = f"{method} in batch" + (f": {code}" if code else "") + (f": {description}" if description else "")
    return error_for(text, 500, code, description)


def error_for(text: str, status: int, code: str, description: str, *, body: str = "",
              header_wait: float | None = None) -> CRMError:  # fmt: skip
    """The typed error for a Bitrix24 status, error code and description (see classify_bitrix24)."""
    kw: dict[str, Any] = {"status": status, "vendor_message": description or code or None, "body": body}
    if code == "QUERY_LIMIT_EXCEEDED":
        return CRMRateLimited(text, retry_after=max(header_wait or 0.0, QUERY_LIMIT_WAIT), **kw)
    if code == "OPERATION_TIME_LIMIT":
        return CRMRateLimited(text, retry_after=max(header_wait or 0.0, OPERATION_LIMIT_WAIT), **kw)
    if code in _AUTH_CODES or status in (401, 403):
        return CRMAuthError(text, **kw)
    if code == "NOT_FOUND" or (status in (400, 404) and description.strip().lower() == "not found"):
        return CRMNotFound(text, **kw)
    if status == 429:
        return CRMRateLimited(text, retry_after=header_wait or QUERY_LIMIT_WAIT, **kw)
    if status >= 500:
        return CRMUnavailable(text, retry_after=header_wait, **kw)
    return CRMRejected(text, **kw)


def batch_command(method: str, params: Mapping[str, Any]) -> str:
    """A batch command string, ``method?php-style-query``."""
    query = encode_php_form(params)
    return f"{method}?{query}" if query else method


def batch_section(value: Any) -> dict[str, Any]:
    """Batch sections are JSON objects, or [] when empty (PHP arrays)."""
    return {str(k): v for k, v in value.items()} if isinstance(value, dict) else {}


def endpoint_of(credentials: Credentials) -> tuple[str, str | None]:
    """(client base URL ending in "/", OAuth token or None for an incoming webhook).

    Raises ValueError when an OAuth portal URL comes without an access token.
    """
    url = httpx.URL(credentials.base_url.strip())
    match = _WEBHOOK_PATH.match(url.path)
    if match:
        return str(url.copy_with(path=match.group("root") + "/", query=None)), None
    if not credentials.access_token:
        raise ValueError("Bitrix24 OAuth needs an access token (or pass an incoming-webhook URL)")
    path = url.path.rstrip("/")
    path = path if path.endswith("/rest") else f"{path}/rest"
    return str(url.copy_with(path=path + "/", query=None)), credentials.access_token
