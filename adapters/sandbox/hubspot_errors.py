"""HubSpot error bodies, exactly as the public API returns them.

Shapes follow https://developers.hubspot.com/docs/api-reference/error-handling and bodies captured
in public client code: every error carries `status`, `message`, `correlationId` and `category`;
rate-limit errors carry `errorType`/`policyName`/`groupName` instead of `category`.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

AUTH_MESSAGE = (
    "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find "
    "more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"
)
NOT_FOUND_MESSAGE = "Object not found.  objectId are usually numeric."


class HubSpotApiError(ValueError):
    """An error response: HTTP status, JSON body and extra headers (a ValueError for Python callers)."""

    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        super().__init__(body.get("message", ""))
        self.status = status
        self.body = body
        self.headers = headers or {}


def correlation_id() -> str:
    return str(uuid.uuid4())


def error_body(message: str, category: str, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"status": "error", "message": message, "correlationId": correlation_id()}
    body.update(extra)
    body["category"] = category
    return body


def unauthorized() -> HubSpotApiError:
    return HubSpotApiError(401, error_body(AUTH_MESSAGE, "INVALID_AUTHENTICATION"))


def object_not_found(object_id: str) -> HubSpotApiError:
    body = error_body(NOT_FOUND_MESSAGE, "OBJECT_NOT_FOUND", context={"id": [object_id]})
    return HubSpotApiError(404, body)


def not_found(message: str) -> HubSpotApiError:
    return HubSpotApiError(404, error_body(message, "OBJECT_NOT_FOUND"))


def validation(message: str, **extra: Any) -> HubSpotApiError:
    return HubSpotApiError(400, error_body(message, "VALIDATION_ERROR", **extra))


def conflict(message: str) -> HubSpotApiError:
    return HubSpotApiError(409, error_body(message, "OBJECT_ALREADY_EXISTS"))


def invalid_json(detail: str) -> HubSpotApiError:
    return validation(f"Invalid input JSON on line 1, column 1: {detail}")


def property_result(name: str, error: str, message: str, portal_id: int) -> dict[str, Any]:
    """One entry of the list HubSpot embeds in 'Property values were not valid: [...]'."""
    return {
        "isValid": False,
        "message": message,
        "error": error,
        "name": name,
        "localizedErrorMessage": message,
        "portalId": portal_id,
    }


def invalid_properties(results: list[dict[str, Any]]) -> HubSpotApiError:
    """HubSpot's 400 for bad property values: the list is JSON inside `message`, plus `errors`."""
    message = "Property values were not valid: " + json.dumps(results, separators=(",", ":"))
    errors = [{"message": r["message"], "code": r["error"], "context": {"propertyName": [r["name"]]}}
              for r in results]
    return validation(message, errors=errors)


def rate_limited(policy: str, retry_after: float, group: str) -> HubSpotApiError:
    """429 body per the usage guidelines; `policy` is TEN_SECONDLY_ROLLING, SECONDLY or DAILY."""
    messages = {
        "TEN_SECONDLY_ROLLING": "You have reached your ten_secondly_rolling limit.",
        "SECONDLY": "You have reached your secondly limit.",
        "DAILY": "You have reached your daily limit.",
    }
    body = {
        "status": "error",
        "message": messages.get(policy, "You have reached your limit."),
        "errorType": "RATE_LIMIT",
        "correlationId": correlation_id(),
        "policyName": policy,
        "groupName": group,
    }
    seconds = max(1, int(retry_after + 0.999))
    return HubSpotApiError(429, body, {"Retry-After": str(seconds)})


def internal_error() -> HubSpotApiError:
    return HubSpotApiError(500, error_body("internal error", "INTERNAL_ERROR"))


def unavailable() -> HubSpotApiError:
    return HubSpotApiError(503, error_body("Service Unavailable", "SERVICE_UNAVAILABLE"))
