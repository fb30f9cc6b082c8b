"""Admin pages: the API keys (list, create, revoke)."""

from __future__ import annotations

from typing import Any

from flask import current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _

from service.services.keys import create_key, list_keys, revoke_key
from service.web.auth import admin_only
from service.web.blueprints import page_blueprint
from service.web.forms import CreateKeyForm, RevokeKeyForm

bp = page_blueprint("admin", __name__, url_prefix="/admin")


def _keys_page(form: CreateKeyForm, new_key: str | None = None, status: int = 200) -> Any:
    keys = list_keys(current_app.extensions["qualify"])
    return render_template("admin/keys.html", keys=keys, form=form, new_key=new_key), status


@bp.get("/keys")
@admin_only
def keys() -> Any:
    """Every API key (never a secret) with its last use, expiry and state, and the forms to create and revoke
    keys."""
    return _keys_page(CreateKeyForm())


@bp.post("/keys")
@admin_only
def create() -> Any:
    """Create a key, with an expiry when asked, and show it this once (in this answer only: never stored in the
    session cookie)."""
    form = CreateKeyForm()
    if not form.validate_on_submit():
        return _keys_page(form, status=400)
    new_key = create_key(current_app.extensions["qualify"], form.role.data, form.name.data,
                         expires_in_days=form.expires_in_days.data)
    return _keys_page(CreateKeyForm(formdata=None), new_key=new_key, status=201)


@bp.post("/keys/revoke")
@admin_only
def revoke() -> Any:
    """Revoke a key: API calls with it fail and browser sessions signed in with it end at once."""
    form = RevokeKeyForm()
    if form.validate_on_submit() and revoke_key(current_app.extensions["qualify"], form.prefix.data):
        flash(_("Key %(prefix)s is revoked.", prefix=form.prefix.data), "info")
    else:
        flash(_("There is no live key %(prefix)s: nothing was revoked.", prefix=form.prefix.data or "?"), "warning")
    return redirect(url_for("admin.keys"))
