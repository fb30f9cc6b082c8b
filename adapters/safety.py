"""Outbound-request safety for user-configured CRM URLs (SSRF protection, design doc section 4.2).

`check_crm_url` is the save-time gate: https only, no userinfo, no IP literals, the host on the CRM's
domain allow-list (label boundary), the default port, and every address the host resolves to public.
`adapters.safe_transport.SafeTransport` repeats the address check on every request (DNS rebinding).
`endpoint_matches` compares a Bitrix24 `auth[client_endpoint]` with the stored portal.
Controls follow https://cheatsheetseries.owasp.org/cheatsheets/Server_Side_Request_Forgery_Prevention_Cheat_Sheet.html.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable
from urllib.parse import urlsplit

import idna

Resolver = Callable[[str, int], list[str]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Bitrix24 cloud zones seen in portal addresses; any other domain needs the self-hosted opt-in.
# fmt: off
_BITRIX24_ZONES = (
    "ru", "com", "de", "eu", "by", "kz", "ua", "es", "fr", "in", "it", "pl", "uk", "co.uk",
    "com.br", "jp", "cn", "com.tr", "id", "vn",
)
# fmt: on
# Domain suffixes per CRM kind; a host matches when it equals one or ends with "." + one.
ALLOWED_DOMAINS: dict[str, tuple[str, ...]] = {
    "hubspot": ("api.hubapi.com",),
    "pipedrive": ("pipedrive.com",),
    "amocrm": ("amocrm.ru", "amocrm.com", "kommo.com"),
    "bitrix24": tuple(f"bitrix24.{zone}" for zone in _BITRIX24_ZONES),
}

# Ranges refused even where `ipaddress` flags disagree between Python versions.
_FORBIDDEN_NETWORKS = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
        "192.0.0.0/24", "192.168.0.0/16", "198.18.0.0/15", "224.0.0.0/4", "240.0.0.0/4",
        "::/128", "::1/128", "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8", "100::/64",
    )
)  # fmt: skip
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
# A label the WHATWG URL parser (and inet_aton) would read as a number: 2130706433, 0177, 0x7f.
_NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")
_BAD_CHARS = re.compile(r"[\x00-\x20\x7f\\]")
_DEFAULT_PORTS = {"https": 443, "http": 80}


class UnsafeURLError(ValueError):
    """A URL refused for outbound use; `reason` is a stable machine code.

    Codes: "scheme", "userinfo", "syntax", "encoding", "idna", "ip_literal", "host_not_allowed",
    "port", "query", "unresolvable", "internal_address", "kind".
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def default_resolver(host: str, port: int) -> list[str]:
    """Every address `host` resolves to for TCP, in resolver order, without IPv6 scope ids.

    Raises OSError (socket.gaierror) when the name does not resolve.
    """
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]).split("%")[0] for info in infos))


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address carried by a mapped, compatible, NAT64, 6to4 or Teredo IPv6 address."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in _NAT64 or (int(ip) >> 32 == 0 and int(ip) > 1):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_loopback(ip: IPAddress) -> bool:
    """True for 127.0.0.0/8, ::1 and IPv4-mapped loopback."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped.is_loopback
    return ip.is_loopback


def address_problem(address: str | IPAddress, *, allow_loopback: bool = False) -> str | None:
    """None when `address` is a public unicast address we may connect to, else a short description.

    Loopback passes only with `allow_loopback`. An unparsable address is a problem too.
    """
    try:
        ip = ipaddress.ip_address(address.split("%")[0] if isinstance(address, str) else address)
    except ValueError:
        return f"{address!r} is not an IP address"
    if is_loopback(ip):
        return None if allow_loopback else f"{ip} is loopback"
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_ipv4(ip)
        if inner is not None and address_problem(inner) is not None:
            return f"{ip} embeds the internal IPv4 address {inner}"
    if any(ip in net for net in _FORBIDDEN_NETWORKS if net.version == ip.version):
        return f"{ip} is in a private, link-local or reserved range"
    flags = (ip.is_private, ip.is_link_local, ip.is_multicast, ip.is_reserved, ip.is_unspecified)
    if any(flags) or not ip.is_global:
        return f"{ip} is not a public unicast address"
    return None


def normalize_host(raw: str, *, allow_unicode: bool = False) -> str:
    """The lower-case ASCII (A-label) form of a DNS host name, one trailing dot dropped.

    Raises UnsafeURLError: "encoding" for percent-encoded hosts, "idna" for non-ASCII hosts unless
    `allow_unicode` (then IDNA 2008 / UTS 46 is applied) or for invalid punycode, "syntax" for
    empty labels, bad characters or over-long names.
    """
    if "%" in raw:
        raise UnsafeURLError("encoding", "percent-encoded host names are refused")
    host = raw[:-1] if raw.endswith(".") else raw
    if not host.isascii():
        if not allow_unicode:
            raise UnsafeURLError("idna", "non-ASCII host names are refused for CRM cloud domains")
        try:
            host = idna.encode(host, uts46=True, std3_rules=True).decode("ascii")
        except idna.IDNAError as exc:
            raise UnsafeURLError("idna", f"host is not a valid internationalized domain name: {exc}") from None
    host = host.lower()
    labels = host.split(".")
    if len(host) > 253 or not all(_LABEL.match(label) for label in labels):
        raise UnsafeURLError("syntax", "host is not a valid DNS name")
    if any(label.startswith("xn--") for label in labels):
        try:
            idna.decode(host)
        except idna.IDNAError:
            raise UnsafeURLError("idna", "host has an invalid punycode label") from None
    return host


def _split_host(netloc: str) -> tuple[str, bool, str | None]:
    """(host, is_bracketed_ipv6, port text or None) from an authority without userinfo."""
    if netloc.startswith("["):
        end = netloc.find("]")
        if end < 0:
            raise UnsafeURLError("syntax", "unterminated IPv6 literal")
        rest = netloc[end + 1 :]
        if rest and not rest.startswith(":"):
            raise UnsafeURLError("syntax", "garbage after IPv6 literal")
        return netloc[1:end], True, (rest[1:] if rest else None)
    host, sep, port = netloc.partition(":")
    return host, False, (port if sep else None)


def _literal_ip(host: str, bracketed: bool) -> IPAddress | None:
    """The IP a literal host denotes; UnsafeURLError("ip_literal") for non-canonical numeric forms."""
    if bracketed:
        try:
            return ipaddress.IPv6Address(host.split("%")[0])
        except ValueError:
            raise UnsafeURLError("syntax", "invalid IPv6 literal") from None
    try:
        return ipaddress.IPv4Address(host)
    except ValueError:
        pass
    last = host.rstrip(".").rsplit(".", 1)[-1].lower()
    if _NUMERIC_LABEL.match(last):
        raise UnsafeURLError("ip_literal", "numeric (decimal, octal or hex) IP address forms are refused")
    return None


def resolve_checked(host: str, port: int, *, allow_loopback: bool, resolver: Resolver | None) -> list[str]:
    """The addresses `host` resolves to, all vetted by `address_problem`.

    Raises UnsafeURLError "unresolvable" (lookup failed or empty) or "internal_address".
    """
    try:
        addresses = (resolver or default_resolver)(host, port)
    except (OSError, UnicodeError) as exc:
        raise UnsafeURLError("unresolvable", f"host {host!r} does not resolve ({type(exc).__name__})") from None
    if not addresses:
        raise UnsafeURLError("unresolvable", f"host {host!r} resolves to no address")
    for address in addresses:
        problem = address_problem(address, allow_loopback=allow_loopback)
        if problem:
            raise UnsafeURLError("internal_address", f"host {host!r} resolves to a refused address: {problem}")
    return addresses


def check_crm_url(
    kind: str,
    url: str,
    *,
    allow_self_hosted: bool = False,
    allow_loopback: bool = False,
    resolver: Resolver | None = None,
) -> str:
    """The normalized base URL (`https://host[:port]/path`, no trailing slash) or UnsafeURLError.

    `allow_self_hosted` lets a bitrix24 URL use any public domain (admin opt-in). `allow_loopback`
    (sandboxes only) admits loopback hosts on any port and plain http to them. `resolver(host, port)`
    returns address strings; default `socket.getaddrinfo`. Raises UnsafeURLError with a `reason`.
    """
    if kind not in ALLOWED_DOMAINS:
        raise UnsafeURLError("kind", f"unknown CRM kind {kind!r}")
    if not isinstance(url, str) or _BAD_CHARS.search(url) or len(url) > 2048:
        raise UnsafeURLError("syntax", "URL has whitespace, control characters or backslashes")
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unterminated "[" IPv6 literal
        raise UnsafeURLError("syntax", "URL does not parse") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise UnsafeURLError("scheme", f"scheme {scheme!r} is refused; use https")
    if "@" in parts.netloc:
        raise UnsafeURLError("userinfo", "credentials in the URL authority are refused")
    if parts.query or parts.fragment or "?" in url or "#" in url:
        raise UnsafeURLError("query", "a CRM base URL takes no query or fragment")
    raw_host, bracketed, port_text = _split_host(parts.netloc)
    if not raw_host:
        raise UnsafeURLError("syntax", "URL has no host")
    literal = _literal_ip(raw_host, bracketed)
    if literal is not None:
        if not (allow_loopback and is_loopback(literal)):
            raise UnsafeURLError("ip_literal", "IP address hosts are refused; use the CRM's domain name")
        host = f"[{literal}]" if literal.version == 6 else str(literal)
        lookup = str(literal)
    else:
        self_hosted = kind == "bitrix24" and allow_self_hosted
        lookup = normalize_host(raw_host, allow_unicode=self_hosted)
        host = lookup
        local = allow_loopback and lookup == "localhost"
        if not (self_hosted or local or any(lookup == d or lookup.endswith("." + d) for d in ALLOWED_DOMAINS[kind])):
            raise UnsafeURLError("host_not_allowed", f"host {lookup!r} is not a {kind} domain")
    try:
        port = int(port_text) if port_text else _DEFAULT_PORTS[scheme]
    except ValueError:
        raise UnsafeURLError("port", "port is not a number") from None
    if port_text is not None and (not port_text.isdigit() or not 0 < port < 65536):
        raise UnsafeURLError("port", "port out of range")
    checked = resolve_checked(lookup, port, allow_loopback=allow_loopback, resolver=resolver) if literal is None else []
    addresses = checked or [lookup]
    all_loopback = all(is_loopback(ipaddress.ip_address(a.split("%")[0])) for a in addresses)
    if allow_loopback and all_loopback:
        pass  # sandboxes: http and any port on loopback
    elif scheme != "https":
        raise UnsafeURLError("scheme", "only https is allowed (http only for loopback sandboxes)")
    elif port != 443:
        raise UnsafeURLError("port", "only the default https port 443 is allowed")
    elif lookup == "localhost":
        raise UnsafeURLError("host_not_allowed", "localhost must resolve to loopback only")
    path = parts.path.rstrip("/")
    if any(seg in (".", "..") for seg in path.split("/")):
        raise UnsafeURLError("syntax", "dot segments in the path are refused")
    default = port == _DEFAULT_PORTS[scheme]
    return f"{scheme}://{host}{'' if default else f':{port}'}{path}"


def endpoint_matches(candidate_url: str, stored_base_url: str) -> bool:
    """True only when `candidate_url` (e.g. Bitrix24 `auth[client_endpoint]`) has the stored portal's
    scheme, host and port (host case-insensitive, one trailing dot ignored, default ports normalized).

    Anything unparsable, with userinfo, encoded or non-ASCII hosts, or odd characters is False.
    """
    a, b = _origin(candidate_url), _origin(stored_base_url)
    return a is not None and a == b


def _origin(url: str) -> tuple[str, str, int] | None:
    if not isinstance(url, str) or _BAD_CHARS.search(url) or not url.isascii():
        return None
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in _DEFAULT_PORTS or "@" in parts.netloc:
            return None
        raw_host, bracketed, port_text = _split_host(parts.netloc)
        if bracketed:
            host = str(ipaddress.IPv6Address(raw_host))
        elif _literal_ip(raw_host, False) is not None:
            host = raw_host
        else:
            host = normalize_host(raw_host)
        if port_text is not None and not port_text.isdigit():
            return None
        port = int(port_text) if port_text else _DEFAULT_PORTS[scheme]
    except (UnsafeURLError, ValueError):
        return None
    return scheme, host, port
