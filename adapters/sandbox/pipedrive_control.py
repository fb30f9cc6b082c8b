"""`/_sandbox/` control endpoints of the Pipedrive sandbox (no auth): UI edits, failures, config, inspection.

    POST   /_sandbox/ui/deals               {"fields": {...}, "user_id": N, "source"?}       -> 201 deal
    PATCH  /_sandbox/ui/deals/{id}          {"fields": {...}, "user_id": N, "source"?}       -> 200 deal
    POST   /_sandbox/ui/deals/{id}/move     {"stage_id", "pipeline_id"?, "user_id"?, "source"?} -> 200 deal
    DELETE /_sandbox/ui/deals/{id}          {"user_id"?, "source"?}                          -> 204
    GET|POST /_sandbox/users                 users, deactivated ones too; POST adds one      -> 200 / 201
    PATCH  /_sandbox/users/{user_id}        {"active": bool}                                -> 200
    GET    /_sandbox/deals/{id}                                                        -> deal + activities/notes
    GET    /_sandbox/users/{id}/activities                            -> the user's activities, with or without deal
    POST   /_sandbox/failures               {"mode", "count", "path_prefix", "method", "retry_after", "delay"}
    GET|POST /_sandbox/config               {"webhook_url", "webhook_user", "webhook_password", ...}
    POST   /_sandbox/reset
    GET    /_sandbox/webhooks               every delivery: url, headers, body, status, error, attempt
    POST   /_sandbox/webhooks/wait          {"timeout": s}                             -> 200 or 504
    GET    /_sandbox/calls?method=&path_prefix=

Field names in "fields" are v2 names; custom fields may be given at top level by hash key.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from adapters.sandbox import control
from adapters.sandbox import pipedrive_errors as errors
from adapters.sandbox.control import Result, set_window

if TYPE_CHECKING:
    from adapters.sandbox.pipedrive import PipedriveSandbox



@functools.cache
def url_map() -> Map:
    """The control routes."""
    user_activities = Rule("/_sandbox/users/<int:user_id>/activities", methods=["GET"], endpoint="user_activities")
    return control.build_map(*control.ui_rules("deal"), user_activities)


def dispatch(sandbox: PipedriveSandbox, request: Request) -> Response:
    """Run one control request; bad input is a 400 with {"error"}."""
    return control.dispatch(sandbox, request, url_map(), HANDLERS, errors.PipedriveApiError)


def _who(body: dict[str, Any]) -> tuple[int | None, str]:
    user = body.get("user_id")
    return None if user is None else int(user), str(body.get("source", "ui"))


def ui_create(sandbox: PipedriveSandbox, _: Request, body: dict[str, Any]) -> Result:
    return 201, sandbox.deal(sandbox.ui_create_deal(body.get("fields") or {}, *_who(body)))


def ui_update(sandbox: PipedriveSandbox, _: Request, body: dict[str, Any], deal_id: str) -> Result:
    sandbox.ui_update_deal(deal_id, body.get("fields") or {}, *_who(body))
    return 200, sandbox.deal(deal_id)


def ui_move(sandbox: PipedriveSandbox, _: Request, body: dict[str, Any], deal_id: str) -> Result:
    pipeline = body.get("pipeline_id")
    sandbox.ui_move_deal(deal_id, int(body["stage_id"]), None if pipeline is None else int(pipeline), *_who(body))
    return 200, sandbox.deal(deal_id)


def ui_delete(sandbox: PipedriveSandbox, _: Request, body: dict[str, Any], deal_id: str) -> Result:
    sandbox.ui_delete_deal(deal_id, *_who(body))
    return 204, None


def deal(sandbox: PipedriveSandbox, _: Request, body: dict[str, Any], deal_id: str) -> Result:
    return 200, {**sandbox.deal(deal_id), "activities": sandbox.activities_for_deal(deal_id),
                 "notes": sandbox.notes_for_deal(deal_id)}  # fmt: skip


def user_activities(sandbox: PipedriveSandbox, _: Request, body: dict[str, Any], user_id: int) -> Result:
    """GET /_sandbox/users/{id}/activities: the user's activities, standalone ones included."""
    return 200, {"results": sandbox.activities_for_user(user_id)}


def failures(sandbox: PipedriveSandbox, _: Request, body: dict[str, Any]) -> Result:
    return control.queue_failure(sandbox, body, "/api/", 1.0)


def config(sandbox: PipedriveSandbox, request: Request, body: dict[str, Any]) -> Result:
    """GET describes; POST applies known keys (unknown keys are a 400 so typos do not pass silently)."""
    s = sandbox.settings
    setters: dict[str, Any] = {
        "webhook_url": lambda v: setattr(s, "url", v or None),
        "webhook_user": lambda v: setattr(s, "user", str(v)),
        "webhook_password": lambda v: setattr(s, "password", str(v)),
        "duplicate_deliveries": lambda v: setattr(s, "duplicates", max(1, int(v))),
        "retry_delays": lambda v: setattr(s, "retry_delays", tuple(float(x) for x in v)),
        "delivery_timeout": lambda v: setattr(s, "timeout", float(v)),
        "api_token": lambda v: setattr(sandbox, "api_token", str(v)),
        "api_user_id": lambda v: setattr(sandbox, "api_user_id", int(v)),
        "rate_limit": lambda v: set_window(sandbox.limits.burst, v),
        "daily_budget": lambda v: setattr(sandbox.limits, "daily", int(v)),
        "stuck_cursor": lambda v: setattr(sandbox, "stuck_cursor", bool(v)),
    }
    if request.method == "POST":
        control.apply_settings(sandbox, setters, body)
    return 200, {
        "base_url": sandbox.base_url, "webhook_url": s.url, "webhook_user": s.user,
        "duplicate_deliveries": s.duplicates, "retry_delays": list(s.retry_delays), "delivery_timeout": s.timeout,
        "api_user_id": sandbox.api_user_id, "stuck_cursor": sandbox.stuck_cursor,
        "rate_limit": [sandbox.limits.burst.max_requests, sandbox.limits.burst.seconds],
        "daily_budget": sandbox.limits.daily, "daily_used": sandbox.limits.daily_used,
    }  # fmt: skip


HANDLERS: dict[str, control.Handler] = {
    **control.COMMON_HANDLERS, "ui_create": ui_create, "ui_update": ui_update, "ui_move": ui_move,
    "ui_delete": ui_delete, "deal": deal, "user_activities": user_activities, "failures": failures,
    "config": config,
}
