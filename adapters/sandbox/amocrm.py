"""Local amoCRM / Kommo simulator: API v4, OAuth 2 token endpoint, lead webhooks and test controls.

    sandbox = AmoCRMSandbox(webhook_url="http://127.0.0.1:8000/webhooks/amocrm/<secret>")
    base_url = sandbox.start()            # credentials.base_url for AmoCRMAdapter
    lead_id = sandbox.ui_create_lead({"name": "Acme", "900001": "IT"})
    sandbox.ui_move_lead(lead_id, 7000012)  # queues a form-encoded leads[status][0] POST
    sandbox.ui_move_lead(lead_id, 142, user_id=5000003, source="api")  # modified_user_id 5000003, no channel
    sandbox.wait_webhooks_idle()
    sandbox.stop()

People: `users()` (5000001..5000004 active, 5000005 deactivated), `add_user`, `set_user_active`; the account's
currency is RUB (GET /api/v4/account). Customers (amocrm_customers): companies 40000001..40000003 and contacts
41000001..41000003 with custom fields; a lead links them with `ui_create_lead({"name": "B2B", "company_id":
40000001, "contact_ids": [41000001]})` or `_embedded` in the API body.

Everything is in memory under one lock. API calls need ``Authorization: Bearer <access_token>``;
``POST /oauth2/access_token`` rotates the pair (the used refresh token and the old access token stop
working). 7 requests per second per account, else 429. Control endpoints: amocrm_control.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Callable
from typing import Any

from werkzeug.wrappers import Request, Response

from adapters.sandbox import amocrm_api, amocrm_control, control
from adapters.sandbox import amocrm_customers as customers
from adapters.sandbox.amocrm_control import FAILURE_MODES, failure_error
from adapters.sandbox.amocrm_state import USER_ANNA, Account, ApiError
from adapters.sandbox.amocrm_state import user as seed_user
from adapters.sandbox.amocrm_webhooks import WebhookSender, WebhookSettings, legacy_entry
from adapters.sandbox.base import PathSandbox, read_json, serve_forever
from adapters.sandbox.control import set_window
from adapters.sandbox.failures import Failure, FailureInjector
from adapters.sandbox.hubspot_limits import RollingWindow
from adapters.sandbox.people import API, UI, SandboxUser, check_source
from adapters.sandbox.scenario import Scenario

log = logging.getLogger(__name__)
SOURCES = (UI, API)  # amoCRM names the user of a change, never its channel
OAUTH_PROBLEM = "https://developers.amocrm.ru/v3/errors/OAuthProblemJson"


class AmoCRMSandbox(PathSandbox):
    """An in-memory amoCRM account served over HTTP; see the module docstring."""

    sender: WebhookSender

    def __init__(self, *, subdomain: str = "sandbox", account_id: int = 31_000_001,
                 access_token: str = "amo-sandbox-access", refresh_token: str = "amo-sandbox-refresh",
                 client_id: str = "sandbox-client-id", client_secret: str = "sandbox-client-secret",
                 webhook_url: str | None = None, url_secret: str = "sandbox-url-secret-0123456789",
                 rate_limit: tuple[int, float] = (7, 1.0), seed: bool = True, token_lifetime: int = 86_400) -> None:
        super().__init__()
        self.subdomain, self.account_id, self.seed = subdomain, account_id, seed
        self.access_token, self.refresh_token = access_token, refresh_token
        self.client_id, self.client_secret, self.url_secret = client_id, client_secret, url_secret
        self.token_lifetime = token_lifetime
        self.default_user_id = USER_ANNA
        self.api_user_id = USER_ANNA  # amoCRM attributes API writes to the user who installed the integration
        self.settings = WebhookSettings(url=webhook_url, subdomain=subdomain, account_id=account_id)
        self.sender = WebhookSender(self.settings)
        self.window = RollingWindow(*rate_limit)
        self.failures = FailureInjector(FAILURE_MODES)
        self.refreshes = 0
        self._url_map = amocrm_api.build_map()
        self.account = self._new_account()

    # ---- lifecycle ----------------------------------------------------------------------------
    def _started(self) -> None:
        self.settings.base_url = self.base_url

    def reset(self) -> None:
        """Back to the seeded account: clears data, logs, failures and the rate window; keeps config."""
        with self.lock:
            self.account = self._new_account()
            self.calls.clear()
            self.failures.clear()
            self.window.reset()
        self.sender.clear()

    def _new_account(self) -> Account:
        account = Account(self.subdomain, self.account_id, listener=self._on_change,
                          company_fields=customers.company_fields(), contact_fields=customers.contact_fields())
        if self.seed:
            account.companies, account.contacts = customers.seed_companies(), customers.seed_contacts()
        if self.seed:
            listener, account.listener = account.listener, None  # seeding sends no webhooks
            for name, price in (("Acme rollout", 12000), ("Globex pilot", 4500), ("Initech renewal", 800)):
                account.create_lead({"name": name, "price": price}, USER_ANNA)
            account.listener = listener
        return account

    def _on_change(self, action: str, lead: dict[str, Any], old: dict[str, Any], user_id: int) -> None:
        fields = {int(f["id"]): f for f in self.account.custom_fields}
        self.sender.enqueue(action, legacy_entry(action, lead, old, user_id, fields))

    # ---- test helpers -------------------------------------------------------------------------
    def lead(self, lead_id: int | str) -> dict[str, Any]:
        """The lead as the API renders it; ApiError (404) if unknown."""
        with self.lock:
            return self.account.render(self.account.lead(int(lead_id)), self.base_url)

    def tasks_for_lead(self, lead_id: int | str) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(t) for t in self.account.tasks.values() if t["entity_id"] == int(lead_id)]

    def tasks_for_user(self, user_id: int | str) -> list[dict[str, Any]]:
        """Tasks whose responsible_user_id is `user_id`, oldest first; entity_id is None for standalone ones."""
        with self.lock:
            return [dict(t) for t in sorted(self.account.tasks.values(), key=lambda t: t["id"])
                    if t["responsible_user_id"] == int(user_id)]  # fmt: skip

    def notes_for_lead(self, lead_id: int | str) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(n) for n in self.account.notes.values() if n["entity_id"] == int(lead_id)]

    # ---- people -----------------------------------------------------------------------------
    def users(self) -> list[SandboxUser]:
        """Every user of the account, deactivated ones included."""
        with self.lock:
            return [SandboxUser(str(u["id"]), u["id"], u["name"], u["email"], bool(u["rights"]["is_active"]))
                    for u in self.account.users]  # fmt: skip

    def add_user(self, first_name: str, last_name: str, email: str, *, active: bool = True) -> SandboxUser:
        """A new user (the next id), deactivated unless `active`."""
        with self.lock:
            user_id = max(u["id"] for u in self.account.users) + 1
            name = f"{first_name} {last_name}".strip()
            self.account.users.append(seed_user(user_id, name, email, active=active))
        return SandboxUser(str(user_id), user_id, name, email, active)

    def set_user_active(self, user_id: int, active: bool) -> None:
        """Deactivate or reactivate a user (`rights.is_active`); their leads keep them. KeyError if unknown."""
        with self.lock:
            found = next((u for u in self.account.users if u["id"] == int(user_id)), None)
            if found is None:
                raise KeyError(f"no user {user_id}")
            found["rights"]["is_active"] = bool(active)

    # ---- UI simulation ------------------------------------------------------------------------
    def _acting(self, source: str, user_id: int | None) -> int:
        """The user a change is attributed to: amoCRM reports no channel, only the user (modified_user_id,
        updated_by); the API's writes are the user's who installed the integration (`api_user_id`)."""
        check_source(source, SOURCES, "amoCRM")
        return int(user_id) if user_id else (self.api_user_id if source == API else self.default_user_id)

    @staticmethod
    def _ui_values(fields: dict[str, Any]) -> dict[str, Any]:
        values = {k: v for k, v in fields.items() if not str(k).isdigit()}
        custom = {int(k): v for k, v in fields.items() if str(k).isdigit()}
        return {**values, "custom": custom} if custom else values

    def ui_create_lead(self, fields: dict[str, Any], user_id: int | None = None, source: str = UI) -> int:
        acting = self._acting(source, user_id)
        with self.lock:
            return int(self.account.create_lead(self._ui_values(fields), acting)["id"])

    def bulk_create_leads(self, count: int, *, updated_at: int | None = None) -> list[int]:
        """Create many leads quickly without webhooks (pagination tests)."""
        with self.lock:
            listener, self.account.listener = self.account.listener, None
            try:
                return [int(self.account.create_lead({"name": f"Bulk {i}"}, USER_ANNA, at=updated_at)["id"])
                        for i in range(count)]  # fmt: skip
            finally:
                self.account.listener = listener

    def ui_update_lead(self, lead_id: int | str, fields: dict[str, Any], user_id: int | None = None,
                       source: str = UI) -> None:  # fmt: skip
        acting = self._acting(source, user_id)
        with self.lock:
            self.account.update_lead(int(lead_id), self._ui_values(fields), acting)

    def ui_move_lead(self, lead_id: int | str, status_id: int, pipeline_id: int | None = None, *,
                     user_id: int | None = None, source: str = UI) -> None:  # fmt: skip
        fields: dict[str, Any] = {"status_id": status_id, **({"pipeline_id": pipeline_id} if pipeline_id else {})}
        self.ui_update_lead(lead_id, fields, user_id, source)

    def ui_delete_lead(self, lead_id: int | str, user_id: int | None = None, source: str = UI) -> None:
        acting = self._acting(source, user_id)
        with self.lock:
            self.account.delete_lead(int(lead_id), acting)

    def fail_next(self, mode: str, count: int = 1, path_prefix: str = "/api/v4/", method: str | None = None,
                  retry_after: float | None = None, delay: float = 10.0) -> None:
        """Make the next `count` matching requests fail: 500, 503, 429, 401, timeout, expire-token, page-stuck."""
        rule = Failure(str(mode), int(count), path_prefix, method, retry_after, float(delay))
        with self.lock:
            self.failures.add(rule)

    def configure(self, body: dict[str, Any]) -> None:
        """Apply /_sandbox/config keys; unknown keys raise ValueError."""
        s, window = self.settings, self.window
        setters: dict[str, Callable[[Any], None]] = {
            "webhook_url": lambda v: setattr(s, "url", v or None),
            "events": lambda v: setattr(s, "events", tuple(map(str, v))),
            "batch_window": lambda v: setattr(s, "batch_window", float(v)),
            "retry_delays": lambda v: setattr(s, "retry_delays", tuple(float(x) for x in v)),
            "access_token": lambda v: setattr(self, "access_token", str(v)),
            "refresh_token": lambda v: setattr(self, "refresh_token", str(v)),
            "api_user_id": lambda v: setattr(self, "api_user_id", int(v)),
            "rate_limit": lambda v: set_window(window, v),
        }  # fmt: skip
        control.apply_settings(self, setters, body)

    def describe(self) -> dict[str, Any]:
        s = self.settings
        return {"base_url": self.base_url, "subdomain": self.subdomain, "account_id": self.account_id,
                "webhook_url": s.url, "events": list(s.events), "batch_window": s.batch_window,
                "retry_delays": list(s.retry_delays), "api_user_id": self.api_user_id,
                "rate_limit": [self.window.max_requests, self.window.seconds], "client_id": self.client_id}  # fmt: skip

    # ---- WSGI ---------------------------------------------------------------------------------
    def _control(self, request: Request) -> Response:
        return amocrm_control.dispatch(self, request)

    def _api(self, request: Request) -> Response:
        status, body, parsed, headers = 500, None, None, {}
        try:
            parsed = _json_body(request)
            rule = self._take_failure(request)
            if rule is not None and rule.mode == "timeout":
                self._abort.wait(rule.delay)
            elif rule is not None and rule.mode == "expire-token":
                with self.lock:
                    self.access_token = "expired-" + secrets.token_hex(8)
            elif rule is not None and rule.mode != "page-stuck":
                raise failure_error(rule)
            with self.lock:
                if not self.window.acquire()[0]:
                    raise ApiError(429, "Too Many Requests")
                if request.path == "/oauth2/access_token" and request.method == "POST":
                    status, body = self._token(parsed)
                else:
                    if request.headers.get("Authorization") != f"Bearer {self.access_token}":
                        raise ApiError(401, "Unauthorized")
                    call = amocrm_api.Call(self.account, request, parsed, self.api_user_id, self.base_url,
                                           stuck_paging=rule is not None and rule.mode == "page-stuck")  # fmt: skip
                    status, body = amocrm_api.dispatch(self._url_map, call)
        except ApiError as exc:
            status, body, headers = exc.status, exc.body, exc.headers
        except Exception:  # a sandbox bug: answer 500 and keep serving
            log.exception("amoCRM sandbox failed on %s %s", request.method, request.path)
            status, body = 500, ApiError(500, "Internal Server Error").body
        self._record(request, parsed, status)
        return _response(status, body, headers)

    def _token(self, body: Any) -> tuple[int, Any]:
        """POST /oauth2/access_token with grant_type refresh_token: rotate the pair."""
        body = body if isinstance(body, dict) else {}
        if body.get("client_id") != self.client_id or body.get("client_secret") != self.client_secret:
            raise ApiError(401, "Client authentication failed", title="Unauthorized",
                           extra={"hint": "Client authentication failed", "type": OAUTH_PROBLEM})  # fmt: skip
        if body.get("grant_type") != "refresh_token" or not body.get("refresh_token"):
            raise ApiError(400, "The authorization grant type is not supported", extra={"type": OAUTH_PROBLEM})
        if not secrets.compare_digest(str(body["refresh_token"]), self.refresh_token):
            raise ApiError(400, "The refresh token is invalid.", extra={"hint": "Token has been revoked",
                                                                        "type": OAUTH_PROBLEM})  # fmt: skip
        self.access_token = "amo-access-" + secrets.token_hex(12)
        self.refresh_token = "amo-refresh-" + secrets.token_hex(12)
        self.refreshes += 1
        return 200, {"token_type": "Bearer", "expires_in": self.token_lifetime, "server_time": int(time.time()),
                     "access_token": self.access_token, "refresh_token": self.refresh_token}  # fmt: skip



def _json_body(request: Request) -> Any:
    return read_json(request, lambda exc: ApiError(400, f"Invalid JSON: {exc}"))


def _response(status: int, body: Any, headers: dict[str, str]) -> Response:
    response = Response(status=status, headers=headers)
    if status != 204 and body is not None:
        response.set_data(json.dumps(body))
        response.content_type = "application/problem+json" if status >= 400 else "application/hal+json"
    return response


def run_forever(host: str, port: int, webhook_url: str | None, **options: Any) -> None:
    """Serve a sandbox until Ctrl-C (for `qualify sandbox amocrm --port P --webhook-url URL`); `options` go to
    AmoCRMSandbox (subdomain, access_token, url_secret, ...)."""
    sandbox = AmoCRMSandbox(webhook_url=webhook_url, **options)
    serve_forever(sandbox, host, port, "amoCRM",
                  lambda: [f"access token: {sandbox.access_token}  refresh token: {sandbox.refresh_token}"],
                  webhook_url)


def demo_scenario() -> Scenario:
    """A started amoCRM sandbox and a sales rep's moves in it."""
    sb = AmoCRMSandbox()
    sb.start()
    return Scenario("amocrm", sb, {"base_url": sb.base_url, "access_token": sb.access_token,
                                   "account_id": str(sb.account_id)},
                    lambda p, s: str(sb.ui_create_lead({"name": "Acme", "pipeline_id": int(p), "status_id": int(s)})),
                    lambda d, p, s: sb.ui_move_lead(d, int(s), int(p)), sb.ui_update_lead,
                    lambda d: str(sb.lead(d)["status_id"]), sb.tasks_for_lead)
