"""The one httpx client builder and the one retry loop every CRM adapter uses.

Retries happen only on connection failures and timeouts, 429 and 5xx, with capped exponential
backoff and full jitter (https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/),
never sooner than the server's Retry-After. Every other failure is raised at once as an
`adapters.errors` type carrying the status, the vendor's message, its request id and the body.
Error messages name the method and path only: never headers, so never the bearer token.
"""

from __future__ import annotations

import email.utils
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from adapters.errors import (
    CRMAuthError,
    CRMError,
    CRMNotFound,
    CRMRateLimited,
    CRMRejected,
    CRMUnavailable,
)
from adapters.ratelimit import Limiter

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
MAX_BODY_CHARS = 2000
USER_AGENT = "qualify-crm-adapter/0.1"

Classifier = Callable[[httpx.Response], CRMError | None]
Sleep = Callable[[float], None]


@dataclass(frozen=True)
class CallAttempt:
    """One attempt of a CRM call, as observers see it: no URL, no header, no body."""

    crm: str
    method: str
    bucket: str
    status: str  # the HTTP status, or "timeout" / "connection_error"
    outcome: str  # "ok", or the error's kind: rate_limited, unavailable, auth_error, not_found, rejected
    seconds: float


CallObserver = Callable[[CallAttempt], None]
# Told of every attempt send_with_retry makes (the service counts them; adapters never import it).
_observers: list[CallObserver] = []


def add_call_observer(observer: CallObserver) -> None:
    """Tell `observer` of every CRM call attempt from now on (once, however often it is added)."""
    if observer not in _observers:
        _observers.append(observer)


def _observed(crm: str, method: str, bucket: str, started: float, status: str, error: CRMError | None) -> None:
    outcome = "ok" if error is None else _OUTCOMES.get(type(error).__name__, "error")
    attempt = CallAttempt(crm, method, bucket, status, outcome, time.monotonic() - started)
    for observer in _observers:
        try:
            observer(attempt)
        except Exception:  # counting must never fail a CRM call
            log.debug("CRM call observer failed", exc_info=True)

