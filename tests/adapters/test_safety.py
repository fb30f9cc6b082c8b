"""SSRF guards: hostile CRM URLs are refused before any connection, good ones are normalized.
A loopback listener counts every TCP connection; hostile URLs aimed at it must leave it at zero.
Names resolve only through an injected resolver (a dict), so no DNS query leaves the machine.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator

import httpx
import idna
import pytest

from adapters.http import RetryPolicy, build_client, send_with_retry
from adapters.safe_transport import SafeTransport
from adapters.safety import ALLOWED_DOMAINS, UnsafeURLError, check_crm_url, endpoint_matches

PUBLIC = "93.184.216.34"


class Listener:
    """A TCP listener on 127.0.0.1 that counts connections and answers each with HTTP 200."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.requests: list[bytes] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            with conn, contextlib.suppress(OSError):
                conn.settimeout(2)
                self.requests.append(conn.recv(65536))
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")


@pytest.fixture(scope="module")
def listener() -> Iterator[Listener]:
    server = Listener()
    yield server
    server.sock.close()


def resolver_for(table: dict[str, list[str]]) -> Callable[[str, int], list[str]]:
    """An injected resolver: names in `table` resolve to its addresses, any other name fails."""

    def resolve(host: str, port: int) -> list[str]:
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, f"no such test name {host}")
        return table[host]

    return resolve


NAMES = {
    "api.hubapi.com": [PUBLIC], "acme.pipedrive.com": [PUBLIC], "api.pipedrive.com": [PUBLIC],
    "acme.amocrm.ru": [PUBLIC], "acme.amocrm.com": [PUBLIC], "acme.kommo.com": [PUBLIC],
    "acme.bitrix24.de": [PUBLIC], "acme.bitrix24.ru": [PUBLIC], "acme.bitrix24.com.br": [PUBLIC],
    "crm.example-company.com": [PUBLIC], idna.encode("портал.рф").decode(): [PUBLIC], "localhost": ["127.0.0.1"],
    # Public-looking names pointing inside (DNS rebinding or hostile records):
    "rebind.pipedrive.com": ["10.0.0.7"], "meta.amocrm.ru": ["169.254.169.254"], "cgnat.kommo.com": ["100.64.0.1"],
    "mixed.bitrix24.de": [PUBLIC, "127.0.0.1"], "mapped.bitrix24.ru": ["::ffff:10.0.0.1"],
    "ula.pipedrive.com": ["fd00::1"], "ll6.pipedrive.com": ["fe80::1%eth0"], "zero.amocrm.com": ["0.0.0.0"],
    "intranet.example-company.com": ["192.168.1.10"],
}  # fmt: skip
RESOLVE = resolver_for(NAMES)

