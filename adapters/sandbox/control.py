"""Shared `/_sandbox/` control plumbing of the CRM sandboxes: routes, dispatch, JSON answers, common handlers.

Every sandbox serves the same control routes (failures, config, reset, webhooks log, webhooks/wait, calls log,
users) next to its own UI-simulation routes; handlers take ``(sandbox, request, body, **route values)`` and return
``(status, result)``. Bad input is a 400 with ``{"error"}``, a vendor API error keeps its status and body, an
unknown route is 404 and a timed-out wait is 504.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import asdict
from typing import Any

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

Result = tuple[int, Any]
Handler = Callable[..., Result]


def ui_rules(entity: str, converter: str = "") -> list[Rule]:
    """UI-simulation routes for `entity` ("deal" or "lead"): create, update, delete, move and inspect."""
    plural, arg = f"{entity}s", f"<{converter}{entity}_id>"
    return [
        Rule(f"/_sandbox/ui/{plural}", methods=["POST"], endpoint="ui_create"),
        Rule(f"/_sandbox/ui/{plural}/{arg}", methods=["PATCH"], endpoint="ui_update"),
        Rule(f"/_sandbox/ui/{plural}/{arg}", methods=["DELETE"], endpoint="ui_delete"),
        Rule(f"/_sandbox/ui/{plural}/{arg}/move", methods=["POST"], endpoint="ui_move"),
        Rule(f"/_sandbox/{plural}/{arg}", methods=["GET"], endpoint=entity),
    ]


def common_rules() -> list[Rule]:
    """The control routes every sandbox has (fresh Rule objects: a Rule belongs to one Map)."""
    return [
        Rule("/_sandbox/failures", methods=["POST"], endpoint="failures"),
        Rule("/_sandbox/config", methods=["GET", "POST"], endpoint="config"),
        Rule("/_sandbox/reset", methods=["POST"], endpoint="reset"),
        Rule("/_sandbox/webhooks", methods=["GET"], endpoint="webhooks"),
        Rule("/_sandbox/webhooks/wait", methods=["POST"], endpoint="wait"),
        Rule("/_sandbox/calls", methods=["GET"], endpoint="calls"),
        Rule("/_sandbox/users", methods=["GET", "POST"], endpoint="users"),
        Rule("/_sandbox/users/<int:user_id>", methods=["PATCH"], endpoint="user"),
    ]


def build_map(*rules: Rule) -> Map:
    """A control Map of `rules` plus the common routes."""
    return Map([*rules, *common_rules()], strict_slashes=False)


def json_answer(status: int, result: Any) -> Response:
    """A JSON response; 204 has no body."""
    response = Response(status=status)
    if status != 204:
        response.set_data(json.dumps(result))
        response.content_type = "application/json"
    return response


def read_body(request: Request) -> dict[str, Any]:
    """The JSON object body (``{}`` when empty); ValueError when it is not an object."""
    body = json.loads(request.get_data() or b"{}")
    if not isinstance(body, dict):
        raise ValueError("body must be a JSON object")
    return body


def dispatch(sandbox: Any, request: Request, url_map: Map, handlers: Mapping[str, Handler],
             api_error: type[Exception]) -> Response:  # fmt: skip
    """Route one control request to its handler; errors become JSON with a 4xx/5xx status.

    `api_error` is the sandbox's API error type (it has ``status`` and ``body``); it is caught before
    ValueError because some of them are ValueErrors.
    """
    try:
        endpoint, values = url_map.bind_to_environ(request.environ).match()
        body = read_body(request)
        status, result = handlers[endpoint](sandbox, request, body, **values)
    except HTTPException as exc:
        status, result = exc.code or 500, {"error": exc.description}
    except api_error as exc:
        error: Any = exc
        status, result = error.status, error.body
    except (ValueError, TypeError, KeyError) as exc:
        status, result = 400, {"error": f"{type(exc).__name__}: {exc}"}
    except TimeoutError as exc:
        status, result = 504, {"error": str(exc)}
    return json_answer(status, result)


def apply_settings(sandbox: Any, setters: Mapping[str, Callable[[Any], None]], body: dict[str, Any]) -> None:
    """Apply recognised config keys under the sandbox lock; unknown keys are a ValueError (typos do not pass)."""
    unknown = sorted(set(body) - set(setters))
    if unknown:
        raise ValueError(f"unknown config keys {unknown}; known: {sorted(setters)}")
    with sandbox.lock:
        for key, value in body.items():
            setters[key](value)


def set_window(window: Any, value: Any) -> None:
    """Resize a rolling rate window from ``[max_requests, seconds]`` and empty it."""
    window.max_requests, window.seconds = int(value[0]), float(value[1])
    window.reset()


def queue_failure(sandbox: Any, body: dict[str, Any], path_prefix: str, retry_after: float | None) -> Result:
    """POST /_sandbox/failures for path-matched failures; defaults are the sandbox's prefix and retry_after."""
    retry = body.get("retry_after", retry_after)
    sandbox.fail_next(str(body["mode"]), int(body.get("count", 1)), str(body.get("path_prefix", path_prefix)),
                      body.get("method"), None if retry is None else float(retry), float(body.get("delay", 10.0)))
    return 201, {"queued": body}


def reset(sandbox: Any, _: Request, body: dict[str, Any]) -> Result:
    """POST /_sandbox/reset."""
    sandbox.reset()
    return 200, {"reset": True}


def webhooks(sandbox: Any, _: Request, body: dict[str, Any]) -> Result:
    """GET /_sandbox/webhooks: every delivery attempted."""
    return 200, {"results": sandbox.webhook_deliveries()}


def wait(sandbox: Any, _: Request, body: dict[str, Any]) -> Result:
    """POST /_sandbox/webhooks/wait: 200 once idle, TimeoutError (504) otherwise."""
    sandbox.wait_webhooks_idle(float(body.get("timeout", 5.0)))
    return 200, {"idle": True}


def calls(sandbox: Any, request: Request, body: dict[str, Any]) -> Result:
    """GET /_sandbox/calls?method=&path_prefix=."""
    return 200, {"results": sandbox.api_calls(request.args.get("method"), request.args.get("path_prefix"))}


def users(sandbox: Any, request: Request, body: dict[str, Any]) -> Result:
    """GET /_sandbox/users: every user, deactivated ones too; POST {"first_name", "last_name", "email",
    "active"?} adds one (201)."""
    if request.method == "POST":
        added = sandbox.add_user(str(body["first_name"]), str(body.get("last_name") or ""), str(body["email"]),
                                 active=bool(body.get("active", True)))  # fmt: skip
        return 201, asdict(added)
    return 200, {"results": [asdict(u) for u in sandbox.users()]}


def user(sandbox: Any, _: Request, body: dict[str, Any], user_id: int) -> Result:
    """PATCH /_sandbox/users/{user_id} {"active": bool}: deactivate or reactivate a user."""
    sandbox.set_user_active(user_id, bool(body["active"]))
    return 200, {"results": [asdict(u) for u in sandbox.users() if u.user_id == user_id]}


COMMON_HANDLERS: dict[str, Handler] = {"reset": reset, "webhooks": webhooks, "wait": wait, "calls": calls,
                                       "users": users, "user": user}  # fmt: skip
