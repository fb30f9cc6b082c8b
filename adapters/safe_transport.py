"""Connect-time SSRF check for httpx: resolve, vet every address, then connect to the vetted one.

`check_crm_url` vets a base URL when it is saved, but DNS can change afterwards (DNS rebinding), so
`SafeTransport` re-resolves the host of every request and raises `adapters.safety.UnsafeURLError`
(a ValueError, deliberately not an httpx.TransportError: `send_with_retry` does not retry it and
does not turn it into CRMUnavailable) before any socket is opened.

Pinning: when SafeTransport owns its connection pool (`inner=None`) it rewrites the request to the
first vetted IP and passes the original name as the TLS `sni_hostname` extension, so certificate
checks still use the name and the Host header is unchanged; one pool is kept per host name so a
TLS connection is never reused for another name that shares the IP. With a caller-supplied
`inner` transport the request goes through unchanged: the check and the inner transport's own
lookup are then two resolutions, a residual time-of-check/time-of-use window of milliseconds.
"""

from __future__ import annotations

import functools
import ipaddress
import ssl
import threading
from collections.abc import Iterable

import httpx

from adapters.safety import Resolver, UnsafeURLError, normalize_host, resolve_checked


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The verifying TLS context every pool shares, built once per process. Building one loads the CA bundle
    (10-50 ms of CPU), and a transport is built with each adapter, that is for every event the worker
    processes; an SSLContext may be shared by any number of connections and threads."""
    return httpx.create_ssl_context()


class SafeTransport(httpx.BaseTransport):
    """An httpx transport that refuses internal addresses on every request.

    Raises UnsafeURLError from `handle_request`: "scheme" (not https, or http off loopback),
    "host_not_allowed" (host outside `allowed_hosts` when given), "ip_literal", "unresolvable",
    "internal_address". Transport failures of the inner transport propagate unchanged.
    """

    def __init__(
        self,
        inner: httpx.BaseTransport | None = None,
        *,
        allow_loopback: bool = False,
        resolver: Resolver | None = None,
        allowed_hosts: Iterable[str] | None = None,
        limits: httpx.Limits | None = None,
        verify: bool = True,
    ) -> None:
        self._inner = inner
        self._allow_loopback = allow_loopback
        self._resolver = resolver
        self._allowed = None if allowed_hosts is None else {h.lower().rstrip(".") for h in allowed_hosts}
        self._limits = limits or httpx.Limits(max_connections=10, max_keepalive_connections=5)
        self._verify = verify
        self._pools: dict[str, httpx.HTTPTransport] = {}
        self._lock = threading.Lock()

    def vet(self, url: httpx.URL) -> tuple[str, str]:
        """(ASCII host name, first vetted address) for `url`; UnsafeURLError when it must not go out."""
        scheme = url.scheme.lower()
        if scheme not in ("https", "http"):
            raise UnsafeURLError("scheme", f"scheme {scheme!r} is refused")
        raw = url.host
        try:
            literal: ipaddress.IPv4Address | ipaddress.IPv6Address | None = ipaddress.ip_address(raw)
        except ValueError:
            literal = None
        host = str(literal) if literal is not None else normalize_host(raw, allow_unicode=True)
        if self._allowed is not None and host not in self._allowed:
            raise UnsafeURLError("host_not_allowed", f"host {host!r} is not the configured CRM host")
        port = url.port or (443 if scheme == "https" else 80)
        if literal is not None:
            if not (self._allow_loopback and literal.is_loopback):
                raise UnsafeURLError("ip_literal", "requests to IP address hosts are refused")
            addresses = [host]
        else:
            addresses = resolve_checked(host, port, allow_loopback=self._allow_loopback, resolver=self._resolver)
        loopback_only = all(ipaddress.ip_address(a).is_loopback for a in addresses)
        if scheme == "http" and not (self._allow_loopback and loopback_only):
            raise UnsafeURLError("scheme", "plain http is allowed only to loopback sandboxes")
        return host, addresses[0]

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Vet the request's host, then send it (pinned to the vetted IP when we own the pool)."""
        name, address = self.vet(request.url)
        if self._inner is not None:
            return self._inner.handle_request(request)
        pinned = httpx.Request(
            request.method,
            request.url.copy_with(host=address),
            headers=request.headers,  # keeps the Host header of the original name
            stream=request.stream,
            extensions={**request.extensions, "sni_hostname": name},
        )
        return self._pool(name).handle_request(pinned)

    def _pool(self, name: str) -> httpx.HTTPTransport:
        with self._lock:
            pool = self._pools.get(name)
            if pool is None:
                verify: ssl.SSLContext | bool = tls_context() if self._verify is True else self._verify
                pool = httpx.HTTPTransport(limits=self._limits, verify=verify, retries=0)
                self._pools[name] = pool
            return pool

    def close(self) -> None:
        """Close the inner transport or every per-host pool."""
        if self._inner is not None:
            self._inner.close()
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.close()
