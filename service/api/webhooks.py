"""POST /v1/webhooks/{connection_id}: CRM deliveries, authenticated by the CRM's own signature."""

from __future__ import annotations

from flask import Response, jsonify, request

from schemas.common import AcceptedSchema
from service.api.common import ID, errors, public_blueprint, request_body, runtime
from service.services.intake import receive_webhook

blp = public_blueprint("webhooks", __name__, "/v1/webhooks", "CRM webhook deliveries (signed by the CRM, no API key)")


def public_url() -> str:
    """The URL the CRM called: QUALIFY_PUBLIC_URL + path when set, else as seen (after ProxyFix)."""
    configured = runtime().settings.public_url.rstrip("/")
    if configured:
        query = request.query_string.decode()
        return f"{configured}{request.path}" + (f"?{query}" if query else "")
    return request.url


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
    """Verify, store and acknowledge a delivery; duplicates are acknowledged and ignored."""
    return jsonify(receive_webhook(runtime(), connection_id, method=request.method, url=public_url(),
                                   headers=dict(request.headers), body=request_body()))
