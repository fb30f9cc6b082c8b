"""The tasks module of the Bitrix24 sandbox: tasks kept on the portal, checked and rendered like tasks.task.*.

Reference: api-reference/tasks/tasks-task-add.md, tasks-task-get.md and fields.md in
https://github.com/bitrix24/b24restdocs. A task is stored under the UPPER_SNAKE names that `fields`,
`filter` and `select` use and answered in the camelCase the methods return (``responsibleId``).
Unlike a CRM to-do (crm.activity.todo.add) a task needs no owner entity: UF_CRM_TASK (``["D_12"]``)
binds it to CRM items, and it may stay empty. The caller holds the sandbox lock.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapters.sandbox.bitrix24_state import PORTAL_TZ, B24Error, Portal, now_text, parse_time

WRITABLE = ("TITLE", "DESCRIPTION", "RESPONSIBLE_ID", "CREATED_BY", "DEADLINE", "PRIORITY", "UF_CRM_TASK")
STATUS_PENDING = "2"  # fields.md STATUS: 2 = waiting for execution


def camel(name: str) -> str:
    """RESPONSIBLE_ID -> responsibleId, UF_CRM_TASK -> ufCrmTask (the names tasks.task.* answer with)."""
    head, *rest = name.lower().split("_")
    return head + "".join(part.title() for part in rest)


def _assignee(portal: Portal, value: Any) -> str:
    if value in (None, "", 0, "0"):
        raise B24Error(400, "ERROR_CORE", "Assignee not specified<br>")
    if str(value) not in {u["ID"] for u in portal.users}:
        raise B24Error(400, "ERROR_CORE", 'User specified in the "Assignee" field not found<br>')
    return str(value)


def _deadline(value: Any) -> str | None:
    """The deadline in the portal's offset, as tasks.task.get answers it (naive input = portal time)."""
    if value in (None, ""):
        return None
    parsed = parse_time(value)
    if parsed is None:  # Bitrix24 documents no message for this one; ERROR_CORE like the other checks
        raise B24Error(400, "ERROR_CORE", "Invalid deadline<br>")
    return parsed.astimezone(PORTAL_TZ).replace(microsecond=0).isoformat()


def add_task(portal: Portal, fields: Any, user_id: str) -> dict[str, Any]:
    """tasks.task.add: TITLE and an existing RESPONSIBLE_ID required; unknown fields are ignored;
    CREATED_BY defaults to the calling user. Returns the stored task.

    Errors are the documented ones: 100 without `fields`, ERROR_CORE for a missing title or assignee
    or an unknown assignee.
    """
    if not isinstance(fields, Mapping) or not fields:
        raise B24Error(400, "100", "Could not find value for parameter {fields} (internal error)")
    given = {str(k).upper(): v for k, v in fields.items() if str(k).upper() in WRITABLE}
    title = str(given.get("TITLE") or "").strip()
    if not title:
        raise B24Error(400, "ERROR_CORE", "Task title not specified<br>")
    responsible = _assignee(portal, given.get("RESPONSIBLE_ID"))
    portal.task_seq += 1
    at = now_text()
    task: dict[str, Any] = {
        "ID": str(portal.task_seq), "TITLE": title, "DESCRIPTION": str(given.get("DESCRIPTION") or ""),
        "RESPONSIBLE_ID": responsible, "CREATED_BY": str(given.get("CREATED_BY") or user_id),
        "DEADLINE": _deadline(given.get("DEADLINE")), "PRIORITY": str(given.get("PRIORITY") or "1"),
        "STATUS": STATUS_PENDING, "CREATED_DATE": at, "CHANGED_DATE": at, "CLOSED_DATE": None, "GROUP_ID": "0",
        "UF_CRM_TASK": [str(item) for item in given.get("UF_CRM_TASK") or []],
    }  # fmt: skip
    portal.tasks.append(task)
    return task


def render(task: Mapping[str, Any], select: Any = None) -> dict[str, Any]:
    """The task in camelCase; `select` limits the fields ("*" = all standard ones; UF_* only when named)."""
    names = [str(s).upper() for s in select] if isinstance(select, list) and select else ["*"]
    keep = {k for k in task if ("*" in names and not k.startswith("UF_")) or k in names} | {"ID"}
    return {camel(k): (list(v) if isinstance(v, list) else v) for k, v in task.items() if k in keep}


def get_answer(portal: Portal, params: Mapping[str, Any]) -> dict[str, Any]:
    """tasks.task.get: {"result": {"task": ...}}, or {"result": []} for an unknown id (as documented)."""
    raw = params.get("taskId")
    if raw in (None, ""):
        raise B24Error(400, "100", "CTaskItem All parameters in the constructor must have real class type "
                                   "(internal error)")  # fmt: skip
    if not str(raw).isdigit():
        raise B24Error(400, "0", "wrong task id")
    select = params.get("select")
    if "select" in params and (not isinstance(select, list) or not select):
        raise B24Error(400, "100", "Invalid value {} to match with parameter {select}. Should be value of type "
                                   "array. (internal error)")  # fmt: skip
    task = next((t for t in portal.tasks if t["ID"] == str(int(str(raw)))), None)
    return {"result": {"task": render(task, select)} if task else []}
