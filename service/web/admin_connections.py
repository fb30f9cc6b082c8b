"""Admin pages of CRM connections (/admin/connections): every connection with its last webhook delivery and
refusals, and per connection a setup wizard: the steps its CRM needs, the webhook URL to paste and the events to
subscribe to, a Test connection button (the API's POST /v1/connections/{id}/test) and its webhook health
(GET /v1/connections/{id}/health). Both read services/webhook_health.py. A CRM is connected from
/admin/connections/new/<crm> (services/connection_setup.py), and the whole configuration downloads as the YAML
file `qualify config export` writes (/admin/config.yaml)."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from service.errors import NotFoundError, ServiceError
from service.runtime import Runtime
from service.services.config_io.export import export_yaml
from service.services.connection_setup import connect_crm, crm_kind, crm_kinds
from service.services.webhook_health import connection_wizard, connections_health
from service.web.auth import admin_only
from service.web.blueprints import page_blueprint
from service.web.connection_forms import (
    BASE_URL_HINTS,
    SECRET_HINTS,
    ConnectionForm,
    connection_input,
    forget_secrets,
)
from service.web.errors import error_page

bp = page_blueprint("admin_connections", __name__, url_prefix="/admin")
ID = "int(min=1, max=2147483647)"

# What each CRM needs on its side, in order (README "Connect a CRM"; ../shared/CRM-CONTRACTS.md). Page text,
# not configuration: the registry (adapters/registry.py) decides how deliveries are verified.
STEPS: dict[str, tuple[Any, ...]] = {
    "hubspot": (
        _l("In HubSpot open your app (Settings → Integrations → Private Apps, or your public app). Qualify checks "
           "every delivery's signature with the app's client secret (Auth tab): it must be the connection's."),
        _l("In the app's Webhooks tab set the target URL to the webhook URL below."),
        _l("Create the subscriptions listed below (deal.propertyChange for the dealstage and pipeline "
           "properties, deal creation and deletion) and activate them."),
    ),
    "pipedrive": (
        _l("In Pipedrive open Tools and apps → Webhooks → Create new webhook, version 2.0."),
        _l("Endpoint URL: the webhook URL below (it carries the token Qualify generated, as Pipedrive signs "
           "nothing). HTTP Auth: the connection's webhook user (qualify unless changed) and password."),
        _l("Event action and object: one webhook for each event listed below."),
    ),
    "amocrm": (
        _l("In amoCRM or Kommo open Settings → Integrations → Web hooks and add a webhook."),
        _l("Address: the webhook URL below (it carries the secret Qualify generated, as amoCRM signs nothing)."),
        _l("Tick the events listed below, at least the deal status change."),
    ),
    "bitrix24": (
        _l("In Bitrix24 open Developer resources → Other → Outbound webhook."),
        _l("Handler URL: the webhook URL below; events: the ones listed below. The application token the form "
           "shows must be the connection's application_token."),
        _l("Save it. Bitrix24 never repeats a call that failed: check the health below after the first change."),
    ),
}
EVENTS: dict[str, tuple[str, ...]] = {
    "hubspot": ("deal.propertyChange · dealstage", "deal.propertyChange · pipeline", "deal.creation",
                "deal.deletion"),
    "pipedrive": ("change.deal", "create.deal", "delete.deal"),
    "amocrm": ("status_lead", "add_lead", "update_lead", "delete_lead"),
    "bitrix24": ("ONCRMDEALUPDATE", "ONCRMDEALADD", "ONCRMDEALDELETE"),
}


@bp.errorhandler(NotFoundError)
def no_such_connection(exc: NotFoundError) -> Response:
    """A connection id Qualify does not know: a 404 page that says so."""
    return error_page(404, _("There is no such connection"),
                      _("Qualify has no connection with this number: the link may be wrong, or it was deleted."))


def _runtime() -> Runtime:
    runtime: Runtime = current_app.extensions["qualify"]
    return runtime


@bp.get("/connections")
@admin_only
def connections() -> Any:
    """Every connection with its CRM, state, last accepted delivery and deliveries refused in 24 hours, and the
    CRMs a new connection may be made to."""
    return render_template("admin/connections.html", overview=connections_health(_runtime()), crms=crm_kinds())


def _new_page(crm: dict[str, Any], form: ConnectionForm, status: int = 200,
              problem: ServiceError | None = None) -> Any:
    forget_secrets(form, crm)
    return render_template("admin/connection_new.html", crm=crm, crms=crm_kinds(), form=form, problem=problem,
                           secret_hints=SECRET_HINTS, base_url_hint=BASE_URL_HINTS.get(crm["name"])), status


@bp.get("/connections/new/<string(maxlength=20):kind>")
@admin_only
def new(kind: str) -> Any:
    """The form connecting a CRM of this kind, its API address prefilled where it has a public one."""
    crm = crm_kind(kind)
    return _new_page(crm, ConnectionForm(formdata=None, base_url=crm["default_base_url"]))


@bp.post("/connections/new/<string(maxlength=20):kind>")
@admin_only
def create(kind: str) -> Any:
    """Connect the CRM and mirror its pipelines, then open the new connection's wizard; the form is shown
    again (without its secrets) with what was refused."""
    crm = crm_kind(kind)
    form = ConnectionForm()
    if not form.validate_on_submit():
        return _new_page(crm, form, 400)
    try:
        data = connection_input(form, crm)
        if data is None:
            return _new_page(crm, form, 400)
        created = connect_crm(_runtime(), data, request.host_url)
    except ServiceError as exc:
        return _new_page(crm, form, exc.status, exc)
    flash(_("%(name)s is connected with %(n)s pipelines. Set up its webhooks below, then map fields and open "
            "a pipeline's board.", name=created["name"], n=len(created["pipelines"])), "info")
    return redirect(url_for("admin_connections.connection", connection_id=created["id"]))


def _wizard(connection_id: int, *, test: bool) -> Any:
    wizard = connection_wizard(_runtime(), connection_id, request.host_url, test=test)
    kind = wizard["connection"]["kind"]
    return render_template("admin/connection.html", wizard=wizard, steps=STEPS.get(kind, ()),
                           events=EVENTS.get(kind, ()))


@bp.get(f"/connections/<{ID}:connection_id>")
@admin_only
def connection(connection_id: int) -> Any:
    """The setup wizard of a connection: its CRM's steps, the webhook URL and events, and its webhook health."""
    return _wizard(connection_id, test=False)


@bp.post(f"/connections/<{ID}:connection_id>/test")
@admin_only
def test(connection_id: int) -> Any:
    """The wizard with the result of each check of testing the connection now (token, scopes, pipelines,
    webhooks); a CRM that refuses is a failed check shown on the page."""
    return _wizard(connection_id, test=True)


@bp.get("/config.yaml")
@admin_only
def config_yaml() -> Any:
    """The configuration (fields, mappings, gates, personas, connection settings; never secrets) as the file
    `qualify config export` writes, to download; an error page when it cannot be exported."""
    try:
        text = export_yaml(_runtime())
    except ServiceError as exc:
        return error_page(exc.status, _("The configuration could not be exported"), exc.detail)
    response = make_response(text)
    response.headers["Content-Type"] = "application/yaml; charset=utf-8"
    response.headers["Content-Disposition"] = "attachment; filename=qualify.yaml"
    return response