# (kind, url with {port} = the listener's port, expected reason, check_crm_url keyword arguments)
HOSTILE: list[tuple[str, str, str, dict[str, bool]]] = [
    ("hubspot", "http://api.hubapi.com", "scheme", {}),
    ("hubspot", "file:///etc/passwd", "scheme", {}),
    ("hubspot", "gopher://127.0.0.1:{port}/_GET", "scheme", {}),
    ("hubspot", "ftp://api.hubapi.com", "scheme", {}),
    ("hubspot", "http://api.hubapi.com", "scheme", {"allow_loopback": True}),
    ("hubspot", "https://user@api.hubapi.com@evil.io", "userinfo", {}),
    ("hubspot", "https://user:pw@api.hubapi.com", "userinfo", {}),
    ("pipedrive", "https://pipedrive.com@evil.io", "userinfo", {}),
    ("hubspot", "https://127.0.0.1:{port}", "ip_literal", {}),
    ("hubspot", "http://127.0.0.1:{port}", "ip_literal", {}),
    ("hubspot", "https://0.0.0.0", "ip_literal", {}),
    ("hubspot", "https://10.0.0.1", "ip_literal", {"allow_loopback": True}),
    ("hubspot", "https://172.16.0.1", "ip_literal", {}),
    ("hubspot", "https://192.168.1.1", "ip_literal", {}),
    ("hubspot", "https://169.254.169.254/latest/meta-data", "ip_literal", {}),
    ("hubspot", "https://[::1]:{port}", "ip_literal", {}),
    ("hubspot", "https://[fe80::1]", "ip_literal", {}),
    ("hubspot", "https://[::ffff:127.0.0.1]:{port}", "ip_literal", {}),
    ("hubspot", "https://2130706433:{port}", "ip_literal", {}),
    ("hubspot", "https://0177.0.0.1:{port}", "ip_literal", {}),
    ("hubspot", "https://0x7f.1:{port}", "ip_literal", {}),
    ("hubspot", "https://100.64.0.1", "ip_literal", {}),
    ("hubspot", "https://api.hubapi.com.evil.io", "host_not_allowed", {}),
    ("hubspot", "https://API.HUBAPI.COM.EVIL.IO.", "host_not_allowed", {}),
    ("pipedrive", "https://evilpipedrive.com", "host_not_allowed", {}),
    ("pipedrive", "https://evil-pipedrive.com", "host_not_allowed", {}),
    ("pipedrive", "https://pipedrive.com.evil.io", "host_not_allowed", {}),
    ("amocrm", "https://kommo.com.attacker.net", "host_not_allowed", {}),
    ("amocrm", "https://acme.pipedrive.com", "host_not_allowed", {}),
    ("bitrix24", "https://bitrix24.ru.evil", "host_not_allowed", {}),
    ("bitrix24", "https://crm.example-company.com", "host_not_allowed", {}),
    ("hubspot", "https://localhost:{port}", "host_not_allowed", {}),
    ("pipedrive", "https://rebind.pipedrive.com", "internal_address", {}),
    ("amocrm", "https://meta.amocrm.ru", "internal_address", {}),
    ("amocrm", "https://cgnat.kommo.com", "internal_address", {}),
    ("bitrix24", "https://mixed.bitrix24.de", "internal_address", {}),
    ("bitrix24", "https://mapped.bitrix24.ru", "internal_address", {}),
    ("pipedrive", "https://ula.pipedrive.com", "internal_address", {}),
    ("pipedrive", "https://ll6.pipedrive.com", "internal_address", {}),
    ("amocrm", "https://zero.amocrm.com", "internal_address", {"allow_loopback": True}),
    ("bitrix24", "https://intranet.example-company.com", "internal_address", {"allow_self_hosted": True}),
    ("pipedrive", "https://nxdomain.pipedrive.com", "unresolvable", {}),
    ("hubspot", "https://api.hubapi.com:8443", "port", {}),
    ("pipedrive", "https://acme.pipedrive.com:80", "port", {}),
    ("hubspot", "https://api.hubapi.com:{port}", "port", {}),
    ("hubspot", "https://api.hubapi.com:0", "port", {}),
    ("hubspot", "https://api%2ehubapi.com", "encoding", {}),
    ("hubspot", "https://%61pi.hubapi.com", "encoding", {}),
    ("hubspot", "https://\u0430pi.hubapi.com", "idna", {}),  # Cyrillic a
    ("pipedrive", "https://acme.pipedrive\u3002com", "idna", {}),  # ideographic full stop
    ("hubspot", "https://api.hubapi.com..", "syntax", {}),
    ("hubspot", "https://[::1:{port}/", "syntax", {}),
    ("hubspot", "https://api.hubapi.com\\@evil.io", "syntax", {}),
    ("hubspot", "https://evil.io#@api.hubapi.com", "query", {}),
    ("hubspot", "https://evil.io?.api.hubapi.com", "query", {}),
]


@pytest.mark.parametrize(("kind", "url", "reason", "options"), HOSTILE, ids=[h[1] for h in HOSTILE])
def test_hostile_url_is_refused_with_its_reason(
    listener: Listener, kind: str, url: str, reason: str, options: dict[str, bool]
) -> None:
    with pytest.raises(UnsafeURLError) as caught:
        check_crm_url(kind, url.format(port=listener.port), resolver=RESOLVE, **options)
    assert caught.value.reason == reason


def test_every_hostile_url_is_refused_and_the_listener_sees_no_connection(listener: Listener) -> None:
    before = listener.connections
    refused = 0
    for kind, url, _, options in HOSTILE:
        target = url.format(port=listener.port)
        try:
            base = check_crm_url(kind, target, resolver=RESOLVE, **options)
        except UnsafeURLError:
            refused += 1
            continue
        with httpx.Client(transport=SafeTransport(resolver=RESOLVE)) as client:  # pragma: no cover - a failure
            client.get(base)
    print(f"hostile URLs refused before connecting: {refused}/{len(HOSTILE)}")
    assert refused == len(HOSTILE) >= 30
    assert listener.connections == before


