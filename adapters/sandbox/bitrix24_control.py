"""`/_sandbox/` control endpoints of the Bitrix24 sandbox (no auth): UI edits, failures, config.

POST     /_sandbox/ui/deals                {"fields": {...}, "user_id": N}          -> 201 deal
PATCH    /_sandbox/ui/deals/{id}           {"fields": {...}, "user_id": N}          -> 200 deal
POST     /_sandbox/ui/deals/{id}/move      {"stage", "category_id"?, "user_id"?}    -> 200 deal
DELETE   /_sandbox/ui/deals/{id}                                                  -> 204
GET      /_sandbox/deals/{id}              deal + todos, comments, stage history
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
import json
from typing import TYPE_CHECKING, Any

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from adapters.leaky_bucket import LeakyBucket
from adapters.sandbox.bitrix24_state import B24Error

if TYPE_CHECKING:
    from adapters.sandbox.bitrix24 import Bitrix24Sandbox

Result = tuple[int, Any]


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
        Rule("/_sandbox/offline", methods=["GET", "POST"], endpoint="offline"),
        Rule("/_sandbox/reset", methods=["POST"], endpoint="reset"),
        Rule("/_sandbox/webhooks", methods=["GET"], endpoint="webhooks"),
        Rule("/_sandbox/webhooks/wait", methods=["POST"], endpoint="wait"),
        Rule("/_sandbox/calls", methods=["GET"], endpoint="calls"),
    ], strict_slashes=False)  # fmt: skip


def dispatch(sandbox: Bitrix24Sandbox, request: Request) -> Response:
    """Route one control request; errors become JSON {"error": ...} with a 4xx/5xx status."""
    try:
        endpoint, values = url_map().bind_to_environ(request.environ).match()
        body = json.loads(request.get_data() or b"{}")
        if not isinstance(body, dict):
            raise ValueError("body must be a JSON object")
        status, result = HANDLERS[endpoint](sandbox, request, body, **values)
    except HTTPException as exc:
        status, result = exc.code or 500, {"error": exc.description}
    except B24Error as exc:
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


def ui_create(sandbox: Bitrix24Sandbox, _: Request, body: dict[str, Any]) -> Result:
    deal_id = sandbox.ui_create_deal(body.get("fields") or {}, int(body.get("user_id", 1)))
    return 201, sandbox.deal(deal_id)


def ui_update(sandbox: Bitrix24Sandbox, _: Request, body: dict[str, Any], deal_id: str) -> Result:
    sandbox.ui_update_deal(deal_id, body.get("fields") or {}, int(body.get("user_id", 1)))
    return 200, sandbox.deal(deal_id)


def ui_move(sandbox: Bitrix24Sandbox, _: Request, body: dict[str, Any], deal_id: str) -> Result:
    sandbox.ui_move_deal(deal_id, str(body["stage"]), body.get("category_id"), int(body.get("user_id", 1)))
    return 200, sandbox.deal(deal_id)


def ui_delete(sandbox: Bitrix24Sandbox, _: Request, body: dict[str, Any], deal_id: str) -> Result:
    sandbox.ui_delete_deal(deal_id)
    return 204, None


def deal(sandbox: Bitrix24Sandbox, _: Request, body: dict[str, Any], deal_id: str) -> Result:
    return 200, {
        **sandbox.deal(deal_id),
        "todos": sandbox.todos_for_deal(deal_id),
        "comments": sandbox.comments_for_deal(deal_id),
        "history": sandbox.stage_history(deal_id),
    }


def failures(sandbox: Bitrix24Sandbox, _: Request, body: dict[str, Any]) -> Result:
    sandbox.fail_next(str(body["mode"]), int(body.get("count", 1)), body.get("method"),
                      float(body.get("delay", 10.0)))  # fmt: skip
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
        unknown = sorted(set(body) - set(setters))
        if unknown:
            raise ValueError(f"unknown config keys {unknown}; known: {sorted(setters)}")
        with sandbox.lock:
            for key, value in body.items():
                setters[key](value)
    s = sandbox.settings
    return 200, {"base_url": sandbox.base_url, "incoming_webhook_url": sandbox.incoming_webhook_url,
                 "webhook_url": s.url, "member_id": s.member_id, "offline": s.offline,
                 "leaky_bucket": [sandbox.bucket.drain_rate, sandbox.bucket.capacity]}  # fmt: skip


def offline(sandbox: Bitrix24Sandbox, request: Request, body: dict[str, Any]) -> Result:
    if request.method == "POST":
        sandbox.set_offline(bool(body.get("enabled", True)))
    with sandbox.lock:
        return 200, {"offline": sandbox.settings.offline, "queue": sandbox.offline.pending()}


def reset(sandbox: Bitrix24Sandbox, _: Request, body: dict[str, Any]) -> Result:
    sandbox.reset()
    return 200, {"reset": True}


def webhooks(sandbox: Bitrix24Sandbox, _: Request, body: dict[str, Any]) -> Result:
    return 200, {"results": sandbox.webhook_deliveries()}


def wait(sandbox: Bitrix24Sandbox, _: Request, body: dict[str, Any]) -> Result:
    sandbox.wait_webhooks_idle(float(body.get("timeout", 5.0)))
    return 200, {"idle": True}


def calls(sandbox: Bitrix24Sandbox, request: Request, body: dict[str, Any]) -> Result:
    return 200, {"results": sandbox.api_calls(request.args.get("method"), request.args.get("auth"))}


HANDLERS: dict[str, Any] = {
    "ui_create": ui_create, "ui_update": ui_update, "ui_move": ui_move, "ui_delete": ui_delete,
    "deal": deal, "failures": failures, "config": config, "offline": offline, "reset": reset,
    "webhooks": webhooks, "wait": wait, "calls": calls,
}  # fmt: skip
