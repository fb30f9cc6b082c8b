"""/v1/keys: API keys (admin only): list them with their last use and expiry, create one, revoke one."""

from __future__ import annotations

from typing import Any

from flask import g
from flask.views import MethodView

from schemas.common import PageArgsSchema
from schemas.keys import KeyCreatedSchema, KeyInSchema, KeyPageSchema
from service.api.auth import AuthProblem
from service.api.common import errors, protected_blueprint, runtime
from service.services import keys as service

blp = protected_blueprint("keys", __name__, "/v1/keys", "API keys: list, create, revoke (admin only)")


@blp.before_request
def admins_only() -> None:
    """Runs after `authorize`: keys are an admin's business, even to read."""
    if g.get("role") != "admin":
        raise AuthProblem(403, "Only a key with the `admin` role may list, create or revoke API keys.")


@blp.route("")
class Keys(MethodView):
    """The collection of API keys."""

    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, KeyPageSchema)
    @errors(blp, 400, 401, 403, 422)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List keys, oldest first, with when each was last used (to the minute), its expiry and its state;
        never a secret."""
        return service.key_page(runtime(), args["page"], args["page_size"])

    @blp.arguments(KeyInSchema)
    @blp.response(201, KeyCreatedSchema)
    @errors(blp, 400, 401, 403, 413, 422)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Create a key; the answer is the only place its secret is ever shown (Qualify keeps only a hash).
        With `expires_at` or `expires_in_days` it stops working then, for the API and for browser sessions."""
        return service.issue_key(runtime(), data["role"], data["name"], data.get("expires_at"),
                                 expires_in_days=data.get("expires_in_days"))


@blp.route("/<string(length=8):prefix>")
class KeyByPrefix(MethodView):
    """One key, named by its public prefix."""

    @blp.response(204)
    @errors(blp, 401, 403, 404)
    def delete(self, prefix: str) -> None:
        """Revoke a key: calls with it get 401 and browser sessions signed in with it end, at once. Revoking
        the key this request is made with is allowed, and ends your own access: keep another admin key."""
        service.revoke_key_or_404(runtime(), prefix)
