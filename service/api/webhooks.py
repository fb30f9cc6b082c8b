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
    requestBody={"required": True, "description": "HubSpot's batch of 1..100 events, as HubSpot sent it",
                 "content": {"application/json": {"schema": {
                     "type": "array", "minItems": 1, "maxItems": 100, "items": {"type": "object"}}}}},
    parameters=[
        {"in": "header", "name": "X-HubSpot-Signature-v3", "required": True, "schema": {"type": "string"},
         "description": "base64 HMAC-SHA256 over method, URL, body and timestamp"},
        {"in": "header", "name": "X-HubSpot-Request-Timestamp", "required": True, "schema": {"type": "string"},
         "description": "epoch milliseconds; more than 5 minutes off is refused"},
        {"in": "header", "name": "X-HubSpot-Signature", "required": False, "schema": {"type": "string"},
         "description": "legacy v1/v2 signature, accepted only if the connection's signature_versions allow it"},
        {"in": "header", "name": "X-HubSpot-Signature-Version", "required": False,
         "schema": {"type": "string", "enum": ["v1", "v2"]}},
    ],
)
@blp.response(200, AcceptedSchema)
@errors(blp, 400, 401, 404, 413, 503, descriptions={
    400: "Signed, but not a batch of events", 401: "Signature missing, stale or wrong",
    404: "No active connection with this id"})
def receive(connection_id: int) -> Response:
    """Verify, store and acknowledge a delivery; duplicates are acknowledged and ignored."""
    return jsonify(receive_webhook(runtime(), connection_id, method=request.method, url=public_url(),
                                   headers=dict(request.headers), body=request_body()))
