"""Who is signed in, and the decorators of pages that need someone signed in or an admin.

The session holds the signed-in key's public prefix (never the key); `current_user` re-reads that key on
each request, so a revoked or expired key's sessions end at their next page.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from flask import abort, current_app, flash, g, redirect, request, session, url_for
from flask_babel import gettext as _

from service.services.web_sessions import WebUser, signed_in_user

F = TypeVar("F", bound=Callable[..., Any])
SESSION_KEY = "key_prefix"
# Kept when signing out: the language is the browser's choice, not the user's.
KEPT_ON_SIGN_OUT = ("lang",)


def current_user() -> WebUser | None:
    """The signed-in user of this request (read once per request), or None. A session whose key was revoked
    (or expired) is cleared here, signing it out."""
    if "web_user" not in g:
        prefix = session.get(SESSION_KEY)
        user = signed_in_user(current_app.extensions["qualify"], prefix) if isinstance(prefix, str) else None
        if prefix is not None and user is None:
            end_session()
            flash(_("Your key was revoked or has expired, so you are signed out. Sign in with another key."),
                  "warning")
        g.web_user = user
    return cast(WebUser | None, g.web_user)


def start_session(user: WebUser) -> None:
    """Remember `user` in a fresh session (a new CSRF token too), keeping the chosen language."""
    end_session()
    session[SESSION_KEY] = user.prefix
    session.permanent = True
    g.web_user = user


def end_session() -> None:
    """Forget who is signed in (and the CSRF token), keeping the chosen language."""
    kept = {name: session[name] for name in KEPT_ON_SIGN_OUT if name in session}
    session.clear()
    session.update(kept)
    g.web_user = None


def safe_next(target: str | None) -> str | None:
    """`target` when it is a path on this site (never another host: no open redirect), else None."""
    # Browsers drop tabs and newlines from URLs and read a backslash as a slash: "/\t/evil" is "//evil".
    if not target or "\\" in target or any(ord(char) < 32 for char in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def signed_in(view: F) -> F:
    """A page for any signed-in user; others are sent to the sign-in page and brought back afterwards."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if current_user() is None:
            back = request.full_path.rstrip("?") if request.method == "GET" else None
            return redirect(url_for("web.signin", next=back))
        return view(*args, **kwargs)

    return cast(F, wrapper)


def admin_only(view: F) -> F:
    """A page for admins only: the sign-in page for nobody, 403 for a signed-in manager."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        user = current_user()
        if user is not None and not user.is_admin:
            abort(403)
        return view(*args, **kwargs)

    return signed_in(cast(F, wrapper))
