"""`/_sandbox/` control endpoints (no auth): simulate UI edits, inject failures, configure, inspect.

    POST   /_sandbox/ui/deals               {"properties": {...}, "user_id": N, "source"?} -> 201 deal
    PATCH  /_sandbox/ui/deals/{id}          {"properties": {...}, "user_id": N, "source"?} -> 200 deal
    POST   /_sandbox/ui/deals/{id}/move     {"stage", "pipeline"?, "user_id"?, "source"?}  -> 200 deal
    DELETE /_sandbox/ui/deals/{id}          {"user_id"?, "source"?}                        -> 204
    GET|POST /_sandbox/users                 users (archived owners too); POST adds one      -> 200 / 201
    PATCH  /_sandbox/users/{user_id}        {"active": bool}                                -> 200
    GET    /_sandbox/deals/{id}                                                     -> deal + tasks/notes
    GET    /_sandbox/users/{owner_id}/tasks                                  -> tasks owned, standalone or not
    POST   /_sandbox/pipelines              {"id", "label", "stages": [{"id", "label", "probability"?, "closed"?}]}
                                            -> 201 pipeline (as an admin adds one in HubSpot's settings)
    POST   /_sandbox/failures               {"mode", "count", "path_prefix", "method", "retry_after", "delay"}
    GET|POST /_sandbox/config               {"webhook_url", "client_secret", "duplicate_deliveries", ...}
    POST   /_sandbox/reset
    GET    /_sandbox/webhooks               every delivery: url, headers, body, status, error, attempt
    POST   /_sandbox/webhooks/wait          {"timeout": s}                             -> 200 or 504
    GET    /_sandbox/calls?method=&path_prefix=
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from adapters.sandbox import control
from adapters.sandbox import hubspot_errors as errors
from adapters.sandbox import hubspot_seed as seed
from adapters.sandbox.control import Result, set_window
from adapters.sandbox.hubspot_values import now_ms

DEFAULT_USER = 45678  # the sandbox's default acting user (Alice, owner 101)

if TYPE_CHECKING:
    from adapters.sandbox.hubspot import HubSpotSandbox


@functools.cache
def url_map() -> Map:
    """The control routes."""
    user_tasks = Rule("/_sandbox/users/<owner_id>/tasks", methods=["GET"], endpoint="user_tasks")
    pipelines = Rule("/_sandbox/pipelines", methods=["POST"], endpoint="pipelines")
    return control.build_map(*control.ui_rules("deal"), user_tasks, pipelines)


def dispatch(sandbox: HubSpotSandbox, request: Request) -> Response:
    """Run one control request; bad input is a 400 with {"error"}."""
    return control.dispatch(sandbox, request, url_map(), HANDLERS, errors.HubSpotApiError)


def _who(body: dict[str, Any]) -> tuple[int, str]:
    return int(body.get("user_id", DEFAULT_USER)), str(body.get("source", "ui"))


def ui_create(sandbox: HubSpotSandbox, _: Request, body: dict[str, Any]) -> Result:
    deal_id = sandbox.ui_create_deal(body.get("properties") or {}, *_who(body))
    return 201, sandbox.deal(deal_id)


def ui_update(sandbox: HubSpotSandbox, _: Request, body: dict[str, Any], deal_id: str) -> Result:
    sandbox.ui_update_deal(deal_id, body.get("properties") or {}, *_who(body))
    return 200, sandbox.deal(deal_id)


def ui_move(sandbox: HubSpotSandbox, _: Request, body: dict[str, Any], deal_id: str) -> Result:
    sandbox.ui_move_deal(deal_id, str(body["stage"]), body.get("pipeline"), *_who(body))
    return 200, sandbox.deal(deal_id)


def ui_delete(sandbox: HubSpotSandbox, _: Request, body: dict[str, Any], deal_id: str) -> Result:
    sandbox.ui_delete_deal(deal_id, *_who(body))
    return 204, None


def deal(sandbox: HubSpotSandbox, _: Request, body: dict[str, Any], deal_id: str) -> Result:
    return 200, {**sandbox.deal(deal_id), "tasks": sandbox.tasks_for_deal(deal_id),
                 "notes": sandbox.notes_for_deal(deal_id)}


def user_tasks(sandbox: HubSpotSandbox, _: Request, body: dict[str, Any], owner_id: str) -> Result:
    """GET /_sandbox/users/{owner_id}/tasks: the owner's tasks, standalone ones included."""
    return 200, {"results": sandbox.tasks_for_user(owner_id)}