GOOD = [
    ("hubspot", "https://api.hubapi.com", "https://api.hubapi.com", {}),
    ("hubspot", "HTTPS://API.HubApi.COM./", "https://api.hubapi.com", {}),
    ("pipedrive", "https://acme.pipedrive.com", "https://acme.pipedrive.com", {}),
    ("pipedrive", "https://api.pipedrive.com:443/api/v2/", "https://api.pipedrive.com/api/v2", {}),
    ("amocrm", "https://acme.amocrm.ru", "https://acme.amocrm.ru", {}),
    ("amocrm", "https://acme.amocrm.com/", "https://acme.amocrm.com", {}),
    ("amocrm", "https://acme.kommo.com", "https://acme.kommo.com", {}),
    ("bitrix24", "https://acme.bitrix24.de", "https://acme.bitrix24.de", {}),
    ("bitrix24", "https://Acme.Bitrix24.RU.:443/rest/1/abc/", "https://acme.bitrix24.ru/rest/1/abc", {}),
    ("bitrix24", "https://acme.bitrix24.com.br", "https://acme.bitrix24.com.br", {}),
    ("bitrix24", "https://crm.example-company.com", "https://crm.example-company.com", {"allow_self_hosted": True}),
    ("bitrix24", "https://портал.рф", f"https://{idna.encode('портал.рф').decode()}", {"allow_self_hosted": True}),
    ("hubspot", "http://localhost:8080", "http://localhost:8080", {"allow_loopback": True}),
    ("hubspot", "http://[::1]:8080/", "http://[::1]:8080", {"allow_loopback": True}),
]


@pytest.mark.parametrize(("kind", "url", "expected", "options"), GOOD, ids=[g[1] for g in GOOD])
def test_crm_url_on_the_allow_list_is_accepted_and_normalized(
    kind: str, url: str, expected: str, options: dict[str, bool]
) -> None:
    assert check_crm_url(kind, url, resolver=RESOLVE, **options) == expected


def test_loopback_sandbox_url_is_accepted_only_with_allow_loopback(listener: Listener) -> None:
    url = f"http://127.0.0.1:{listener.port}"
    assert check_crm_url("hubspot", url, allow_loopback=True) == url  # without it: the HOSTILE case above


def test_allow_list_covers_every_crm_kind() -> None:
    assert set(ALLOWED_DOMAINS) == {"hubspot", "pipedrive", "amocrm", "bitrix24"}
    with pytest.raises(UnsafeURLError) as caught:
        check_crm_url("salesforce", "https://x.my.salesforce.com", resolver=RESOLVE)
    assert caught.value.reason == "kind"


# Straight to the connect-time layer (no save-time check): what DNS rebinding would slip past.
TRANSPORT_HOSTILE = [
    ("https://rebind.pipedrive.com:{port}/v1/deals", {}, "internal_address"),
    ("http://api.hubapi.com:{port}/", {"api.hubapi.com": ["127.0.0.1"]}, "internal_address"),
    ("http://127.0.0.1:{port}/", {}, "ip_literal"),
    ("http://[::ffff:127.0.0.1]:{port}/", {}, "ip_literal"),
    ("http://acme.pipedrive.com:{port}/", {}, "scheme"),
    ("https://nxdomain.pipedrive.com:{port}/", {}, "unresolvable"),
    ("file:///etc/passwd", {}, "scheme"),
]


@pytest.mark.parametrize(("url", "override", "reason"), TRANSPORT_HOSTILE, ids=[t[0] for t in TRANSPORT_HOSTILE])
def test_safe_transport_refuses_internal_targets_before_connecting(
    listener: Listener, url: str, override: dict[str, list[str]], reason: str
) -> None:
    before = listener.connections
    transport = SafeTransport(resolver=resolver_for({**NAMES, **override}))
    with httpx.Client(transport=transport) as client, pytest.raises(UnsafeURLError) as caught:
        client.get(url.format(port=listener.port))
    assert caught.value.reason == reason
    assert listener.connections == before


