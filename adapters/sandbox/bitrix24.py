"""Local Bitrix24 simulator: the CRM REST methods Qualify uses, deal events and test controls.

    sandbox = Bitrix24Sandbox(webhook_url="http://127.0.0.1:8000/webhooks/bitrix24")
    sandbox.start()
    url = sandbox.incoming_webhook_url        # http://127.0.0.1:PORT/rest/1/sandboxtoken/
    deal_id = sandbox.ui_create_deal({"TITLE": "Acme"})
    sandbox.ui_move_deal(deal_id, "PREPARATION")     # POSTs ONCRMDEALUPDATE to webhook_url
    sandbox.ui_move_deal(deal_id, "WON", user_id=8, source="api")  # MODIFY_BY_ID/MOVED_BY_ID 8, CLOSED=Y
    sandbox.wait_webhooks_idle()
    sandbox.stop()

Customers (bitrix24_customers): companies 21..23 and contacts 31..33 served by crm.company.list / crm.contact.list
(`@ID` filters a list of ids) and crm.company.fields / crm.contact.fields; a deal links them with
`ui_create_deal({"TITLE": "B2B", "COMPANY_ID": 21, "CONTACT_ID": 31})`.

People: `users()` (1, 7, 8, 9 active, 10 dismissed; 1 is the webhook's and the token's user), `add_user`,
`set_user_active`.

Both auth styles work: incoming webhook (``/rest/<user>/<token>/<method>.json``) and OAuth
(``/rest/<method>.json`` with ``auth=<access_token>`` in the query or body; event.offline.* only
here, as in Bitrix24). Requests pass a leaky bucket (503 QUERY_LIMIT_EXCEEDED when full).
Everything is in memory under one lock. Control endpoints live under `/_sandbox/`.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any, cast

from werkzeug.wrappers import Request, Response

from adapters.formdata import parse_php_form
from adapters.leaky_bucket import LeakyBucket
from adapters.sandbox import bitrix24_api as api
from adapters.sandbox import bitrix24_control as control
from adapters.sandbox.base import SandboxBase, serve_forever
from adapters.sandbox.bitrix24_events import EventSettings, OfflineQueue, WebhookSender
from adapters.sandbox.bitrix24_seed import user as seed_user
from adapters.sandbox.bitrix24_state import B24Error, Portal
from adapters.sandbox.people import API, UI, SandboxUser, check_source
from adapters.sandbox.scenario import Scenario

log = logging.getLogger(__name__)
SOURCES = (UI, API)  # Bitrix24 names the user of a change, never its channel

FAILURES: dict[str, tuple[int, str, str]] = {
    "500": (500, "INTERNAL_SERVER_ERROR", "Internal server error"),
    "QUERY_LIMIT_EXCEEDED": (503, "QUERY_LIMIT_EXCEEDED", "Too many requests"),
    "OPERATION_TIME_LIMIT": (429, "OPERATION_TIME_LIMIT", "Method is blocked due to operation time limit."),
    "401": (401, "expired_token", "The access token provided has expired."),
}
# A proxy in front of the portal answering for it with a page that quotes the request line (as nginx or an
# auth proxy may): the URL path, an incoming webhook's secret included. Whole calls only.
PROXY_FAILURES = {"proxy_502": 502, "proxy_401": 401}


@dataclass
class Failure:
    """An injected failure for the next `count` calls of methods starting with `method`."""

    mode: str
    count: int
    method: str | None
    delay: float


class Bitrix24Sandbox(SandboxBase):
    """An in-memory Bitrix24 portal served over HTTP; see the module docstring."""

    sender: WebhookSender
    failures: list[Failure]

    def __init__(self, *, webhook_user_id: int = 1, webhook_token: str = "sandboxtoken",
                 application_token: str = "apptoken", member_id: str = "sandbox-member",
                 webhook_url: str | None = None, leaky_bucket: tuple[float, int] = (2.0, 50), seed: bool = True,
                 access_token: str = "sandbox-oauth-token") -> None:  # fmt: skip
        super().__init__()
        self.webhook_user_id = webhook_user_id
        self.webhook_token = webhook_token
        self.access_token = access_token
        self.seed = seed
        self.bucket = LeakyBucket(*leaky_bucket)
        self.settings = EventSettings(url=webhook_url, application_token=application_token, member_id=member_id)
        self.sender = WebhookSender(self.settings)
        self.offline = OfflineQueue()
        self.failures = []
        self.quirks: set[str] = set()  # deliberate misbehaviour for client tests, e.g. "ignore_id_filter"
        self.portal = Portal(seeded=seed, listener=self._on_change)

    # ---- lifecycle ----------------------------------------------------------------------------
    def _started(self) -> None:
        self.settings.domain = self.base_url.split("://", 1)[1]
        self.settings.client_endpoint = f"{self.base_url}/rest/"

    @property
    def incoming_webhook_url(self) -> str:
        """The incoming-webhook base URL: ``{base_url}/rest/{user}/{token}/``."""
        return f"{self.base_url}/rest/{self.webhook_user_id}/{self.webhook_token}/"

    def reset(self) -> None:
        """Back to the seeded portal: clears data, calls, failures, offline queue and the bucket."""
        with self.lock:
            self.portal = Portal(seeded=self.seed, listener=self._on_change)
            self.calls.clear()
            self.failures.clear()
            self.offline.reset()
            self.bucket.reset()
        self.sender.clear()

    def _on_change(self, event: str, deal_id: int, user_id: str) -> None:
        if self.settings.offline:
            self.offline.add(event, deal_id, user_id)
        else:
            self.sender.enqueue(event, deal_id)  # online events name no user

    # ---- test helpers -------------------------------------------------------------------------
    def deal(self, deal_id: int | str) -> dict[str, Any]:
        """A copy of the stored deal; raises B24Error (400 Not found)."""
        with self.lock:
            return dict(self.portal.deal(deal_id))

    def todos_for_deal(self, deal_id: int | str) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(a) for a in self.portal.activities if a["OWNER_ID"] == str(deal_id)]

    def comments_for_deal(self, deal_id: int | str) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(c) for c in self.portal.comments if c["ENTITY_ID"] == str(deal_id)]

    def stage_history(self, deal_id: int | str) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(h) for h in self.portal.history if h["OWNER_ID"] == int(deal_id)]

    def api_calls(self, method: str | None = None, auth: str | None = None) -> list[dict[str, Any]]:
        """Authenticated REST calls: {method, auth ("webhook"|"oauth"), params, status, received_at, at}."""
        return self._calls_where(lambda c: (method is None or c["method"] == method)
                                 and (auth is None or c["auth"] == auth))  # fmt: skip

    def set_offline(self, enabled: bool) -> None:
        """Queue events for event.offline.get instead of POSTing them."""
        self.settings.offline = bool(enabled)

    # ---- people -----------------------------------------------------------------------------
    def users(self) -> list[SandboxUser]:
        """Every user of the portal, dismissed ones included."""
        with self.lock:
            return [SandboxUser(u["ID"], int(u["ID"]), f"{u['NAME']} {u['LAST_NAME']}".strip(), u["EMAIL"],
                                bool(u["ACTIVE"])) for u in self.portal.users]  # fmt: skip

    def add_user(self, first_name: str, last_name: str, email: str, *, active: bool = True) -> SandboxUser:
        """A new user (the next id), dismissed unless `active`."""
        with self.lock:
            user_id = max(int(u["ID"]) for u in self.portal.users) + 1
            self.portal.users.append(seed_user(user_id, first_name, last_name, email, active))
        return SandboxUser(str(user_id), user_id, f"{first_name} {last_name}".strip(), email, active)

    def set_user_active(self, user_id: int, active: bool) -> None:
        """Dismiss or bring back a user (ACTIVE); their deals keep them as responsible. KeyError if unknown."""
        with self.lock:
            found = next((u for u in self.portal.users if u["ID"] == str(user_id)), None)
            if found is None:
                raise KeyError(f"no user {user_id}")
            found["ACTIVE"] = bool(active)

    # ---- UI simulation ------------------------------------------------------------------------
    def _acting(self, source: str, user_id: int | None) -> int:
        """Who a change is attributed to: Bitrix24 records the user (MODIFY_BY_ID, MOVED_BY_ID), never the
        channel; a REST call is the incoming webhook's (or the OAuth token's) user."""
        check_source(source, SOURCES, "Bitrix24")
        return int(user_id) if user_id is not None else (self.webhook_user_id if source == API else 1)

    def ui_create_deal(self, fields: dict[str, Any], user_id: int | None = None, source: str = UI) -> str:
        acting = self._acting(source, user_id)
        with self.lock:
            return str(self.portal.create_deal(dict(fields), acting))

    def ui_update_deal(self, deal_id: int | str, fields: dict[str, Any], user_id: int | None = None,
                       source: str = UI) -> None:  # fmt: skip
        acting = self._acting(source, user_id)
        with self.lock:
            self.portal.update_deal(deal_id, dict(fields), acting)

    def ui_move_deal(self, deal_id: int | str, stage_id: str, category_id: int | str | None = None,
                     user_id: int | None = None, source: str = UI) -> None:  # fmt: skip
        fields: dict[str, Any] = {"STAGE_ID": stage_id}
        if category_id is not None:
            fields["CATEGORY_ID"] = str(category_id)
        self.ui_update_deal(deal_id, fields, user_id, source)

    def ui_delete_deal(self, deal_id: int | str, user_id: int | None = None, source: str = UI) -> None:
        acting = self._acting(source, user_id)
        with self.lock:
            self.portal.delete_deal(deal_id, acting)

    def fail_next(self, mode: str, count: int = 1, method: str | None = None, delay: float = 10.0) -> None:
        """Fail the next `count` calls (of methods starting with `method`; batch commands too): "500",
        "QUERY_LIMIT_EXCEEDED", "OPERATION_TIME_LIMIT", "401", or for whole calls only "timeout" (answer after
        `delay` seconds), "proxy_502" and "proxy_401" (an HTML page quoting the request path). ValueError
        otherwise."""
        if mode not in FAILURES and mode != "timeout" and mode not in PROXY_FAILURES:
            raise ValueError(f"unknown failure mode {mode!r}; known: {[*FAILURES, 'timeout', *PROXY_FAILURES]}")
        with self.lock:
            self.failures.append(Failure(mode, int(count), method, float(delay)))

    def _take_failure(self, method: str, *, command: bool = False) -> Failure | None:
        with self.lock:
            for rule in self.failures:
                if command and (rule.mode == "timeout" or rule.mode in PROXY_FAILURES):
                    continue
                if rule.method is None or method.startswith(rule.method):
                    rule.count -= 1
                    if rule.count <= 0:
                        self.failures.remove(rule)
                    return rule
        return None

    def _command_failure(self, method: str) -> B24Error | None:
        """The error a due failure rule gives a batch command of `method`."""
        rule = self._take_failure(method, command=True)
        return None if rule is None else B24Error(*FAILURES[rule.mode])

    # ---- WSGI ---------------------------------------------------------------------------------
    def _control(self, request: Request) -> Response:
        return control.dispatch(self, request)

    def _authenticate(self, request: Request, params: dict[str, Any]) -> tuple[str, str, str]:
        """(REST method, user id, "webhook"|"oauth") or B24Error 401/404."""
        parts = request.path.strip("/").split("/")
        if len(parts) < 2 or parts[0] != "rest":
            raise B24Error(404, "ERROR_METHOD_NOT_FOUND", "Method not found!")
        method = parts[-1].removesuffix(".json")
        if len(parts) == 4:
            if parts[1] != str(self.webhook_user_id) or parts[2] != self.webhook_token:
                raise B24Error(401, "INVALID_CREDENTIALS", "Invalid request credentials")
            return method, parts[1], "webhook"
        if len(parts) != 2:
            raise B24Error(404, "ERROR_METHOD_NOT_FOUND", "Method not found!")
        token = params.pop("auth", None)
        if not token:
            raise B24Error(401, "NO_AUTH_FOUND", "Wrong authorization data")
        if token != self.access_token:
            raise B24Error(401, "invalid_token", "The access token provided is invalid.")
        return method, "1", "oauth"

    def _api(self, request: Request) -> Response:
        started = time.time()
        status, record = 200, cast(dict[str, Any] | None, None)
        body: dict[str, Any] = {}
        try:
            params = request_params(request)
            method, user_id, auth = self._authenticate(request, params)
            record = {"method": method, "auth": auth, "params": params, "http_method": request.method}
            rule = self._take_failure(method)
            if rule is not None and rule.mode in PROXY_FAILURES:
                page = f"<html><body><h1>Bad answer</h1><p>{request.method} {request.path}</p></body></html>"
                return Response(page, status=PROXY_FAILURES[rule.mode], content_type="text/html")
            if rule is not None and rule.mode == "timeout":
                self._abort.wait(rule.delay)
            elif rule is not None:
                raise B24Error(*FAILURES[rule.mode])
            if self.bucket.try_acquire() > 0:
                raise B24Error(503, "QUERY_LIMIT_EXCEEDED", "Too many requests")
            with self.lock:
                ctx = api.Context(self.portal, user_id, self.offline, auth == "oauth", frozenset(self.quirks),
                                  self._command_failure)
                body = api.call(ctx, method, params)
        except B24Error as exc:
            status, body = exc.status, exc.body
        except Exception:  # a sandbox bug: answer like Bitrix24's 500 and keep serving
            log.exception("Bitrix24 sandbox failed on %s", request.path)
            status, body = 500, {"error": "INTERNAL_SERVER_ERROR", "error_description": "Internal server error"}
        if record is not None:
            with self.lock:
                self.calls.append({**record, "status": status, "received_at": started, "at": time.time()})
        payload = {**body, "time": time_block(started)} if status == 200 else body
        return Response(json.dumps(payload), status=status, content_type="application/json; charset=utf-8")


def request_params(request: Request) -> dict[str, Any]:
    """Query string and body (JSON or PHP-style form) merged; body keys win. B24Error 400 if unparsable."""
    try:
        params: dict[str, Any] = parse_php_form(request.query_string) if request.query_string else {}
        raw = request.get_data(cache=True)
        if raw.strip().startswith(b"{"):
            loaded = json.loads(raw)
            params.update(loaded if isinstance(loaded, dict) else {})
        elif raw.strip():
            params.update(parse_php_form(raw))
    except ValueError as exc:
        raise B24Error(400, "INVALID_REQUEST", f"Cannot parse the request: {exc}") from None
    return params


def time_block(started: float) -> dict[str, Any]:
    """The `time` section every Bitrix24 answer carries (limits.md)."""
    finish = time.time()
    return {"start": started, "finish": finish, "duration": finish - started, "processing": finish - started,
            "date_start": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(started)),
            "date_finish": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(finish)),
            "operating": 0, "operating_reset_at": int(finish) + 600}  # fmt: skip


def run_forever(host: str, port: int, webhook_url: str | None, **options: Any) -> None:
    """Serve a sandbox until Ctrl-C (for `qualify sandbox bitrix24 --port P --webhook-url URL`); `options` go to
    Bitrix24Sandbox (application_token, member_id, access_token, ...)."""
    sandbox = Bitrix24Sandbox(webhook_url=webhook_url, **options)
    serve_forever(sandbox, host, port, "Bitrix24",
                  lambda: [f"incoming webhook: {sandbox.incoming_webhook_url}",
                           f"OAuth access token: {sandbox.access_token}"], webhook_url, target="events")  # fmt: skip


def demo_scenario() -> Scenario:
    """A started Bitrix24 sandbox and a sales rep's moves in it (connected by its incoming webhook)."""
    sb = Bitrix24Sandbox()
    sb.start()
    return Scenario("bitrix24", sb, {"base_url": sb.incoming_webhook_url,
                                     "application_token": sb.settings.application_token,
                                     "account_id": sb.settings.member_id},
                    lambda p, s: str(sb.ui_create_deal({"TITLE": "Acme", "CATEGORY_ID": p, "STAGE_ID": s})),
                    lambda d, p, s: sb.ui_move_deal(d, s, p), sb.ui_update_deal,
                    lambda d: str(sb.deal(d)["STAGE_ID"]), sb.todos_for_deal)
