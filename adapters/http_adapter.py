"""The base of every CRM adapter that speaks HTTP: one client, one limiter, one retry policy, one send.

A vendor's adapter sets only what differs: `kind`, its default base URL and limiter buckets, its auth headers,
its error classifier (`_classify`), how its answers are decoded (`_payload`) and its paging traits. Every error
`_send` raises passes through `_redacted` first: a vendor whose URLs carry a secret (Bitrix24's incoming webhook)
declares its `secret_patterns`, so no message, vendor message or body of a raised error shows it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Self

import httpx

from adapters.base import Credentials, StageMover
from adapters.errors import CRMError, CRMUnavailable
from adapters.http import MAX_BODY_CHARS, Classifier, RetryPolicy, build_client, classify_response, send_with_retry
from adapters.kind import Paging
from adapters.ratelimit import BucketSpec, Limiter, RateLimiter
from adapters.redaction import redact_error


class HttpCRMAdapter(StageMover):
    """Owns the httpx client, the limiter and the retry policy; `_call` sends through `send_with_retry`.

    No request is made until the first call; `close()` (or leaving a `with` block) releases the client.
    """

    kind: str
    title: ClassVar[str]  # the vendor's name in error messages
    default_base_url: ClassVar[str | None] = None  # used when the credentials give no base URL
    paging: ClassVar[Paging] = Paging()  # how its modified-since search pages (the registry entry shows it)
    secret_patterns: ClassVar[tuple[re.Pattern[str], ...]] = ()  # matches of these are redacted from its errors
    _known_secrets: Sequence[str] = ()  # values redacted from its errors wherever they appear (set by _base_url)

    def __init__(
        self,
        credentials: Credentials,
        *,
        limiter: Limiter | None = None,
        policy: RetryPolicy | None = None,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        """Build the HTTP client; `limiter` defaults to a new one with the CRM's default buckets."""
        self._limiter = limiter or self.default_limiter()
        self._policy = policy or RetryPolicy()
        self._client = build_client(
            self._base_url(credentials),
            headers=self._auth_headers(credentials),
            timeout=httpx.Timeout(timeout, connect=min(5.0, timeout)),
            transport=transport,
        )

    @staticmethod
    def default_buckets() -> BucketSpec:
        """The CRM's default limiter buckets: name -> (limit, window seconds), a margin under its published
        limits. Every vendor sets its own (or overrides `default_limiter`)."""
        raise NotImplementedError

    @classmethod
    def default_limiter(cls) -> Limiter:
        """A new limiter of the CRM's default buckets, for an adapter given none."""
        return RateLimiter(cls.default_buckets())

    def _base_url(self, credentials: Credentials) -> str:
        """Where the client sends: the credentials' base URL, else the CRM's default."""
        return (credentials.base_url or self.default_base_url or "").rstrip("/")

    def _auth_headers(self, credentials: Credentials) -> Mapping[str, str]:
        """Headers sent with every call (none by default: the adapter authenticates per call)."""
        return {}

    def _classify(self, response: httpx.Response) -> CRMError | None:
        """None for a 2xx answer, else the typed error; vendors override it for their quirks."""
        return classify_response(response)

    def _send(self, method: str, path: str, *, bucket: str = "default", idempotent: bool = True,
              classify: Classifier | None = None, **kw: Any) -> httpx.Response:
        """One call through the limiter and the retry policy; the 2xx response or an adapters.errors type
        (redacted)."""
        try:
            return send_with_retry(
                self._client, method, path, limiter=self._limiter, bucket=bucket, policy=self._policy,
                classify=classify or self._classify, idempotent=idempotent, crm=self.kind, **kw,
            )  # fmt: skip
        except CRMError as exc:
            raise self._redacted(exc) from None

    def _redacted(self, exc: CRMError) -> CRMError:
        """`exc` without the adapter's secrets (its secret_patterns' matches and known secret values)."""
        return redact_error(exc, self.secret_patterns, self._known_secrets)

    def _call(self, method: str, path: str, *, bucket: str = "default", idempotent: bool = True, **kw: Any) -> Any:
        """`_send`, then the decoded answer (`_payload`)."""
        response = self._send(method, path, bucket=bucket, idempotent=idempotent, **kw)
        return self._payload(method, path, response)

    def _payload(self, method: str, path: str, response: httpx.Response) -> Any:
        """The JSON of a 2xx answer, {} for an empty one; CRMUnavailable when it is not JSON."""
        if response.status_code == 204 or not response.content:
            return {}
        try:
            return response.json()
        except ValueError:
            raise self._redacted(CRMUnavailable(f"{method} {path}: {self.title} answered non-JSON",
                                                status=response.status_code,
                                                body=response.text[:MAX_BODY_CHARS])) from None  # fmt: skip

    def close(self) -> None:
        """Release the HTTP client's connections."""
        self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
