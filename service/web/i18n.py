"""The language of the pages: the one the user chose (kept in the session cookie), else the best match of
the browser's Accept-Language, else English. The catalogs are in service/web/translations: `make messages`
extracts the strings and updates them, `make` compiles them."""

from __future__ import annotations

import logging
from pathlib import Path

from flask import has_request_context, request, session

TRANSLATIONS = Path(__file__).resolve().parent / "translations"
DEFAULT_LANGUAGE = "en"
# Each language is named in itself (an endonym), so anyone can find their own: not translated on purpose.
LANGUAGES = {"en": "English", "ru": "Русский"}
SESSION_LANGUAGE = "lang"
log = logging.getLogger("qualify.web")


def select_locale() -> str:
    """Flask-Babel's locale selector."""
    if not has_request_context():
        return DEFAULT_LANGUAGE
    chosen = session.get(SESSION_LANGUAGE)
    if chosen in LANGUAGES:
        return str(chosen)
    return request.accept_languages.best_match(list(LANGUAGES), default=DEFAULT_LANGUAGE) or DEFAULT_LANGUAGE


def choose_language(language: str) -> None:
    """Remember the user's language in the session; ValueError for a language Qualify has no catalog for."""
    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {sorted(LANGUAGES)}")
    session[SESSION_LANGUAGE] = language


def warn_about_stale_catalogs() -> None:
    """Log when a compiled catalog (.mo) is missing or older than its .po: `make` compiles them."""
    for po in TRANSLATIONS.glob("*/LC_MESSAGES/messages.po"):
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            log.warning("%s is not compiled or out of date: run `make venv` (pybabel compile -d %s); pages show "
                        "English meanwhile", po, TRANSLATIONS)
