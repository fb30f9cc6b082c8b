"""POST /v1/webhooks/{connection_id}: CRM deliveries, authenticated by the CRM's own signature."""

from __future__ import annotations

from functools import lru_cache

from flask import Response, jsonify, request
from werkzeug.wrappers import Request

from schemas.common import AcceptedSchema
from service.api.common import ID, errors, public_blueprint, request_body, runtime
from service.services.intake import receive_webhook

blp = public_blueprint("webhooks", __name__, "/v1/webhooks", "CRM webhook deliveries (signed by the CRM, no API key)")


# What werkzeug's Request.url is made of (with no trusted_hosts set).
URL_PARTS = ("wsgi.url_scheme", "HTTP_HOST", "SERVER_NAME", "SERVER_PORT", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING")


def delivery_url(req: Request, public_url: str) -> str:
    """The URL the CRM called: `public_url` (QUALIFY_PUBLIC_URL) + path when set, else as seen (after
    ProxyFix)."""
    configured = public_url.rstrip("/")
    if configured:
        query = req.query_string.decode()
        return f"{configured}{req.path}" + (f"?{query}" if query else "")
    if req.trusted_hosts:
        return req.url  # validates the host
    return _seen_url(*(req.environ.get(part) for part in URL_PARTS))


@lru_cache(maxsize=256)
def _seen_url(*parts: str | None) -> str:
    # A CRM calls the same few URLs over and over: werkzeug's URL building (~0.05 ms) is done once for each.
    return Request({name: value for name, value in zip(URL_PARTS, parts, strict=True) if value is not None}).url


@blp.route(f"/<{ID}:connection_id>", methods=["POST"])
@blp.doc(
    security=[],
    description=(
        "Each CRM posts here as it sends its webhooks, authenticated by its own scheme (docs/crms.md): "
        "HubSpot a JSON batch of 1..100 events signed with X-HubSpot-Signature-v3 (HMAC over method, URL, body "
        "and X-HubSpot-Request-Timestamp, 5 minutes tolerance); Pipedrive a JSON event with HTTP Basic "
        "credentials and Qualify's `token` in the URL; amoCRM/Kommo a form-encoded body with Qualify's `secret` "
        "in the URL; Bitrix24 a form-encoded body carrying the application token. A delivery for another "
        "account than the connection's account_id is refused (401 wrong_account)."),
    requestBody={"required": True, "description": "The CRM's delivery, exactly as it sent it",
                 "content": {"application/json": {"schema": {}},
                             "application/x-www-form-urlencoded": {"schema": {"type": "object"}}}},
    parameters=[
        {"in": "header", "name": "X-HubSpot-Signature-v3", "required": False, "schema": {"type": "string"},
         "description": "HubSpot: base64 HMAC-SHA256 over method, URL, body and timestamp"},
        {"in": "header", "name": "X-HubSpot-Request-Timestamp", "required": False, "schema": {"type": "string"},
         "description": "HubSpot: epoch milliseconds; more than 5 minutes off is refused"},
        {"in": "header", "name": "X-HubSpot-Signature", "required": False, "schema": {"type": "string"},
         "description": "HubSpot: legacy v1/v2 signature, accepted only if the connection's signature_versions "
                        "allow it"},
        {"in": "header", "name": "X-HubSpot-Signature-Version", "required": False,
         "schema": {"type": "string", "enum": ["v1", "v2"]}},
        {"in": "header", "name": "Authorization", "required": False, "schema": {"type": "string"},
         "description": "Pipedrive: HTTP Basic credentials set on the webhook"},
        {"in": "query", "name": "token", "required": False, "schema": {"type": "string"},
         "description": "Pipedrive: the token in the webhook URL Qualify shows admins"},
        {"in": "query", "name": "secret", "required": False, "schema": {"type": "string"},
         "description": "amoCRM/Kommo: the secret in the webhook URL Qualify shows admins"},
    ],
)
@blp.response(200, AcceptedSchema)
@errors(blp, 400, 401, 404, 413, 503, descriptions={
    400: "Authentic, but not a delivery the CRM sends", 401: "Signature or credentials missing, stale or wrong, "
                                                             "or another account",
    404: "No active connection with this id"})
def receive(connection_id: int) -> Response:
    """Verify, store and acknowledge a delivery; duplicates are acknowledged and ignored.

    This view documents the operation and answers the odd URL only (`/v1/webhooks/007`): deliveries are
    answered in front of Flask by service/api/webhook_route.py, which calls the same use case."""
    settings = runtime().settings
    return jsonify(receive_webhook(runtime(), connection_id, method=request.method,
                                   url=delivery_url(request, settings.public_url), headers=dict(request.headers),
                                   body=request_body()))