def pipelines(sandbox: HubSpotSandbox, _: Request, body: dict[str, Any]) -> Result:
    """POST /_sandbox/pipelines: a new deal pipeline after the existing ones. A stage is closed when "closed" is
    true; HubSpot tells won from lost by its probability (1.0 won). ValueError (400) for a pipeline or stage id the
    portal already has, or no stages."""
    pipeline_id, label = str(body["id"]), str(body["label"])
    stages = [(str(s["id"]), str(s["label"]), str(s.get("probability", "0.5")), bool(s.get("closed", False)))
              for s in body["stages"]]
    with sandbox.lock:
        existing = sandbox.portal.pipelines
        taken = {s["id"] for p in existing.values() for s in p["stages"]}
        if not stages or pipeline_id in existing or taken & {s[0] for s in stages}:
            raise ValueError(f"pipeline {pipeline_id!r} or one of its stage ids exists already, or it has no stages")
        created = existing[pipeline_id] = seed.pipeline(pipeline_id, label, len(existing), stages, now_ms())
    return 201, created


def failures(sandbox: HubSpotSandbox, _: Request, body: dict[str, Any]) -> Result:
    return control.queue_failure(sandbox, body, "/crm/", 1.0)


def config(sandbox: HubSpotSandbox, request: Request, body: dict[str, Any]) -> Result:
    if request.method == "POST":
        apply_config(sandbox, body)
    return 200, describe(sandbox)


def apply_config(sandbox: HubSpotSandbox, body: dict[str, Any]) -> None:
    """Apply recognised keys; unknown keys are a 400 so typos do not pass silently."""
    settings = sandbox.settings
    control.apply_settings(sandbox, {
        "webhook_url": lambda v: setattr(settings, "url", v or None),
        "client_secret": lambda v: setattr(settings, "client_secret", str(v)),
        "duplicate_deliveries": lambda v: setattr(settings, "duplicates", max(1, int(v))),
        "retry_delays": lambda v: setattr(settings, "retry_delays", tuple(float(x) for x in v)),
        "delivery_timeout": lambda v: setattr(settings, "timeout", float(v)),
        "batch_window": lambda v: setattr(settings, "batch_window", float(v)),
        "subscribed_properties": lambda v: setattr(settings, "subscribed_properties", tuple(map(str, v))),
        "access_token": lambda v: setattr(sandbox, "access_token", str(v)),
        "api_change_source": lambda v: setattr(sandbox, "api_change_source", str(v)),
        "api_source_id": lambda v: setattr(sandbox, "api_source_id", str(v)),
        "rate_limit": lambda v: set_window(sandbox.limits.burst, v),
        "search_rate_limit": lambda v: set_window(sandbox.limits.search, v),
        "daily_limit": lambda v: setattr(sandbox.limits, "daily", int(v)),
    }, body)  # fmt: skip


def describe(sandbox: HubSpotSandbox) -> dict[str, Any]:
    s = sandbox.settings
    return {
        "base_url": sandbox.base_url, "app_id": sandbox.app_id, "portal_id": sandbox.portal_id,
        "webhook_url": s.url, "duplicate_deliveries": s.duplicates, "retry_delays": list(s.retry_delays),
        "delivery_timeout": s.timeout, "batch_window": s.batch_window,
        "subscribed_properties": list(s.subscribed_properties),
        "api_change_source": sandbox.api_change_source, "api_source_id": sandbox.api_source_id,
        "rate_limit": [sandbox.limits.burst.max_requests, sandbox.limits.burst.seconds],
        "search_rate_limit": [sandbox.limits.search.max_requests, sandbox.limits.search.seconds],
        "daily_limit": sandbox.limits.daily,
    }


HANDLERS: dict[str, control.Handler] = {
    **control.COMMON_HANDLERS, "ui_create": ui_create, "ui_update": ui_update, "ui_move": ui_move,
    "ui_delete": ui_delete, "deal": deal, "user_tasks": user_tasks, "pipelines": pipelines, "failures": failures,
    "config": config,
}
