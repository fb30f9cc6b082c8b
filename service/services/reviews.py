"""Persona review reminders: a portrait past its review date is flagged `stale`, and its owner is told
once (until someone marks it reviewed): a CRM task for the owner's CRM user when one is mapped, else a
log line and, when configured, a JSON POST to QUALIFY_NOTIFY_WEBHOOK_URL."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select

from service.domain.fieldtypes import language_code
from service.models import Connection, OutboxAction, Persona
from service.runtime import Runtime
from service.services.personas import is_stale, review_due_on

log = logging.getLogger("qualify.reviews")

NOTIFY_OWNER = "notify_owner"
WEBHOOK_TIMEOUT_SECONDS = 5.0


def review_text(persona: Persona, language: str) -> tuple[str, str]:
    """(subject, body) of the reminder, in English or Russian."""
    due = review_due_on(persona).isoformat()
    if language_code(language) == "ru":
        return (f"Qualify: пора пересмотреть портрет «{persona.name}»",
                f"Срок пересмотра портрета «{persona.name}» наступил {due}. Проверьте критерии по свежим "
                f"данным CRM и отметьте пересмотр (POST /v1/personas/{persona.id}/review).")
    return (f"Qualify: time to review the persona {persona.name!r}",
            f"The persona {persona.name!r} was due for review on {due}. Check its criteria against recent CRM "
            f"data and mark it reviewed (POST /v1/personas/{persona.id}/review).")


def _queue_task(session: Any, persona: Persona, connection: Connection, now: datetime) -> None:
    subject, body = review_text(persona, connection.language)
    marker = f"[qualify:persona-review:{persona.id}:{review_due_on(persona).isoformat()}]"
    session.add(OutboxAction(
        connection_id=connection.id, record_id=None, kind=NOTIFY_OWNER,
        payload={"owner_id": persona.owner_crm_user_id, "subject": subject, "body": body, "marker": marker,
                 "due": (now + timedelta(days=7)).isoformat()},
        idempotency_key=f"persona-review:{persona.id}:{review_due_on(persona).isoformat()}", next_attempt_at=now))


def _post(url: str, persona: Persona, now: datetime) -> bool:
    subject, body = review_text(persona, "en")
    payload = {"event": "persona.review_due", "persona_id": persona.id, "name": persona.name,
               "owner": persona.owner, "review_due_on": review_due_on(persona).isoformat(),
               "subject": subject, "text": body, "at": now.isoformat()}
    try:
        httpx.post(url, json=payload, timeout=WEBHOOK_TIMEOUT_SECONDS, follow_redirects=False).raise_for_status()
    except httpx.HTTPError as exc:
        log.warning("review notification for persona %s to %s failed: %s", persona.id, url, exc)
        return False
    return True


def notify_stale_personas(runtime: Runtime) -> list[int]:
    """Tell the owner of every newly stale persona (once); returns the ids notified."""
    now = runtime.clock()
    notified: list[int] = []
    with runtime.uow() as uow:
        candidates = uow.session.scalars(select(Persona).where(
            Persona.active.is_(True), Persona.review_notified_at.is_(None)).order_by(Persona.id))
        for persona in candidates:
            if not is_stale(persona, now.date()):
                continue
            connection = (uow.session.get(Connection, persona.owner_connection_id)
                          if persona.owner_connection_id and persona.owner_crm_user_id else None)
            if connection is not None:
                _queue_task(uow.session, persona, connection, now)
            else:
                log.warning("persona %s (%s) is due for review; owner: %s", persona.id, persona.name,
                            persona.owner or "nobody")
                url = runtime.settings.notify_webhook_url
                if url and not _post(url, persona, now):
                    continue  # not marked: the next run tries again
            persona.review_notified_at = now
            notified.append(persona.id)
        uow.commit()
    if notified:
        runtime.wake_worker()
    return notified