# Failures after which the request may have reached the server: retried for idempotent calls only.
_AMBIGUOUS = (httpx.ReadTimeout, httpx.WriteTimeout, httpx.NetworkError, httpx.RemoteProtocolError)
# Failures where the request was certainly never sent: always safe to retry.
_NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_OUTCOMES = {"CRMRateLimited": "rate_limited", "CRMUnavailable": "unavailable", "CRMAuthError": "auth_error",
             "CRMNotFound": "not_found", "CRMRejected": "rejected"}


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long `send_with_retry` retries a failing call."""

    max_attempts: int = 4
    base_delay: float = 0.25
    max_delay: float = 8.0
    max_retry_after: float = 30.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.base_delay < 0 or self.max_delay < 0:
            raise ValueError("RetryPolicy needs max_attempts >= 1 and non-negative delays")

    def backoff(self, attempt: int, rand: Callable[[], float] = random.random) -> float:
        """Full-jitter delay before retry number `attempt` (1-based): uniform in [0, capped exp]."""
        cap = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        return cap * rand()


def build_client(
    base_url: str,
    *,
    headers: Mapping[str, str],
    timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    transport: httpx.BaseTransport | None = None,
    limits: httpx.Limits | None = None,
) -> httpx.Client:
    """An httpx.Client with a timeout on every call and redirects never followed."""
    merged = {"User-Agent": USER_AGENT, "Accept": "application/json", **headers}
    return httpx.Client(
        base_url=base_url,
        headers=merged,
        timeout=timeout,
        follow_redirects=False,
        transport=transport,
        limits=limits or httpx.Limits(max_connections=10, max_keepalive_connections=5),
    )


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date); None if absent/bad."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def vendor_details(response: httpx.Response) -> tuple[str | None, str | None]:
    """The vendor's error message and request id from a JSON error body or response headers.

    HubSpot sends `message` and `correlationId`
    (https://developers.hubspot.com/docs/api-reference/error-handling); others use
    `error`/`error_description`/`requestId` or an X-Request-Id header.
    """
    message: str | None = None
    request_id: str | None = None
    try:
        payload = response.json()
    except ValueError:
        payload = None
    if isinstance(payload, dict):
        for key in ("message", "error_description", "error"):
            if isinstance(payload.get(key), str) and payload[key]:
                message = payload[key]
                break
        for key in ("correlationId", "requestId", "request_id"):
            if payload.get(key):
                request_id = str(payload[key])
                break
    if request_id is None:
        request_id = response.headers.get("x-request-id") or response.headers.get("x-hubspot-correlation-id")
    return message, request_id


def classify_response(response: httpx.Response) -> CRMError | None:
    """None for a 2xx answer, otherwise the typed error for its status."""
    status = response.status_code
    if 200 <= status < 300:
        return None
    message, request_id = vendor_details(response)
    where = f"{response.request.method} {response.request.url.path}"
    text = f"{where} -> {status}" + (f": {message}" if message else "")
    kw: dict[str, Any] = {
        "status": status,
        "vendor_message": message,
        "request_id": request_id,
        "body": response.text[:MAX_BODY_CHARS],
    }
    retry_after = parse_retry_after(response.headers.get("retry-after"))
    if status == 429:
        return CRMRateLimited(text, retry_after=retry_after, **kw)
    if status >= 500:
        return CRMUnavailable(text, retry_after=retry_after, **kw)
    if status in (401, 403):
        return CRMAuthError(text, **kw)
    if status == 404:
        return CRMNotFound(text, **kw)
    if 300 <= status < 400:
        location = response.headers.get("location", "?")
        return CRMRejected(f"{where} -> {status}: redirect to {location} not followed", **kw)
    return CRMRejected(text, **kw)


def _transport_error(method: str, url: str, exc: httpx.TransportError) -> CRMUnavailable:
    kind = "timeout" if isinstance(exc, httpx.TimeoutException) else "connection failed"
    path = httpx.URL(url).path
    return CRMUnavailable(f"{method} {path}: {kind} ({type(exc).__name__})")


def send_with_retry(
    client: httpx.Client,
    method: str,
    url: str,
    *,
    limiter: Limiter | None = None,
    bucket: str = "default",
    policy: RetryPolicy | None = None,
    classify: Classifier = classify_response,
    idempotent: bool = True,
    sleep: Sleep = time.sleep,
    rand: Callable[[], float] = random.random,
    crm: str = "",
    **kwargs: Any,
) -> httpx.Response:
    """Send one request through the limiter, retrying transient failures; return the 2xx response.

    `kwargs` go to `httpx.Client.request` (params, json, ...). With `idempotent=False` (creates),
    only failures where the request surely did not take effect are retried: connect errors and 429;
    a timeout or 5xx is raised so the caller can look for the object before creating it again.
    `crm` names the CRM to the call observers (add_call_observer), which hear of every attempt.

    Raises CRMRateLimited (429, or at once when Retry-After exceeds `policy.max_retry_after`),
    CRMUnavailable (5xx, timeout, connection failure after the last attempt), CRMAuthError (401/403),
    CRMNotFound (404), CRMRejected (other 4xx and 3xx) - all without retry for 4xx.
    """
    policy = policy or RetryPolicy()
    for attempt in range(1, policy.max_attempts + 1):
        if limiter is not None:
            limiter.acquire(bucket)
        error: CRMError
        started = time.monotonic()
        try:
            response = client.request(method, url, **kwargs)
        except httpx.TransportError as exc:
            error = _transport_error(method, url, exc)
            retry = isinstance(exc, _NEVER_SENT) or (idempotent and isinstance(exc, _AMBIGUOUS))
            timeout = isinstance(exc, httpx.TimeoutException)
            _observed(crm, method, bucket, started, "timeout" if timeout else "connection_error", error)
        else:
            classified = classify(response)
            _observed(crm, method, bucket, started, str(response.status_code), classified)
            if classified is None:
                return response
            error = classified
            retry = error.retryable and (idempotent or isinstance(error, CRMRateLimited))
        retry_after = error.retry_after
        if retry_after is not None and retry_after > policy.max_retry_after:
            # Waiting that long in a request thread is wrong: let the caller reschedule.
            raise error from None
        if not retry or attempt >= policy.max_attempts:
            raise error from None
        delay = max(policy.backoff(attempt, rand), retry_after or 0.0)
        log.warning(
            "CRM call %s %s failed (%s, status %s); retry %d/%d in %.2fs",
            method, httpx.URL(url).path, type(error).__name__, error.status,
            attempt, policy.max_attempts - 1, delay,
        )  # fmt: skip
        sleep(delay)
    raise AssertionError("unreachable: the loop always returns or raises")  # pragma: no cover
