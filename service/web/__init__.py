"""The web pages: a second thin interface over the same use cases as the API (DESIGN.md, STYLE.md 18).

`configure_web` wires everything the pages need and nothing the API sees: Flask-Babel (en, ru), Flask-WTF's
CSRF check (asked for by the page blueprints only, so /v1 and the CRM webhooks need no token), the session
cookie, the sign-in throttle, the HTML error pages and the blueprints. Web routes stay out of the OpenAPI
document because they are plain Flask blueprints, not flask-smorest ones.

The session cookie (signed, not encrypted, so it holds no secret: the signed-in key's public prefix, the
language, the CSRF token) is HttpOnly and SameSite=Lax. It is Secure when QUALIFY_PUBLIC_URL is https (every
cookie, so a downgraded request never carries it) and otherwise whenever the request itself came over https
(directly, or through a proxy that says so with X-Forwarded-Proto when QUALIFY_TRUST_PROXY is on); over plain
http, as in the embedded mode on localhost, a Secure cookie would never come back and nobody could sign in.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask, g, has_request_context, request, url_for
from flask.sessions import SecureCookieSessionInterface

from service.config import Settings

SESSION_LIFETIME = timedelta(hours=12)


class WebSessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie session, Secure also when the request itself came over https."""

    def get_cookie_secure(self, app: Flask) -> bool:
        """SESSION_COOKIE_SECURE (from an https QUALIFY_PUBLIC_URL), or a request made over https."""
        return bool(app.config["SESSION_COOKIE_SECURE"]) or (has_request_context() and request.is_secure)


def reports_url() -> str | None:
    """The reports dashboard's URL once a page serves /reports, else None (the home page links only to
    what exists)."""
    from flask import current_app

    for rule in current_app.url_map.iter_rules():
        if rule.rule == "/reports" and "GET" in (rule.methods or ()):
            return url_for(rule.endpoint)
    return None


def _template_globals() -> dict[str, Any]:
    from service.web.auth import current_user
    from service.web.forms import ROLE_LABELS
    from service.web.i18n import LANGUAGES, select_locale

    # Unrouted error pages have no page blueprint behind them: no user to look up there.
    user = current_user() if request.blueprint else g.get("web_user")
    return {"web_user": user, "languages": LANGUAGES, "locale": select_locale(), "reports_url": reports_url,
            "role_labels": ROLE_LABELS}


def configure_web(app: Flask, settings: Settings) -> None:
    """Register the pages and what they need; runs after the API's error handlers are registered."""
    from flask_babel import Babel
    from flask_wtf.csrf import CSRFProtect

    from service.services.web_sessions import session_secrets
    from service.web import (
        admin,
        admin_board,
        admin_connections,
        admin_events,
        admin_fields,
        admin_personas,
        analytics,
        api_docs,
        deals,
        reports,
        views,
    )
    from service.web.errors import configure_error_pages
    from service.web.i18n import DEFAULT_LANGUAGE, TRANSLATIONS, select_locale, warn_about_stale_catalogs
    from service.web.throttle import SignInThrottle

    secrets = session_secrets(app.extensions["qualify"])
    app.config.update(
        SECRET_KEY=secrets[0], SECRET_KEY_FALLBACKS=secrets[1:],
        SESSION_COOKIE_NAME="qualify_session", SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.public_url.lower().startswith("https://"),
        PERMANENT_SESSION_LIFETIME=SESSION_LIFETIME,
        WTF_CSRF_CHECK_DEFAULT=False, WTF_CSRF_TIME_LIMIT=int(SESSION_LIFETIME.total_seconds()),
        BABEL_DEFAULT_LOCALE=DEFAULT_LANGUAGE, BABEL_DEFAULT_TIMEZONE="UTC",
        BABEL_TRANSLATION_DIRECTORIES=str(TRANSLATIONS),
    )
    app.session_interface = WebSessionInterface()
    Babel(app, locale_selector=select_locale)
    CSRFProtect(app)
    app.extensions["qualify_signin_throttle"] = SignInThrottle(settings)
    warn_about_stale_catalogs()
    for module in (views, admin, admin_connections, admin_events, admin_personas, admin_fields, admin_board,
                   reports, deals, analytics, api_docs):
        app.register_blueprint(module.bp)
    app.context_processor(_template_globals)
    configure_error_pages(app)