def test_dns_rebinding_after_the_save_time_check_is_caught_at_connect_time(listener: Listener) -> None:
    answers = iter([[PUBLIC], ["127.0.0.1"], ["127.0.0.1"]])

    def rebinding(host: str, port: int) -> list[str]:
        return next(answers)

    base = check_crm_url("pipedrive", "https://acme.pipedrive.com", resolver=rebinding)
    before = listener.connections
    client = httpx.Client(base_url=f"{base}:{listener.port}", transport=SafeTransport(resolver=rebinding))
    with client, pytest.raises(UnsafeURLError) as caught:
        client.get("/v1/deals")
    assert caught.value.reason == "internal_address"
    assert listener.connections == before


def test_safe_transport_pins_the_vetted_ip_and_keeps_the_host_header(listener: Listener) -> None:
    before = listener.connections
    transport = SafeTransport(allow_loopback=True, resolver=resolver_for({"api.hubapi.com": ["127.0.0.1"]}))
    with httpx.Client(transport=transport) as client:
        response = client.get(f"http://api.hubapi.com:{listener.port}/crm/v3/objects/deals")
    assert response.status_code == 200
    assert response.request.url.host == "api.hubapi.com"
    assert listener.connections == before + 1
    assert f"Host: api.hubapi.com:{listener.port}".encode() in listener.requests[-1]


def test_safe_transport_with_an_inner_transport_checks_first_and_honours_allowed_hosts() -> None:
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, json={"ok": True})

    inner = httpx.MockTransport(answer)
    transport = SafeTransport(inner, resolver=RESOLVE, allowed_hosts=["acme.bitrix24.ru"])
    with httpx.Client(transport=transport) as client:
        assert client.get("https://acme.bitrix24.ru/rest/crm.deal.get").status_code == 200
        for hostile in ("https://acme.bitrix24.de/rest/", "https://mapped.bitrix24.ru/rest/"):
            with pytest.raises(UnsafeURLError):
                client.get(hostile)
    assert seen == ["https://acme.bitrix24.ru/rest/crm.deal.get"]


def test_unsafe_url_is_not_retried_by_send_with_retry(listener: Listener) -> None:
    sleeps: list[float] = []
    transport = SafeTransport(resolver=resolver_for({"api.hubapi.com": ["10.1.2.3"]}))
    client = build_client("https://api.hubapi.com", headers={}, transport=transport)
    with client, pytest.raises(UnsafeURLError):
        send_with_retry(client, "GET", "/crm/v3/objects/deals", policy=RetryPolicy(max_attempts=4), sleep=sleeps.append)
    assert sleeps == []


STORED = "https://acme.bitrix24.ru"
MATCHING = [
    ("https://acme.bitrix24.ru/rest/", STORED), ("https://ACME.Bitrix24.RU:443/rest/", STORED),
    ("https://acme.bitrix24.ru./rest/", STORED), ("https://acme.bitrix24.ru/rest/", "https://acme.bitrix24.ru:443"),
    ("http://127.0.0.1:5000/rest/", "http://127.0.0.1:5000"),
]  # fmt: skip
HOSTILE_ENDPOINTS = [
    "https://evil.io/rest/", "https://acme.bitrix24.ru.evil.io/rest/", "https://acme.bitrix24.ru@evil.io/rest/",
    "http://acme.bitrix24.ru/rest/", "https://acme.bitrix24.ru:8443/rest/", "https://other.bitrix24.ru/rest/",
    "https://acme.bitrix24.ru\\@evil.io/rest/", "https://acme%2ebitrix24.ru/rest/", "https://\u0430cme.bitrix24.ru/",
    "//acme.bitrix24.ru/rest/", "javascript:alert(1)", "", "https://127.0.0.1/rest/", "https://acme.bitrix24.ru:x/",
    "https://[::1]/rest/", "http://127.0.0.1:5001/rest/",
]  # fmt: skip


@pytest.mark.parametrize(("candidate", "stored"), MATCHING)
def test_client_endpoint_on_the_stored_portal_matches(candidate: str, stored: str) -> None:
    assert endpoint_matches(candidate, stored)


@pytest.mark.parametrize("candidate", HOSTILE_ENDPOINTS)
def test_hostile_client_endpoint_does_not_match(candidate: str) -> None:
    assert not endpoint_matches(candidate, STORED)
