"""Local Pipedrive simulator: API v2/v1 endpoints, webhooks v2 and test controls on a loopback port.

    sandbox = PipedriveSandbox(webhook_url="http://127.0.0.1:8000/webhooks/pipedrive/<token>")
    base_url = sandbox.start()                  # Credentials(base_url=base_url, access_token="sandbox-token")
    deal_id = sandbox.ui_create_deal({"title": "Acme", "stage_id": 1})
    sandbox.ui_move_deal(deal_id, 3)            # queues a change webhook with change_source "app"
    sandbox.ui_move_deal(deal_id, 4, user_id=3, source="api")   # change_source "api", meta.user_id 3
    sandbox.wait_webhooks_idle()
    sandbox.stop()

People: `users()` (1..4 active, 5 deactivated; user 1 owns the API token), `add_user`, `set_user_active`.

Auth: `x-api-token: <token>` header, `api_token` query parameter or `Authorization: Bearer <token>`.
Everything is in memory; one lock guards the state. Control endpoints live under `/_sandbox/`.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from werkzeug.wrappers import Request, Response

from adapters.sandbox import pipedrive_api, pipedrive_control
from adapters.sandbox import pipedrive_errors as errors
from adapters.sandbox import pipedrive_seed as seed
from adapters.sandbox.base import PathSandbox, read_json, serve_forever
from adapters.sandbox.failures import Failure
from adapters.sandbox.people import API, UI, SandboxUser, check_source
from adapters.sandbox.pipedrive_limits import Limits, PipedriveFailures, failure_error
from adapters.sandbox.pipedrive_seed import COMPANY_ID
from adapters.sandbox.pipedrive_state import Actor, Company, public_deal
from adapters.sandbox.pipedrive_webhooks import WebhookSender, WebhookSettings, event_body
from adapters.sandbox.scenario import Scenario

log = logging.getLogger(__name__)
DEFAULT_UI_USER = 1
SOURCES = (UI, API)  # meta.change_source "app" and "api": the only two Pipedrive documents


class PipedriveSandbox(PathSandbox):
    """An in-memory Pipedrive company served over HTTP; see the module docstring."""

    sender: WebhookSender

    def __init__(self, *, api_token: str = "sandbox-token", webhook_url: str | None = None,
                 webhook_user: str = "hook", webhook_password: str = "secret",
                 rate_limit: tuple[int, float] = (80, 2.0), daily_budget: int = 100_000, seed: bool = True) -> None:
        super().__init__()
        self.api_token = api_token
        self.api_user_id = 1  # the token owner: meta.user_id of API changes
        self.seed = seed
        self.stuck_cursor = False  # when True, list endpoints repeat the cursor they were given (a vendor bug)
        self.settings = WebhookSettings(url=webhook_url, user=webhook_user, password=webhook_password)
        self.sender = WebhookSender(self.settings)
        self.limits = Limits(rate_limit, daily_budget)
        self.failures = PipedriveFailures()
        self._url_map = pipedrive_api.build_map()
        self.company = self._new_company()

    # ---- lifecycle ----------------------------------------------------------------------------
    def reset(self) -> None:
        """Back to the seeded company: clears data, logs, failures and rate-limit windows; keeps config."""
        with self.lock:
            self.company = self._new_company()
            self.calls.clear()
            self.failures.clear()
            self.limits.reset()
        self.sender.clear()

    def _new_company(self) -> Company:
        company = Company(listener=self._on_change)
        if not self.seed:
            company.fields = [f for f in company.fields if not f["is_custom_field"]]
            company.custom = {}
        return company

    def _on_change(self, action: str, data: dict[str, Any], previous: dict[str, Any] | None, actor: Actor) -> None:
        permitted = [str(u) for u in sorted(self.company.active_user_ids())]
        self.sender.enqueue(event_body(self.settings, action, data, previous, actor, permitted))

    # ---- test helpers -------------------------------------------------------------------------
    def deal(self, deal_id: int | str) -> dict[str, Any]:
        """The deal as GET /api/v2/deals/{id} renders it; raises PipedriveApiError (404) if unknown."""
        with self.lock:
            return public_deal(self.company.deal(deal_id))

    def activities_for_deal(self, deal_id: int | str) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(a) for a in self.company.activities.values() if a["deal_id"] == int(deal_id)]

    def activities_for_user(self, user_id: int | str) -> list[dict[str, Any]]:
        """Activities whose owner_id is `user_id`, oldest first; deal_id is None for standalone ones."""
        with self.lock:
            return [dict(a) for a in sorted(self.company.activities.values(), key=lambda a: a["id"])
                    if a["owner_id"] == int(user_id)]  # fmt: skip

    def notes_for_deal(self, deal_id: int | str) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(n) for n in self.company.notes.values() if n["deal_id"] == int(deal_id)]

    # ---- people -----------------------------------------------------------------------------
    def users(self) -> list[SandboxUser]:
        """Every user of the company, deactivated ones included."""
        with self.lock:
            return [SandboxUser(str(u["id"]), u["id"], u["name"], u["email"], bool(u["active_flag"]))
                    for u in self.company.users]  # fmt: skip

    def add_user(self, first_name: str, last_name: str, email: str, *, active: bool = True) -> SandboxUser:
        """A new user (the next id), deactivated unless `active`."""
        with self.lock:
            user_id = max(u["id"] for u in self.company.users) + 1
            name = f"{first_name} {last_name}".strip()
            self.company.users.append(seed.user(user_id, name, email, active=active))
        return SandboxUser(str(user_id), user_id, name, email, active)

    def set_user_active(self, user_id: int, active: bool) -> None:
        """Deactivate or reactivate a user (`active_flag`); their deals keep them as owner. KeyError if unknown."""
        with self.lock:
            found = next((u for u in self.company.users if u["id"] == int(user_id)), None)
            if found is None:
                raise KeyError(f"no user {user_id}")
            found["active_flag"] = bool(active)

    # ---- UI simulation ------------------------------------------------------------------------
    def actor(self, source: str = UI, user_id: int | None = None) -> Actor:
        """meta.change_source and meta.user_id of a change: "app" for the web app, "api" for the API (the token
        owner, `api_user_id`, unless another user's token is meant). Pipedrive reports no import or automation
        source (ValueError)."""
        check_source(source, SOURCES, "Pipedrive")
        if source == API:
            return Actor("api", int(user_id) if user_id is not None else self.api_user_id)
        return Actor("app", int(user_id) if user_id is not None else DEFAULT_UI_USER)

    @staticmethod
    def _fields(fields: dict[str, Any]) -> dict[str, Any]:
        """Hash keys given at top level move under custom_fields, as the UI would store them."""
        custom = dict(fields.get("custom_fields") or {})
        plain = {k: v for k, v in fields.items() if k != "custom_fields"}
        for key in [k for k in plain if len(k) == 40]:
            custom[key] = plain.pop(key)
        return {**plain, **({"custom_fields": custom} if custom else {})}

    def ui_create_deal(self, fields: dict[str, Any], user_id: int | None = None, source: str = UI) -> int:
        """Create a deal as a user in the web app (or through the API) would; returns its id."""
        actor = self.actor(source, user_id)
        with self.lock:
            return int(self.company.create_deal(self._fields(fields), actor)["id"])

    def ui_update_deal(self, deal_id: int | str, fields: dict[str, Any], user_id: int | None = None,
                       source: str = UI) -> None:  # fmt: skip
        actor = self.actor(source, user_id)
        with self.lock:
            self.company.update_deal(deal_id, self._fields(fields), actor)

    def ui_move_deal(self, deal_id: int | str, stage_id: int, pipeline_id: int | None = None,
                     user_id: int | None = None, source: str = UI) -> None:  # fmt: skip
        """Drag the deal to another stage (and pipeline) in the web app (or move it through the API)."""
        fields: dict[str, Any] = {"stage_id": int(stage_id)}
        if pipeline_id is not None:
            fields["pipeline_id"] = int(pipeline_id)
        self.ui_update_deal(deal_id, fields, user_id, source)

    def ui_delete_deal(self, deal_id: int | str, user_id: int | None = None, source: str = UI) -> None:
        actor = self.actor(source, user_id)
        with self.lock:
            self.company.delete_deal(deal_id, actor)

    def fail_next(self, mode: str, count: int = 1, path_prefix: str = "/api/", method: str | None = None,
                  retry_after: float = 1.0, delay: float = 10.0) -> None:
        """Make the next `count` matching API requests fail: "500", "503", "429", "429-daily", "401", "timeout"."""
        with self.lock:
            self.failures.add(Failure(str(mode), int(count), path_prefix, method, float(retry_after), float(delay)))

    # ---- WSGI ---------------------------------------------------------------------------------
    def _control(self, request: Request) -> Response:
        return pipedrive_control.dispatch(self, request)

    def _authenticated(self, request: Request) -> bool:
        bearer = request.headers.get("Authorization", "")
        given = request.headers.get("x-api-token") or request.args.get("api_token") or (
            bearer[7:] if bearer.lower().startswith("bearer ") else None)
        return given == self.api_token

    def _api(self, request: Request) -> Response:
        headers: dict[str, str] = {}
        status, body, parsed, authenticated = 500, None, None, False
        try:
            if not self._authenticated(request):
                raise errors.unauthorized()
            authenticated = True
            parsed = parse_json(request)
            rule = self._take_failure(request)
            if rule is not None and rule.mode != "timeout":
                with self.lock:
                    raise failure_error(rule, self.limits)
            if rule is not None:
                self._abort.wait(rule.delay)
            with self.lock:
                headers = self.limits.admit()
                call = pipedrive_api.Call(self.company, request, parsed, Actor("api", self.api_user_id),
                                          self.stuck_cursor)  # fmt: skip
                status, body = pipedrive_api.dispatch(self._url_map, call)
        except errors.PipedriveApiError as exc:
            status, body = exc.status, exc.body
            headers.update(exc.headers)
        except Exception:  # a sandbox bug: answer like Pipedrive's 500 and keep serving
            log.exception("Pipedrive sandbox failed on %s %s", request.method, request.path)
            error = errors.internal_error()
            status, body = error.status, error.body
        if authenticated:
            self._record(request, parsed, status, hidden="api_token")
        response = Response(json.dumps(body), status=status, headers=headers)
        response.content_type = "application/json"
        return response


def parse_json(request: Request) -> Any:
    """The JSON body or None; invalid JSON is Pipedrive's 400."""
    return read_json(request, lambda exc: errors.invalid(f"Invalid JSON: {exc}"))


def run_forever(host: str, port: int, webhook_url: str | None, **options: Any) -> None:
    """Serve a sandbox until Ctrl-C (for a `qualify sandbox pipedrive --port P --webhook-url URL` command);
    `options` go to PipedriveSandbox (api_token, webhook_user, webhook_password, ...)."""
    sandbox = PipedriveSandbox(webhook_url=webhook_url, **options)
    serve_forever(sandbox, host, port, "Pipedrive",
                  lambda: [f"api token: {sandbox.api_token}; webhook basic auth user: {sandbox.settings.user}"],
                  webhook_url)  # fmt: skip


def demo_scenario() -> Scenario:
    """A started Pipedrive sandbox and a sales rep's moves in it."""
    sb = PipedriveSandbox()
    sb.start()
    return Scenario("pipedrive", sb, {"base_url": sb.base_url, "access_token": sb.api_token,
                                      "webhook_username": sb.settings.user, "webhook_password": sb.settings.password,
                                      "account_id": str(COMPANY_ID)},
                    lambda p, s: str(sb.ui_create_deal({"title": "Acme", "pipeline_id": int(p), "stage_id": int(s)})),
                    lambda d, p, s: sb.ui_move_deal(d, int(s), int(p)), sb.ui_update_deal,
                    lambda d: str(sb.deal(d)["stage_id"]), sb.activities_for_deal)
