"""`/_sandbox/` control endpoints of the amoCRM sandbox (no auth) and its failure answers.

    POST   /_sandbox/ui/leads               {"fields": {...}, "user_id": N, "source"?}          -> 201 lead
    PATCH  /_sandbox/ui/leads/{id}          {"fields": {...}, "user_id": N, "source"?}          -> 200 lead
    POST   /_sandbox/ui/leads/{id}/move     {"status_id", "pipeline_id"?, "user_id"?, "source"?} -> 200 lead
    DELETE /_sandbox/ui/leads/{id}          {"user_id"?, "source"?}                             -> 204
    GET|POST /_sandbox/users                 users, deactivated ones too; POST adds one         -> 200 / 201
    PATCH  /_sandbox/users/{user_id}        {"active": bool}                                   -> 200
    GET    /_sandbox/leads/{id}                                                      -> lead + tasks/notes
    GET    /_sandbox/users/{id}/tasks                                 -> the user's tasks, with or without lead
    POST   /_sandbox/failures               {"mode", "count", "path_prefix", "method", "retry_after", "delay"}
    GET|POST /_sandbox/config               {"webhook_url", "events", "batch_window", "retry_delays", ...}
    POST   /_sandbox/reset
    GET    /_sandbox/webhooks               every delivery: url, headers, body, status, error, attempt
    POST   /_sandbox/webhooks/wait          {"timeout": s}                           -> 200 or 504
    GET    /_sandbox/calls?method=&path_prefix=

UI `fields`: standard v4 names (name, price, status_id, pipeline_id, responsible_user_id) and custom
field ids as keys (enum fields take the enum id or its text).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from adapters.sandbox import control
from adapters.sandbox.amocrm_state import ApiError
from adapters.sandbox.control import Result
from adapters.sandbox.failures import Failure

if TYPE_CHECKING:
    from adapters.sandbox.amocrm import AmoCRMSandbox

# expire-token: the current access token stops working (401) until refreshed;
# page-stuck: the next list answer's `_links.next` points at the same page.
FAILURE_MODES = frozenset({"500", "503", "429", "401", "timeout", "expire-token", "page-stuck"})


def failure_error(rule: Failure) -> ApiError:
    """The answer an injected 500/503/429/401 produces."""
    headers = {}
    if rule.mode == "429" and rule.retry_after is not None:
        headers["Retry-After"] = f"{rule.retry_after:g}"
    return ApiError(int(rule.mode), "Injected failure", headers=headers)


@functools.cache
def url_map() -> Map:
    """The control routes."""
    user_tasks = Rule("/_sandbox/users/<int:user_id>/tasks", methods=["GET"], endpoint="user_tasks")
    return control.build_map(*control.ui_rules("lead", "int:"), user_tasks)


def dispatch(sandbox: AmoCRMSandbox, request: Request) -> Response:
    """Run one control request; errors are JSON {"error": ...} with 400/404/504."""
    return control.dispatch(sandbox, request, url_map(), HANDLERS, ApiError)


def _user(body: dict[str, Any]) -> int | None:
    return None if body.get("user_id") is None else int(body["user_id"])


def _source(body: dict[str, Any]) -> str:
    return str(body.get("source", "ui"))


def ui_create(sandbox: AmoCRMSandbox, _: Request, body: dict[str, Any]) -> Result:
    return 201, sandbox.lead(sandbox.ui_create_lead(body.get("fields") or {}, _user(body), _source(body)))


def ui_update(sandbox: AmoCRMSandbox, _: Request, body: dict[str, Any], lead_id: int) -> Result:
    sandbox.ui_update_lead(lead_id, body.get("fields") or {}, _user(body), _source(body))
    return 200, sandbox.lead(lead_id)


def ui_move(sandbox: AmoCRMSandbox, _: Request, body: dict[str, Any], lead_id: int) -> Result:
    sandbox.ui_move_lead(lead_id, int(body["status_id"]), body.get("pipeline_id"), user_id=_user(body),
                         source=_source(body))  # fmt: skip
    return 200, sandbox.lead(lead_id)


def ui_delete(sandbox: AmoCRMSandbox, _: Request, body: dict[str, Any], lead_id: int) -> Result:
    sandbox.ui_delete_lead(lead_id, _user(body), _source(body))
    return 204, None


def lead(sandbox: AmoCRMSandbox, _: Request, body: dict[str, Any], lead_id: int) -> Result:
    return 200, {**sandbox.lead(lead_id), "tasks": sandbox.tasks_for_lead(lead_id),
                 "notes": sandbox.notes_for_lead(lead_id)}  # fmt: skip


def user_tasks(sandbox: AmoCRMSandbox, _: Request, body: dict[str, Any], user_id: int) -> Result:
    """GET /_sandbox/users/{id}/tasks: the user's tasks, standalone ones included."""
    return 200, {"results": sandbox.tasks_for_user(user_id)}


def failures(sandbox: AmoCRMSandbox, _: Request, body: dict[str, Any]) -> Result:
    return control.queue_failure(sandbox, body, "/api/v4/", None)


def config(sandbox: AmoCRMSandbox, request: Request, body: dict[str, Any]) -> Result:
    if request.method == "POST":
        sandbox.configure(body)
    return 200, sandbox.describe()


HANDLERS: dict[str, control.Handler] = {
    **control.COMMON_HANDLERS, "ui_create": ui_create, "ui_update": ui_update, "ui_move": ui_move,
    "ui_delete": ui_delete, "lead": lead, "user_tasks": user_tasks, "failures": failures, "config": config,
}
