"""Typed errors raised by CRM adapters and webhook verifiers."""

from __future__ import annotations


class CRMError(Exception):
    """A CRM call failed; carries the HTTP status, the vendor's message, its request id and body, and the
    wait in seconds the CRM asked for (`retry_after`, set on transient failures).

    `str(exc)` starts with the vendor's request id when there is one (``[req 7f3a] POST /x -> 429: ...``)
    so a stored error can be quoted to the CRM's support; `message` is the text without it.
    """

    retry_after: float | None = None

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        vendor_message: str | None = None,
        request_id: str | None = None,
        body: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.vendor_message = vendor_message
        self.request_id = request_id
        self.body = body
        self.retry_after = retry_after

    def __str__(self) -> str:
        return f"[req {self.request_id}] {self.message}" if self.request_id else self.message

    @property
    def retryable(self) -> bool:
        """Whether repeating the same call later may succeed."""
        return False


class CRMAuthError(CRMError):
    """The CRM refused our credentials (401/403): retrying will not help."""


class CRMNotFound(CRMError):
    """The object does not exist in the CRM (404)."""


class CRMRejected(CRMError):
    """The CRM rejected the request as invalid (4xx other than 401/403/404/429)."""


class CRMTransientError(CRMError):
    """A failure that passes: retry later, not sooner than `retry_after` seconds when the CRM said so."""

    @property
    def retryable(self) -> bool:
        """Transient failures are worth retrying."""
        return True


class CRMRateLimited(CRMTransientError):
    """The CRM answered 429."""


class CRMUnavailable(CRMTransientError):
    """The CRM could not be reached, timed out or answered 5xx."""


class WebhookError(Exception):
    """An inbound webhook cannot be accepted; `reason` is a short machine code, `field` the delivery's field
    (header or body value, as the CRM names it) that was refused, when one was."""

    def __init__(self, reason: str, detail: str, *, field: str | None = None) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
        self.field = field


class WebhookAuthError(WebhookError):
    """The webhook is not authentic: bad or missing signature, stale timestamp (answer 401)."""


class WebhookFormatError(WebhookError):
    """The webhook is authentic but its body cannot be parsed (answer 400)."""
