"""`/_sandbox/` control endpoints of the amoCRM sandbox (no auth) and its failure injection.

    POST   /_sandbox/ui/leads               {"fields": {...}, "user_id": N}          -> 201 lead
    PATCH  /_sandbox/ui/leads/{id}          {"fields": {...}, "user_id": N}          -> 200 lead
    POST   /_sandbox/ui/leads/{id}/move     {"status_id", "pipeline_id"?, "user_id"?} -> 200 lead
    DELETE /_sandbox/ui/leads/{id}                                                   -> 204
    GET    /_sandbox/leads/{id}                                                      -> lead + tasks/notes
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
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from adapters.sandbox.amocrm_state import ApiError

if TYPE_CHECKING:
    from adapters.sandbox.amocrm import AmoCRMSandbox

# expire-token: the current access token stops working (401) until refreshed;
# page-stuck: the next list answer's `_links.next` points at the same page.
FAILURE_MODES = frozenset({"500", "503", "429", "401", "timeout", "expire-token", "page-stuck"})


@dataclass
class Failure:
    """A queued one-shot failure for requests whose path starts with `path_prefix`."""

    mode: str
    count: int = 1
    path_prefix: str = "/api/v4/"
    method: str | None = None
    retry_after: float | None = None
    delay: float = 10.0


class FailureInjector:
    """Queue of failures; the first rule matching a request fires and counts down."""

    def __init__(self) -> None:
        self.rules: list[Failure] = []

    def add(self, rule: Failure) -> None:
        if rule.mode not in FAILURE_MODES:
            raise ValueError(f"unknown failure mode {rule.mode!r}; use one of {sorted(FAILURE_MODES)}")
        if rule.count < 1:
            raise ValueError("count must be at least 1")
        self.rules.append(rule)

    def take(self, method: str, path: str) -> Failure | None:
        for rule in self.rules:
            if path.startswith(rule.path_prefix) and (rule.method is None or rule.method.upper() == method):
                rule.count -= 1
                if rule.count <= 0:
                    self.rules.remove(rule)
                return rule
        return None


def failure_error(rule: Failure) -> ApiError:
    """The answer an injected 500/503/429/401 produces."""
    headers = {}
    if rule.mode == "429" and rule.retry_after is not None:
        headers["Retry-After"] = f"{rule.retry_after:g}"
    return ApiError(int(rule.mode), "Injected failure", headers=headers)


@functools.cache
def url_map() -> Map:
    """The control routes."""
    return Map([
        Rule("/_sandbox/ui/leads", methods=["POST"], endpoint="ui_create"),
        Rule("/_sandbox/ui/leads/<int:lead_id>", methods=["PATCH"], endpoint="ui_update"),
        Rule("/_sandbox/ui/leads/<int:lead_id>", methods=["DELETE"], endpoint="ui_delete"),
        Rule("/_sandbox/ui/leads/<int:lead_id>/move", methods=["POST"], endpoint="ui_move"),
        Rule("/_sandbox/leads/<int:lead_id>", methods=["GET"], endpoint="lead"),
        Rule("/_sandbox/failures", methods=["POST"], endpoint="failures"),
        Rule("/_sandbox/config", methods=["GET", "POST"], endpoint="config"),
        Rule("/_sandbox/reset", methods=["POST"], endpoint="reset"),
        Rule("/_sandbox/webhooks", methods=["GET"], endpoint="webhooks"),
        Rule("/_sandbox/webhooks/wait", methods=["POST"], endpoint="wait"),
        Rule("/_sandbox/calls", methods=["GET"], endpoint="calls"),
    ], strict_slashes=False)  # fmt: skip


def dispatch(sandbox: AmoCRMSandbox, request: Request) -> Response:
    """Run one control request; errors are JSON {"error": ...} with 400/404/504."""
    try:
        endpoint, values = url_map().bind_to_environ(request.environ).match()
        body = json.loads(request.get_data() or b"{}")
        if not isinstance(body, dict):
            raise ValueError("body must be a JSON object")
        status, result = _handle(sandbox, request, str(endpoint), body, values.get("lead_id"))
    except HTTPException as exc:
        status, result = exc.code or 500, {"error": exc.description}
    except ApiError as exc:
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


def _handle(sandbox: AmoCRMSandbox, request: Request, endpoint: str, body: dict[str, Any],
            lead_id: int | None) -> tuple[int, Any]:  # fmt: skip
    user = int(body.get("user_id", sandbox.default_user_id))
    if endpoint == "ui_create":
        return 201, sandbox.lead(sandbox.ui_create_lead(body.get("fields") or {}, user))
    if endpoint == "ui_update" and lead_id is not None:
        sandbox.ui_update_lead(lead_id, body.get("fields") or {}, user)
        return 200, sandbox.lead(lead_id)
    if endpoint == "ui_move" and lead_id is not None:
        sandbox.ui_move_lead(lead_id, int(body["status_id"]), body.get("pipeline_id"), user_id=user)
        return 200, sandbox.lead(lead_id)
    if endpoint == "ui_delete" and lead_id is not None:
        sandbox.ui_delete_lead(lead_id, user)
        return 204, None
    if endpoint == "lead" and lead_id is not None:
        return 200, {**sandbox.lead(lead_id), "tasks": sandbox.tasks_for_lead(lead_id),
                     "notes": sandbox.notes_for_lead(lead_id)}  # fmt: skip
    if endpoint == "failures":
        sandbox.fail_next(str(body["mode"]), int(body.get("count", 1)), str(body.get("path_prefix", "/api/v4/")),
                          body.get("method"), body.get("retry_after"), float(body.get("delay", 10.0)))  # fmt: skip
        return 201, {"queued": body}
    if endpoint == "config":
        if request.method == "POST":
            sandbox.configure(body)
        return 200, sandbox.describe()
    if endpoint == "reset":
        sandbox.reset()
        return 200, {"reset": True}
    if endpoint == "webhooks":
        return 200, {"results": sandbox.webhook_deliveries()}
    if endpoint == "wait":
        sandbox.wait_webhooks_idle(float(body.get("timeout", 5.0)))
        return 200, {"idle": True}
    if endpoint == "calls":
        return 200, {"results": sandbox.api_calls(request.args.get("method"), request.args.get("path_prefix"))}
    raise ApiError(404, "Not Found")
