"""Checking a connection before it is used: does the CRM accept the token, do its scopes cover what Qualify
reads, are the pipelines readable and (where the CRM lets the connection read them) are its webhooks set up.

`run_checks` only calls the `CRMAdapter` Protocol; what differs per CRM (its webhook subscriptions) is the
`check_webhooks` of its registry entry (adapters/<crm>_kind.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from adapters.base import CRMAdapter
from adapters.errors import CRMAuthError, CRMError, CRMTransientError

Status = Literal["ok", "failed", "skipped"]


@dataclass(frozen=True)
class CheckResult:
    """One check of a connection: its name, ok / failed / skipped, and a reason a person can act on."""

    name: str
    status: Status
    reason: str


# (the adapter, the webhook URL Qualify expects the CRM to call or None) -> the "webhooks" check.
WebhookCheck = Callable[[CRMAdapter, str | None], CheckResult]
AUTH, SCOPES, PIPELINES, WEBHOOKS = "auth", "scopes", "pipelines", "webhooks"


def not_readable_webhooks(reason: str) -> WebhookCheck:
    """The webhook check of a CRM whose subscriptions the connection's credentials cannot read: skipped, saying
    `reason` (where to look instead)."""

    def check(adapter: CRMAdapter, webhook_url: str | None) -> CheckResult:
        return CheckResult(WEBHOOKS, "skipped", reason)

    return check


UNREADABLE_WEBHOOKS = not_readable_webhooks(
    "This CRM's webhook subscriptions are not readable with the connection's credentials; check in the CRM that "
    "deal changes are sent to the connection's webhook_url.")


def _said(exc: CRMError) -> str:
    return exc.vendor_message or exc.message


def _refused_scope(exc: CRMError) -> bool:
    return isinstance(exc, CRMAuthError) and exc.status == 403


def _auth_failure(exc: Exception) -> str:
    if isinstance(exc, CRMTransientError):
        return f"Could not reach the CRM or it failed ({_said(exc)}); check base_url, or try again later."
    if isinstance(exc, CRMAuthError):
        return (f"The CRM refused the access token ({exc.status or 'no status'}: {_said(exc)}); replace it with "
                "PATCH /v1/connections/{id} {\"access_token\": ...}.")
    if isinstance(exc, CRMError):
        return f"The CRM refused the first call ({_said(exc)})."
    return f"The CRM's answer could not be read ({type(exc).__name__}); check the connection's base_url and kind."


def _pipelines(adapter: CRMAdapter) -> tuple[CheckResult, CheckResult]:
    """The auth and pipelines checks, from one read of the pipelines."""
    try:
        pipelines = adapter.list_pipelines()
    except CRMError as exc:
        if _refused_scope(exc):
            return (CheckResult(AUTH, "ok", "The CRM accepted the access token."),
                    CheckResult(PIPELINES, "failed", f"Reading pipelines was refused ({_said(exc)}); grant the "
                                                     "token the scope to read deal pipelines."))
        return (CheckResult(AUTH, "failed", _auth_failure(exc)),
                CheckResult(PIPELINES, "skipped", "Not checked: the CRM could not be called."))
    except Exception as exc:  # an answer the adapter cannot read: another CRM at that URL, a changed API
        return (CheckResult(AUTH, "failed", _auth_failure(exc)),
                CheckResult(PIPELINES, "skipped", "Not checked: the CRM could not be called."))
    stages = sum(len(p.stages) for p in pipelines)
    if not pipelines:
        return (CheckResult(AUTH, "ok", "The CRM accepted the access token."),
                CheckResult(PIPELINES, "failed", "The CRM shows no deal pipeline to this token."))
    return (CheckResult(AUTH, "ok", "The CRM accepted the access token."),
            CheckResult(PIPELINES, "ok", f"{len(pipelines)} pipelines with {stages} stages are readable."))


def _scopes(adapter: CRMAdapter) -> CheckResult:
    """Whether the token may read what Qualify reads besides pipelines: deal properties and users."""
    reads: list[tuple[str, Callable[[], Any]]] = [
        ("deal properties", adapter.list_deal_properties), ("users (deal owners)", adapter.list_owners)]
    refused = []
    for what, read in reads:
        try:
            read()
        except CRMError as exc:
            refused.append(f"reading {what} ({_said(exc)})")
    if refused:
        return CheckResult(SCOPES, "failed", "Refused: " + "; ".join(refused) + ". Grant the token these scopes.")
    return CheckResult(SCOPES, "ok", "Deal properties and users are readable.")


def run_checks(adapter: CRMAdapter, check_webhooks: WebhookCheck, webhook_url: str | None) -> tuple[CheckResult, ...]:
    """Every check of a connection, in order: auth, pipelines, scopes, webhooks. A failed auth skips the rest
    (each says so). Never raises for a CRM failure: each becomes a failed check with the CRM's own message."""
    auth, pipelines = _pipelines(adapter)
    if auth.status != "ok":
        skipped = "Not checked: the CRM could not be called."
        return auth, pipelines, CheckResult(SCOPES, "skipped", skipped), CheckResult(WEBHOOKS, "skipped", skipped)
    try:
        webhooks = check_webhooks(adapter, webhook_url)
    except CRMError as exc:
        webhooks = CheckResult(WEBHOOKS, "failed", f"Reading the webhook subscriptions failed ({_said(exc)}).")
    return auth, pipelines, _scopes(adapter), webhooks
