"""`/_sandbox/` control endpoints of the Pipedrive sandbox (no auth): UI edits, failures, config, inspection.

    POST   /_sandbox/ui/deals               {"fields": {...}, "user_id": N}            -> 201 deal
    PATCH  /_sandbox/ui/deals/{id}          {"fields": {...}, "user_id": N}            -> 200 deal
    POST   /_sandbox/ui/deals/{id}/move     {"stage_id", "pipeline_id"?, "user_id"?}   -> 200 deal
    DELETE /_sandbox/ui/deals/{id}                                                     -> 204
    GET    /_sandbox/deals/{id}                                                        -> deal + activities/notes
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
import json
from typing import TYPE_CHECKING, Any

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from adapters.sandbox import pipedrive_errors as errors

if TYPE_CHECKING:
    from adapters.sandbox.pipedrive import PipedriveSandbox

Result = tuple[int, Any]
DEFAULT_USER = 1


@functools.cache
def url_map() -> Map:
    return Map([
        Rule("/_sandbox/ui/deals", methods=["POST"], endpoint="ui_create"),
        Rule("/_sandbox/ui/deals/<deal_id>", methods=["PATCH"], endpoint="ui_update"),
        Rule("/_sandbox/ui/deals/<deal_id>", methods=["DELETE"], endpoint="ui_delete"),
        Rule("/_sandbox/ui/deals/<deal_id>/move", methods=["POST"], endpoint="ui_move"),
        Rule("/_sandbox/deals/<deal_id>", methods=["GET"], endpoint="deal"),
        Rule("/_sandbox/failures", methods=["POST"], endpoint="failures"),
        Rule("/_sandbox/config", methods=["GET", "POST"], endpoint="config"),
        Rule("/_sandbox/reset", methods=["POST"], endpoint="reset"),
        Rule("/_sandbox/webhooks", methods=["GET"], endpoint="webhooks"),
        Rule("/_sandbox/webhooks/wait", methods=["POST"], endpoint="wait"),
        Rule("/_sandbox/calls", methods=["GET"], endpoint="calls"),
    ], strict_slashes=False)  # fmt: skip


def dispatch(sandbox: PipedriveSandbox, request: Request) -> Response:
    """Run one control request; bad input is a 400 with {"error"}."""
    try:
        endpoint, values = url_map().bind_to_environ(request.environ).match()
        body = json.loads(request.get_data() or b"{}")
        if not isinstance(body, dict):
            raise ValueError("body must be a JSON object")
        status, result = HANDLERS[endpoint](sandbox, request, body, **values)
    except HTTPException as exc:
        status, result = exc.code or 500, {"error": exc.description}
    except errors.PipedriveApiError as exc:
        status, result = exc.status, exc.body
    except (ValueError, TypeError, KeyError) as exc:
        status, result = 400, {"error": f"{type(exc).__name__}: {exc}"}
    except TimeoutError as exc:
        status, result = 504, {"error": str(exc)}
    response = Response(status=status)
    if status != 204:
        response.set_data(json.dumps(result))
        response.content_type = "application/json"
    return response


def _user(body: dict[str, Any]) -> int:
    return int(body.get("user_id", DEFAULT_USER))


def ui_create(sandbox: PipedriveSandbox, _: Request, body: dict[str, Any]) -> Result:
    return 201, sandbox.deal(sandbox.ui_create_deal(body.get("fields") or {}, _user(body)))


def ui_update(sandbox: PipedriveSandbox, _: Request, body: dict[str, Any], deal_id: str) -> Result:
    sandbox.ui_update_deal(deal_id, body.get("fields") or {}, _user(body))
    return 200, sandbox.deal(deal_id)


def ui_move(sandbox: PipedriveSandbox, _: Request, body: dict[str, Any], deal_id: str) -> Result:
    pipeline = body.get("pipeline_id")
    sandbox.ui_move_deal(deal_id, int(body["stage_id"]), None if pipeline is None else int(pipeline), _user(body))
    return 200, sandbox.deal(deal_id)


def ui_delete(sandbox: PipedriveSandbox, _: Request, body: dict[str, Any], deal_id: str) -> Result:
    sandbox.ui_delete_deal(deal_id, _user(body))
    return 204, None


def deal(sandbox: PipedriveSandbox, _: Request, body: dict[str, Any], deal_id: str) -> Result:
    return 200, {**sandbox.deal(deal_id), "activities": sandbox.activities_for_deal(deal_id),
                 "notes": sandbox.notes_for_deal(deal_id)}  # fmt: skip


def failures(sandbox: PipedriveSandbox, _: Request, body: dict[str, Any]) -> Result:
    sandbox.fail_next(str(body["mode"]), int(body.get("count", 1)), str(body.get("path_prefix", "/api/")),
                      body.get("method"), float(body.get("retry_after", 1.0)), float(body.get("delay", 10.0)))
    return 201, {"queued": body}


def _window(window: Any, value: Any) -> None:
    window.max_requests, window.seconds = int(value[0]), float(value[1])
    window.reset()


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
        "rate_limit": lambda v: _window(sandbox.limits.burst, v),
        "daily_budget": lambda v: setattr(sandbox.limits, "daily", int(v)),
        "stuck_cursor": lambda v: setattr(sandbox, "stuck_cursor", bool(v)),
    }
    if request.method == "POST":
        unknown = sorted(set(body) - set(setters))
        if unknown:
            raise ValueError(f"unknown config keys {unknown}; known: {sorted(setters)}")
        with sandbox.lock:
            for key, value in body.items():
                setters[key](value)
    return 200, {
        "base_url": sandbox.base_url, "webhook_url": s.url, "webhook_user": s.user,
        "duplicate_deliveries": s.duplicates, "retry_delays": list(s.retry_delays), "delivery_timeout": s.timeout,
        "api_user_id": sandbox.api_user_id, "stuck_cursor": sandbox.stuck_cursor,
        "rate_limit": [sandbox.limits.burst.max_requests, sandbox.limits.burst.seconds],
        "daily_budget": sandbox.limits.daily, "daily_used": sandbox.limits.daily_used,
    }  # fmt: skip


def reset(sandbox: PipedriveSandbox, _: Request, body: dict[str, Any]) -> Result:
    sandbox.reset()
    return 200, {"reset": True}


def webhooks(sandbox: PipedriveSandbox, _: Request, body: dict[str, Any]) -> Result:
    return 200, {"results": sandbox.webhook_deliveries()}


def wait(sandbox: PipedriveSandbox, _: Request, body: dict[str, Any]) -> Result:
    sandbox.wait_webhooks_idle(float(body.get("timeout", 5.0)))
    return 200, {"idle": True}


def calls(sandbox: PipedriveSandbox, request: Request, body: dict[str, Any]) -> Result:
    return 200, {"results": sandbox.api_calls(request.args.get("method"), request.args.get("path_prefix"))}


HANDLERS: dict[str, Any] = {
    "ui_create": ui_create, "ui_update": ui_update, "ui_move": ui_move, "ui_delete": ui_delete,
    "deal": deal, "failures": failures, "config": config, "reset": reset, "webhooks": webhooks,
    "wait": wait, "calls": calls,
}
