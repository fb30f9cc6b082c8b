"""`/_sandbox/` control endpoints of the Bitrix24 sandbox (no auth): UI edits, failures, config.

POST     /_sandbox/ui/deals                {"fields": {...}, "user_id": N, "source"?}       -> 201 deal
PATCH    /_sandbox/ui/deals/{id}           {"fields": {...}, "user_id": N, "source"?}       -> 200 deal
POST     /_sandbox/ui/deals/{id}/move      {"stage", "category_id"?, "user_id"?, "source"?} -> 200 deal
DELETE   /_sandbox/ui/deals/{id}           {"user_id"?, "source"?}                          -> 204
GET|POST /_sandbox/users                   users, dismissed ones too; POST adds one        -> 200 / 201
PATCH    /_sandbox/users/{user_id}         {"active": bool}                                -> 200
GET      /_sandbox/deals/{id}              deal + todos, comments, stage history
GET      /_sandbox/users/{id}/tasks        tasks (tasks.task.add) of that RESPONSIBLE_ID, CRM-bound or not
POST     /_sandbox/failures                {"mode", "count", "method", "delay"}
GET|POST /_sandbox/config                  {"webhook_url", "application_token", "member_id",
                                            "leaky_bucket": [rate, capacity], "offline"}
POST     /_sandbox/offline                 {"enabled": bool}; GET lists the offline queue
POST     /_sandbox/reset
GET      /_sandbox/webhooks                every event POST: url, body, status, error
POST     /_sandbox/webhooks/wait           {"timeout": s}                           -> 200 or 504
GET      /_sandbox/calls?method=&auth=
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from adapters.leaky_bucket import LeakyBucket
from adapters.sandbox import control
from adapters.sandbox.bitrix24_state import B24Error
from adapters.sandbox.control import Result

if TYPE_CHECKING:
    from adapters.sandbox.bitrix24 import Bitrix24Sandbox


@functools.cache
def url_map() -> Map:
    """The control routes."""
    offline_rule = Rule("/_sandbox/offline", methods=["GET", "POST"], endpoint="offline")
    user_tasks = Rule("/_sandbox/users/<int:user_id>/tasks", methods=["GET"], endpoint="user_tasks")
    return control.build_map(*control.ui_rules("deal"), offline_rule, user_tasks)


def dispatch(sandbox: Bitrix24Sandbox, request: Request) -> Response:
    """Route one control request; errors become JSON {"error": ...} with a 4xx/5xx status."""
    return control.dispatch(sandbox, request, url_map(), HANDLERS, B24Error)


def _who(body: dict[str, Any]) -> tuple[int | None, str]:
    user = body.get("user_id")
    return None if user is None else int(user), str(body.get("source", "ui"))


def ui_create(sandbox: Bitrix24Sandbox, _: Request, body: dict[str, Any]) -> Result:
    deal_id = sandbox.ui_create_deal(body.get("fields") or {}, *_who(body))
    return 201, sandbox.deal(deal_id)


def ui_update(sandbox: Bitrix24Sandbox, _: Request, body: dict[str, Any], deal_id: str) -> Result:
    sandbox.ui_update_deal(deal_id, body.get("fields") or {}, *_who(body))
    return 200, sandbox.deal(deal_id)


def ui_move(sandbox: Bitrix24Sandbox, _: Request, body: dict[str, Any], deal_id: str) -> Result:
    sandbox.ui_move_deal(deal_id, str(body["stage"]), body.get("category_id"), *_who(body))
    return 200, sandbox.deal(deal_id)


def ui_delete(sandbox: Bitrix24Sandbox, _: Request, body: dict[str, Any], deal_id: str) -> Result:
    sandbox.ui_delete_deal(deal_id, *_who(body))
    return 204, None


def deal(sandbox: Bitrix24Sandbox, _: Request, body: dict[str, Any], deal_id: str) -> Result:
    return 200, {
        **sandbox.deal(deal_id),
        "todos": sandbox.todos_for_deal(deal_id),
        "comments": sandbox.comments_for_deal(deal_id),
        "history": sandbox.stage_history(deal_id),
    }


def user_tasks(sandbox: Bitrix24Sandbox, _: Request, body: dict[str, Any], user_id: int) -> Result:
    """GET /_sandbox/users/{id}/tasks: the user's tasks, standalone ones included (stored field names)."""
    with sandbox.lock:
        return 200, {"results": sandbox.portal.tasks_for_user(user_id)}


def failures(sandbox: Bitrix24Sandbox, _: Request, body: dict[str, Any]) -> Result:
    sandbox.fail_next(str(body["mode"]), int(body.get("count", 1)), body.get("method"), float(body.get("delay", 10.0)))
    return 201, {"queued": body}


def config(sandbox: Bitrix24Sandbox, request: Request, body: dict[str, Any]) -> Result:
    if request.method == "POST":
        s = sandbox.settings
        setters: dict[str, Any] = {
            "webhook_url": lambda v: setattr(s, "url", v or None),
            "application_token": lambda v: setattr(s, "application_token", str(v)),
            "member_id": lambda v: setattr(s, "member_id", str(v)),
            "offline": lambda v: sandbox.set_offline(bool(v)),
            "leaky_bucket": lambda v: setattr(sandbox, "bucket", LeakyBucket(float(v[0]), int(v[1]))),
        }
        control.apply_settings(sandbox, setters, body)
    s = sandbox.settings
    return 200, {"base_url": sandbox.base_url, "incoming_webhook_url": sandbox.incoming_webhook_url,
                 "webhook_url": s.url, "member_id": s.member_id, "offline": s.offline,
                 "leaky_bucket": [sandbox.bucket.drain_rate, sandbox.bucket.capacity]}  # fmt: skip


def offline(sandbox: Bitrix24Sandbox, request: Request, body: dict[str, Any]) -> Result:
    if request.method == "POST":
        sandbox.set_offline(bool(body.get("enabled", True)))
    with sandbox.lock:
        return 200, {"offline": sandbox.settings.offline, "queue": sandbox.offline.pending()}


def calls(sandbox: Bitrix24Sandbox, request: Request, body: dict[str, Any]) -> Result:
    return 200, {"results": sandbox.api_calls(request.args.get("method"), request.args.get("auth"))}


HANDLERS: dict[str, control.Handler] = {
    **control.COMMON_HANDLERS, "ui_create": ui_create, "ui_update": ui_update, "ui_move": ui_move,
    "ui_delete": ui_delete, "deal": deal, "user_tasks": user_tasks, "failures": failures, "config": config,
    "offline": offline, "calls": calls,
}
