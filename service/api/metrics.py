"""GET /metrics for Prometheus, and what every request adds to observability: its request id bound to its log
lines, and the answer to each webhook delivery counted.

Who may scrape: Prometheus sends no API key, and the page needs none, but it is not public either. It is
answered to a client address in QUALIFY_METRICS_ALLOW (default: loopback) or to a request carrying
`Authorization: Bearer <QUALIFY_METRICS_TOKEN>`; anyone else gets 404, as for a page that does not exist. A
request that came through a proxy (X-Forwarded-For) is never let in by its address unless QUALIFY_TRUST_PROXY
is on (then the forwarded client address is checked), so a reverse proxy on the same host does not make the
page public. The page holds counts and labels from fixed sets only: no secret, no URL, no client input.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
from functools import cache

from flask import Flask, Response, abort, g, request

from service import log_context
from service import metrics as counted
from service.api.common import errors, public_blueprint, runtime
from service.config import Settings
from service.services.metrics_page import metrics_page

log = logging.getLogger("qualify.api")
blp = public_blueprint("metrics", __name__, None, "Prometheus metrics")
WEBHOOKS = "/v1/webhooks/"
PAGE_TYPES = {"text/plain": {"schema": {"type": "string"}},
              "application/openmetrics-text": {"schema": {"type": "string"}}}


@cache
def _networks(allow: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(item.strip(), strict=False) for item in allow.split(",") if item.strip())


def may_scrape(settings: Settings) -> bool:
    """Whether the current request may read /metrics: the metrics token, else an allowed client address."""
    token = settings.metrics_token
    if token and hmac.compare_digest(request.headers.get("Authorization", "").encode(), f"Bearer {token}".encode()):
        return True
    if "X-Forwarded-For" in request.headers and not settings.trust_proxy:
        return False
    try:
        address = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped  # ::ffff:127.0.0.1 from a dual-stack socket is 127.0.0.1
    return any(address in network for network in _networks(settings.metrics_allow))


@blp.route("/metrics", methods=["GET"])
@blp.doc(security=[], responses={"200": {"description": "The metrics, in Prometheus' text format (OpenMetrics "
                                                        "when the Accept header asks for it)", "content": PAGE_TYPES}})
@errors(blp, 404, descriptions={404: "Not served to this client: its address is not in QUALIFY_METRICS_ALLOW "
                                     "and it sent no QUALIFY_METRICS_TOKEN"})
def metrics_view() -> Response:
    """Counters of every process of this server and gauges of the stored state (docs/operations.md)."""
    if not may_scrape(runtime().settings):
        log.info("refused /metrics to %s", request.remote_addr)
        abort(404)
    body, content_type = metrics_page(runtime(), request.headers.get("Accept"))
    return Response(body, content_type=content_type, headers={"Cache-Control": "no-store"})


def _bind_request() -> None:
    log_context.clear()
    log_context.bind(request_id=g.get("request_id"))


def _count_webhook(response: Response) -> Response:
    if request.method == "POST" and request.path.startswith(WEBHOOKS):
        reason = None
        if response.status_code in (400, 401):
            body = response.get_json(silent=True) or {}
            reasons = (body.get("errors") or {}).get("reason") or [None]
            reason = reasons[0] if isinstance(reasons, list) else None
        counted.webhook_answered(response.status_code, reason)
    return response


def _unbind(exc: BaseException | None) -> None:
    log_context.clear()


def configure_observability(app: Flask) -> None:
    """Bind each request's id to its log lines, count webhook answers and CRM calls (after the request id is
    set: service/api/security.py)."""
    counted.watch_crm_calls()
    app.before_request(_bind_request)
    app.after_request(_count_webhook)
    app.teardown_request(_unbind)
