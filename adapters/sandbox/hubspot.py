"""Local HubSpot simulator: CRM v3 API, deal webhooks and test controls on a loopback port.

    sandbox = HubSpotSandbox(webhook_url="http://127.0.0.1:8000/webhooks/hubspot")
    base_url = sandbox.start()          # then HubSpot(access_token=..., host=base_url)
    deal_id = sandbox.ui_create_deal({"dealname": "Acme"})
    sandbox.ui_move_deal(deal_id, "qualifiedtobuy")   # queues a signed deal.propertyChange POST
    sandbox.ui_move_deal(deal_id, "closedwon", user_id=45679, source="import")  # as an import by user 45679
    sandbox.wait_webhooks_idle()
    sandbox.stop()

People: `users()` (owner ids 101..105 differ from user ids 45678..45682; 105 is archived), `add_user`,
`set_user_active`. UI helpers act as `user_id` through `source` (adapters.sandbox.people): ui is CRM_UI with
"userId:N", api is what the API token's writes are (INTEGRATION, the app id, no user), import is IMPORT with the
import id (the user in updatedByUserId), automation is AUTOMATION_PLATFORM with a workflow id and no user.

Everything is in memory; one lock guards the state. Control endpoints (no auth) live under
`/_sandbox/` (see hubspot_control). API errors raise/return `HubSpotApiError` (a ValueError).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from werkzeug.wrappers import Request, Response

from adapters.sandbox import hubspot_api, hubspot_control
from adapters.sandbox import hubspot_errors as errors
from adapters.sandbox.base import PathSandbox, read_json, serve_forever
from adapters.sandbox.failures import Failure, FailureInjector
from adapters.sandbox.hubspot_limits import Limits, failure_error
from adapters.sandbox.hubspot_seed import COMPANY_CURRENCY, owner
from adapters.sandbox.hubspot_state import Actor, CrmObject, Portal
from adapters.sandbox.hubspot_values import iso, now_ms
from adapters.sandbox.hubspot_views import full
from adapters.sandbox.hubspot_webhooks import EventFactory, WebhookSender, WebhookSettings
from adapters.sandbox.people import API, AUTOMATION, IMPORT, UI, SandboxUser, check_source
from adapters.sandbox.scenario import Scenario

DAILY_LIMIT = 250_000
SOURCES = (UI, API, IMPORT, AUTOMATION)
DEFAULT_USER = 45678  # Alice, owner 101
log = logging.getLogger(__name__)


class HubSpotSandbox(PathSandbox):
    """An in-memory HubSpot portal served over HTTP; see the module docstring."""

    sender: WebhookSender

    def __init__(self, *, client_secret: str = "sandbox-secret", access_token: str = "pat-sandbox-token",
                 webhook_url: str | None = None, app_id: int = 1160452, portal_id: int = 62515,
                 rate_limit: tuple[int, float] = (100, 10.0), search_rate_limit: tuple[int, float] = (5, 1.0),
                 batch_window: float = 0.05, seed: bool = True) -> None:
        super().__init__()
        self.access_token = access_token
        self.app_id = app_id
        self.portal_id = portal_id
        self.seed = seed
        # Private-app writes are attributed to the app: changeSource INTEGRATION, sourceId = app id.
        self.api_change_source = "INTEGRATION"
        self.api_source_id = str(app_id)
        self.import_id, self.workflow_id = 51_234_567, 987_654  # what import and automation changes name
        self.settings = WebhookSettings(url=webhook_url, client_secret=client_secret, app_id=app_id,
                                        portal_id=portal_id, batch_window=batch_window)
        self.sender = WebhookSender(self.settings)
        self.limits = Limits(rate_limit, search_rate_limit, DAILY_LIMIT, app_id)
        self.failures = FailureInjector()
        self._events = EventFactory(self.settings)
        self._url_map = hubspot_api.build_map()
        self.portal = self._new_portal()

    # ---- lifecycle ----------------------------------------------------------------------------
    def reset(self) -> None:
        """Back to the seeded portal: clears data, logs, failures and rate-limit windows; keeps config."""
        with self.lock:
            self.portal = self._new_portal()
            self.calls.clear()
            self.failures.clear()
            self.limits.reset()
        self.sender.clear()

    def _new_portal(self) -> Portal:
        return Portal(self.portal_id, seed_full=self.seed, listener=self._on_change)

    def _on_change(self, kind: str, obj: CrmObject, changed: dict[str, str | None], actor: Actor,
                   at_ms: int) -> None:
        self.sender.enqueue(self._events.events(kind, obj, changed, actor, at_ms))

    # ---- test helpers -------------------------------------------------------------------------
    def deal(self, deal_id: str) -> dict[str, Any]:
        """{"id", "properties": every stored property}; raises HubSpotApiError (404) if unknown."""
        with self.lock:
            return full(self.portal.get("deals", str(deal_id)))

    def tasks_for_deal(self, deal_id: str) -> list[dict[str, Any]]:
        return self._engagements(deal_id, "tasks")

    def notes_for_deal(self, deal_id: str) -> list[dict[str, Any]]:
        return self._engagements(deal_id, "notes")

    def tasks_for_user(self, owner_id: str) -> list[dict[str, Any]]:
        """Live tasks whose hubspot_owner_id is `owner_id`, oldest first, each with every stored
        property and "associations": {object type: [ids]} ({} for a standalone task)."""
        with self.lock:
            owned = [t for t in self.portal.live("tasks") if t.properties.get("hubspot_owner_id") == str(owner_id)]
            return [{**full(t), "associations": {kind: sorted(ids, key=int) for kind, ids in t.associations.items()
                                                 if ids}} for t in owned]  # fmt: skip

    def _engagements(self, deal_id: str, kind: str) -> list[dict[str, Any]]:
        with self.lock:
            deal = self.portal.get("deals", str(deal_id))
            linked = [self.portal.objects[kind][i] for i in sorted(deal.associations.get(kind, {}), key=int)]
            return [full(obj) for obj in linked if not obj.archived]

    # ---- people -----------------------------------------------------------------------------
    def users(self) -> list[SandboxUser]:
        """Every owner of the portal, archived ones (deactivated users) included."""
        with self.lock:
            return [SandboxUser(o["id"], int(o["userIdIncludingInactive"]), f"{o['firstName']} {o['lastName']}",
                                o["email"], not o["archived"]) for o in self.portal.owners]  # fmt: skip

    def add_user(self, first_name: str, last_name: str, email: str, *, active: bool = True) -> SandboxUser:
        """A new user and their owner record (ids after the largest ones), archived unless `active`."""
        with self.lock:
            owners = self.portal.owners
            owner_id = str(max((int(o["id"]) for o in owners), default=100) + 1)
            user_id = max((int(o["userIdIncludingInactive"]) for o in owners), default=45677) + 1
            owners.append(owner(owner_id, email, first_name, last_name, user_id, not active, now_ms()))
        return SandboxUser(owner_id, user_id, f"{first_name} {last_name}", email, active)

    def set_user_active(self, user_id: int, active: bool) -> None:
        """Deactivate (archive the owner record of) or reactivate a user; their deals keep them as owner.
        KeyError for an unknown user."""
        with self.lock:
            found = next(o for o in self.portal.owners if o["userIdIncludingInactive"] == int(user_id))
            found.update(archived=not active, userId=int(user_id) if active else None, updatedAt=iso(now_ms()))

    # ---- UI simulation ------------------------------------------------------------------------
    def actor(self, source: str = UI, user_id: int | None = DEFAULT_USER) -> Actor:
        """Who a change is attributed to, as HubSpot reports it (module docstring); ValueError for a source
        outside SOURCES."""
        check_source(source, SOURCES, "HubSpot")
        if source == UI:
            return self.ui_actor(int(user_id or DEFAULT_USER))
        if source == API:
            return self.api_actor()
        if source == IMPORT:
            return Actor("IMPORT", str(self.import_id), user_id)
        return Actor("AUTOMATION_PLATFORM", str(self.workflow_id))

    @staticmethod
    def ui_actor(user_id: int) -> Actor:
        return Actor("CRM_UI", f"userId:{user_id}", user_id)

    def ui_create_deal(self, properties: dict[str, str], user_id: int = DEFAULT_USER, source: str = UI) -> str:
        """Create a deal; in the UI (and an import) it gets the company currency unless one is given."""
        actor = self.actor(source, user_id)
        with self.lock:
            values = dict(properties)
            if source in (UI, IMPORT):
                values.setdefault("deal_currency_code", COMPANY_CURRENCY)
            return self.portal.create("deals", values, actor).id

    def ui_update_deal(self, deal_id: str, properties: dict[str, str], user_id: int = DEFAULT_USER,
                       source: str = UI) -> None:  # fmt: skip
        actor = self.actor(source, user_id)
        with self.lock:
            self.portal.update("deals", str(deal_id), dict(properties), actor)

    def ui_move_deal(self, deal_id: str, stage_id: str, pipeline_id: str | None = None,
                     user_id: int = DEFAULT_USER, source: str = UI) -> None:  # fmt: skip
        properties = {"dealstage": stage_id, **({"pipeline": pipeline_id} if pipeline_id else {})}
        self.ui_update_deal(deal_id, properties, user_id, source)

    def ui_delete_deal(self, deal_id: str, user_id: int = DEFAULT_USER, source: str = UI) -> None:
        actor = self.actor(source, user_id)
        with self.lock:
            self.portal.archive("deals", str(deal_id), actor)

    def fail_next(self, mode: str, count: int = 1, path_prefix: str = "/crm/", method: str | None = None,
                  retry_after: float = 1.0, delay: float = 10.0) -> None:
        """Make the next `count` matching API requests fail: "500", "503", "429", "401" or "timeout"."""
        with self.lock:
            self.failures.add(Failure(str(mode), int(count), path_prefix, method, float(retry_after), float(delay)))

    # ---- WSGI ---------------------------------------------------------------------------------
    def _control(self, request: Request) -> Response:
        return hubspot_control.dispatch(self, request)

    def _api(self, request: Request) -> Response:
        headers: dict[str, str] = {}
        status, body, parsed, authenticated = 500, None, None, False
        try:
            if request.headers.get("Authorization") != f"Bearer {self.access_token}":
                raise errors.unauthorized()
            authenticated = True
            parsed = parse_json(request)
            rule = self._take_failure(request)
            if rule is not None and rule.mode != "timeout":
                raise failure_error(rule)
            if rule is not None:
                self._abort.wait(rule.delay)
            with self.lock:
                headers = self.limits.admit(hubspot_api.is_search(request.path))
                call = hubspot_api.Call(self.portal, request, parsed, self.api_actor(), self.base_url)
                status, body = hubspot_api.dispatch(self._url_map, call)
        except errors.HubSpotApiError as exc:
            status, body = exc.status, exc.body
            headers.update(exc.headers)
        except Exception:  # a sandbox bug: answer like HubSpot's 500 and keep serving
            log.exception("HubSpot sandbox failed on %s %s", request.method, request.path)
            error = errors.internal_error()
            status, body = error.status, error.body
        if authenticated:
            self._record(request, parsed, status)
        return json_response(status, body, headers)

    def api_actor(self) -> Actor:
        return Actor(self.api_change_source, self.api_source_id)



def parse_json(request: Request) -> Any:
    """The JSON body or None; invalid JSON is HubSpot's 400."""
    return read_json(request, lambda exc: errors.invalid_json(str(exc)))


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    response = Response(status=status, headers=headers or {})
    if status != 204:
        response.set_data(json.dumps(body))
        response.content_type = "application/json;charset=utf-8"
    if isinstance(body, dict) and "correlationId" in body:
        response.headers["X-HubSpot-Correlation-Id"] = body["correlationId"]
    return response


