"""Signing in and out, the language switcher and the home page."""

from __future__ import annotations

from typing import Any

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from service.services.web_sessions import sign_in
from service.web.auth import current_user, end_session, safe_next, signed_in, start_session
from service.web.blueprints import page_blueprint
from service.web.forms import LanguageForm, SignInForm
from service.web.i18n import choose_language

bp = page_blueprint("web", __name__, static_folder="static", static_url_path="/static")


@bp.get("/")
@signed_in
def home() -> Any:
    """Who is signed in, with links to the areas they may use."""
    return render_template("home.html")


@bp.route("/signin", methods=["GET", "POST"])
def signin() -> Any:
    """The sign-in form; a valid key starts a session and goes on to `next` (or home)."""
    form = SignInForm(next=request.args.get("next", ""))
    if not form.is_submitted():
        if current_user() is not None:
            return redirect(url_for("web.home"))
        return render_template("signin.html", form=form)
    throttle = current_app.extensions["qualify_signin_throttle"]
    if throttle.blocked():
        headers = {"Retry-After": str(throttle.retry_after())}
        return render_template("signin.html", form=form, throttled=True), 429, headers
    if not form.validate():
        return render_template("signin.html", form=form), 400
    user = sign_in(current_app.extensions["qualify"], form.api_key.data)
    if user is None:
        throttle.failed()
        form.api_key.errors.append(_("This key is unknown or revoked. Check that you copied all of it."))
        return render_template("signin.html", form=form), 401
    start_session(user)
    return redirect(safe_next(form.next.data) or url_for("web.home"))


@bp.post("/signout")
def signout() -> Any:
    """End the session (the language stays chosen). A POST with a CSRF token, so no other site can sign a
    user out."""
    end_session()
    flash(_("You are signed out."), "info")
    return redirect(url_for("web.signin"))


@bp.post("/language")
def language() -> Any:
    """Switch the language of the pages and go back to the page the switch was pressed on."""
    form = LanguageForm()
    if form.validate_on_submit():
        choose_language(form.lang.data)
    return redirect(safe_next(form.next.data) or url_for("web.home"))
