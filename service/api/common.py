"""Helpers for views: the runtime, documented error responses, and auth wiring."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from flask import Response, current_app, request
from flask_smorest import Blueprint
from marshmallow import RAISE, Schema, ValidationError
from webargs.flaskparser import FlaskParser
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Request

from schemas.common import MAX_ID, ProblemSchema
from service.api.auth import authorize
from service.errors import ServiceError
from service.runtime import Runtime

if TYPE_CHECKING:
    from service.services.reports.exports import ReportFile

F = TypeVar("F", bound=Callable[..., Any])

# URL converter of resource ids: positive and within a 32-bit INTEGER column (PostgreSQL's `integer`),
# so an out-of-range id is an unmatched URL (404), never a database overflow.
ID = f"int(min=1, max={MAX_ID})"

def download(found: ReportFile) -> Response:
    """A file the use case wrote (CSV, XLSX), answered as an attachment under its name."""
    return Response(found.content, mimetype=found.mimetype,
                    headers={"Content-Disposition": f'attachment; filename="{found.filename}"'})


ERROR_DESCRIPTIONS = {
    400: "Malformed request", 401: "Missing or unknown API key", 403: "The key's role may not do this",
    404: "Not found", 409: "Conflict with stored data", 413: "Body over the size limit",
    422: "Validation failed", 429: "Too many failed authentications from this address; wait Retry-After seconds",
    502: "The CRM refused or failed", 503: "Could not store; retry",
}


def request_body() -> bytes:
    """The raw body of the current request; 413 when it is over MAX_CONTENT_LENGTH (see `read_body`)."""
    return read_body(request, current_app.config["MAX_CONTENT_LENGTH"])


def read_body(req: Request, limit: int) -> bytes:
    """The raw body of `req` (its `max_content_length` being `limit`); 413 when it is over the limit, announced
    or not: werkzeug refuses a Content-Length over the limit, but silently cuts a chunked body (which has none)
    at the limit. A server that ends the input stream itself (`wsgi.input_terminated`: gunicorn, at the
    Content-Length or the last chunk) is read directly, without werkzeug's stream wrappers."""
    length = req.content_length
    if length is not None and length > limit:
        raise RequestEntityTooLarge()
    if not req.environ.get("wsgi.input_terminated"):
        return req.get_data(cache=False)
    body: bytes = req.environ["wsgi.input"].read(limit + 1)
    if len(body) > limit:
        raise RequestEntityTooLarge()
    return body


def runtime() -> Runtime:
    """The runtime of the current app."""
    return current_app.extensions["qualify"]  # type: ignore[no-any-return]


class BodyParser(FlaskParser):
    """webargs' Flask parser, also answering 400 to JSON nested deeper than the decoder can follow
    (json.loads raises RecursionError, which webargs does not expect, for about 1000 levels), and 400 to a query
    parameter the view does not declare (webargs ignores those by default, so `?grade=D` on a list would answer
    an unfiltered page that looks filtered)."""

    DEFAULT_UNKNOWN_BY_LOCATION = {**FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION, "query": RAISE, "querystring": RAISE}

    def handle_error(self, error: ValidationError, req: Any, schema: Schema, *, error_status_code: int | None,
                     error_headers: Any) -> NoReturn:
        unknown_query_args(error, schema)
        super().handle_error(error, req, schema, error_status_code=error_status_code, error_headers=error_headers)

    def load_json(self, req: Any, schema: Any) -> Any:
        try:
            return super().load_json(req, schema)
        except RecursionError:
            error = json.JSONDecodeError("JSON nested too deeply", "<request body>", 0)
            return self._handle_invalid_json_error(error, req)


def unknown_query_args(error: ValidationError, schema: Schema) -> None:
    """Raise a 400 ServiceError naming the query parameters `error` reports as unknown to `schema`, with the
    ones it accepts; return when there are none."""
    messages = error.messages.get("query") if isinstance(error.messages, dict) else None
    marker = schema.error_messages["unknown"]
    unknown = sorted(name for name, problems in (messages or {}).items() if problems == [marker])
    if not unknown:
        return
    accepted = sorted(f.data_key or name for name, f in schema.fields.items() if not f.dump_only)
    listed = ", ".join(accepted) or "none"
    raise ServiceError(f"Unknown query parameter{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; "
                       f"this endpoint accepts: {listed}.",
                       {name: [f"Unknown query parameter; accepted: {listed}."] for name in unknown})


class ApiBlueprint(Blueprint):
    """A flask-smorest Blueprint documenting only the answers its views declare.

    flask-smorest adds a `default` response with its own JSON error body to every operation;
    this API never sends that body (every error is problem+json, documented per status with
    `errors(...)`), and a `default` would hide undocumented statuses from spec conformance tests.
    """

    ARGUMENTS_PARSER = BodyParser()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._prepare_doc_cbks.append(self._drop_default_response)

    @staticmethod
    def _drop_default_response(doc: dict[str, Any], doc_info: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        doc.get("responses", {}).pop("default", None)
        return doc


def errors(blp: Blueprint, *codes: int, descriptions: dict[int, str] | None = None) -> Callable[[F], F]:
    """Document problem+json answers for the given status codes on a view (`descriptions` overrides the
    generic description of a status where a view means something more specific)."""
    described = {**ERROR_DESCRIPTIONS, **(descriptions or {})}
    # Wherever a key can be refused, failed authentications are throttled too (service/api/security.py).
    documented = (*codes, 429) if 401 in codes else codes

    def decorate(func: F) -> F:
        for code in documented:
            func = blp.alt_response(code, schema=ProblemSchema, description=described[code],
                                    content_type="application/problem+json")(func)
        return func

    return decorate


def public_blueprint(name: str, import_name: str, url_prefix: str | None, description: str) -> Blueprint:
    """A blueprint whose views need no API key (health checks, CRM-signed webhooks)."""
    return ApiBlueprint(name, import_name, url_prefix=url_prefix, description=description)


def protected_blueprint(name: str, import_name: str, url_prefix: str, description: str) -> Blueprint:
    """A blueprint whose every view needs an API key (admin to write, manager to read)."""
    blp = ApiBlueprint(name, import_name, url_prefix=url_prefix, description=description)
    blp.before_request(authorize)
    return blp
