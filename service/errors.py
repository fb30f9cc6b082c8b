"""Errors raised by use cases; the API maps each to one problem+json answer."""

from __future__ import annotations


class ServiceError(Exception):
    """A use case cannot proceed; `status` is the HTTP status the API answers with."""

    status = 400
    title = "Bad request"

    def __init__(self, detail: str, errors: dict[str, list[str]] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors


class NotFoundError(ServiceError):
    """The resource does not exist."""

    status = 404
    title = "Not found"


class ConflictError(ServiceError):
    """The request clashes with what is stored (duplicate key, resource in use)."""

    status = 409
    title = "Conflict"


class InvalidInputError(ServiceError):
    """The input is well-formed but breaks a rule (unknown field, bad condition)."""

    status = 422
    title = "Unprocessable content"


class UpstreamError(ServiceError):
    """The CRM refused or failed a call the request needed."""

    status = 502
    title = "CRM call failed"


class StorageError(ServiceError):
    """The event could not be stored; the sender should retry."""

    status = 503
    title = "Storage unavailable"
