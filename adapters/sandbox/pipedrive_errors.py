"""Pipedrive error bodies, as the public API returns them.

Shape per https://pipedrive.readme.io/docs/core-api-concepts-responses: `{"success": false, "error": "...",
"error_info": "...", "data": null, "additional_data": null}`; v1 auth and rate-limit errors add
`errorCode` (e.g. `{"success":false,"error":"unauthorized access","errorCode":401,...}`).
"""

from __future__ import annotations

from typing import Any

ERROR_INFO = "Please check developers.pipedrive.com for more information about Pipedrive API."


class PipedriveApiError(ValueError):
    """An error response: HTTP status, JSON body and extra headers (a ValueError for Python callers)."""

    def __init__(self, status: int, error: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(error)
        self.status = status
        self.body: dict[str, Any] = {"success": False, "error": error, "error_info": ERROR_INFO, "data": None,
                                     "additional_data": None, "errorCode": status}  # fmt: skip
        self.headers = headers or {}


def unauthorized() -> PipedriveApiError:
    return PipedriveApiError(401, "unauthorized access")


def not_found(what: str) -> PipedriveApiError:
    return PipedriveApiError(404, f"{what} not found")


def invalid(message: str) -> PipedriveApiError:
    """v2's strict input validation answers 400 with the reason."""
    return PipedriveApiError(400, message)


def rate_limited(headers: dict[str, str], *, daily: bool = False) -> PipedriveApiError:
    error = "Daily API token budget exceeded" if daily else "Request over limit"
    return PipedriveApiError(429, error, headers)


def internal_error() -> PipedriveApiError:
    return PipedriveApiError(500, "Internal server error")


def unavailable() -> PipedriveApiError:
    return PipedriveApiError(503, "Service temporarily unavailable")