def run_forever(host: str, port: int, webhook_url: str | None, client_secret: str = "sandbox-secret",
                access_token: str = "pat-sandbox-token", **options: Any) -> None:
    """Serve a sandbox until Ctrl-C (for `qualify sandbox hubspot --port P --webhook-url URL ...`); `options` go
    to HubSpotSandbox (client_secret and access_token may also be given positionally, as the CLI does)."""
    sandbox = HubSpotSandbox(client_secret=client_secret, access_token=access_token, webhook_url=webhook_url,
                             **options)  # fmt: skip
    serve_forever(sandbox, host, port, "HubSpot", lambda: [f"access token: {access_token}"], webhook_url)


def demo_scenario() -> Scenario:
    """A started HubSpot sandbox and a sales rep's moves in it."""
    sb = HubSpotSandbox(client_secret="demo-client-secret", access_token="pat-demo-token")
    sb.start()
    return Scenario("hubspot", sb, {"base_url": sb.base_url, "access_token": sb.access_token,
                                    "client_secret": sb.settings.client_secret, "account_id": str(sb.portal_id)},
                    lambda p, s: sb.ui_create_deal({"dealname": "Acme", "pipeline": p, "dealstage": s}),
                    lambda d, p, s: sb.ui_move_deal(d, s, p),
                    lambda d, values: sb.ui_update_deal(d, {k: str(v) for k, v in values.items()}),
                    lambda d: str(sb.deal(d)["properties"]["dealstage"]), sb.tasks_for_deal)
