"""send_with_retry against a real loopback HTTP server that answers from a script."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from adapters.errors import (
    CRMAuthError,
    CRMNotFound,
    CRMRateLimited,
    CRMRejected,
    CRMUnavailable,
)
from adapters.http import RetryPolicy, build_client, parse_retry_after, send_with_retry
from adapters.hubspot import DAILY_LIMIT_WAIT, classify_hubspot
from adapters.ratelimit import RateLimiter

TOKEN = "pat-na1-secret-token-123"


@dataclass
class Step:
    """One scripted answer; after the script runs out the server answers 200 {"ok": true}."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


class ScriptedServer:
    """A werkzeug server on 127.0.0.1 that pops one Step per request and logs what it saw."""

    def __init__(self) -> None:
        self.script: list[Step] = []
        self.seen: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self.base_url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)

    def _app(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        with self._lock:
            self.seen.append((request.method, request.path))
            step = self.script.pop(0) if self.script else Step(body={"ok": True})
        if step.delay:
            time.sleep(step.delay)
        body = step.body if isinstance(step.body, str) else json.dumps(step.body)
        response = Response(body, status=step.status, headers=step.headers, content_type="application/json")
        return response(environ, start_response)

    def __enter__(self) -> ScriptedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with ScriptedServer() as srv:
        yield srv


@pytest.fixture
def client(server: ScriptedServer) -> Iterator[httpx.Client]:
    with build_client(
        server.base_url,
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=httpx.Timeout(5.0, connect=5.0),  # roomy: a loaded CI machine answers late
    ) as c:
        yield c


class Sleeps(list[float]):
    """Records the delays send_with_retry asked for instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def call(client: httpx.Client, sleeps: Sleeps, method: str = "GET", **kw: Any) -> httpx.Response:
    return send_with_retry(client, method, "/crm/v3/objects/deals/1", sleep=sleeps, rand=lambda: 1.0, **kw)


def hubspot_error(message: str, correlation_id: str = "corr-1") -> dict[str, str]:
    return {"status": "error", "message": message, "correlationId": correlation_id, "category": "X"}


def test_given_429_with_retry_after_then_200_when_sending_then_waits_at_least_retry_after(
    server: ScriptedServer, client: httpx.Client
) -> None:
    server.script = [Step(429, hubspot_error("You have reached your ten_secondly_rolling limit."),
                          {"Retry-After": "2"})]  # fmt: skip
    sleeps = Sleeps()
    assert call(client, sleeps).json() == {"ok": True}
    assert len(server.seen) == 2
    assert sleeps == [2.0]  # backoff would have been 0.25: Retry-After wins


def test_given_500_then_200_when_sending_then_retries_with_capped_backoff(
    server: ScriptedServer, client: httpx.Client
) -> None:
    server.script = [Step(500, hubspot_error("internal")), Step(502, "bad gateway")]
    sleeps = Sleeps()
    assert call(client, sleeps).status_code == 200
    assert len(server.seen) == 3
    assert sleeps == [0.25, 0.5]


def test_given_slow_answer_then_200_when_sending_then_timeout_is_retried(server: ScriptedServer) -> None:
    server.script = [Step(200, {"slow": True}, delay=6.0)]
    sleeps = Sleeps()
    started = time.monotonic()
    with build_client(server.base_url, headers={}, timeout=httpx.Timeout(1.0, connect=5.0)) as short:
        assert call(short, sleeps).json() == {"ok": True}
    assert time.monotonic() - started < 6.0  # the client gave up on the slow answer
    assert len(sleeps) == 1


def test_given_401_when_sending_then_auth_error_at_once_without_token(
    server: ScriptedServer, client: httpx.Client
) -> None:
    server.script = [Step(401, hubspot_error("Authentication credentials not found.", "c-401"))]
    sleeps = Sleeps()
    with pytest.raises(CRMAuthError) as info:
        call(client, sleeps)
    assert len(server.seen) == 1
    assert sleeps == []
    err = info.value
    assert (err.status, err.vendor_message, err.request_id) == (
        401,
        "Authentication credentials not found.",
        "c-401",
    )
    assert TOKEN not in str(err) and TOKEN not in repr(vars(err))
    assert err.__cause__ is None and err.__context__ is None  # no httpx request (with headers) attached


@pytest.mark.parametrize(
    ("status", "error_type"),
    [(403, CRMAuthError), (404, CRMNotFound), (400, CRMRejected), (409, CRMRejected)],
)
def test_given_4xx_when_sending_then_fails_at_once_with_vendor_message(
    server: ScriptedServer, client: httpx.Client, status: int, error_type: type[Exception]
) -> None:
    server.script = [Step(status, hubspot_error(f"vendor says {status}", f"corr-{status}"))]
    sleeps = Sleeps()
    with pytest.raises(error_type) as info:
        call(client, sleeps, method="PATCH", json={"properties": {"dealstage": "x"}})
    assert len(server.seen) == 1 and sleeps == []
    assert info.value.vendor_message == f"vendor says {status}"  # type: ignore[attr-defined]
    assert info.value.request_id == f"corr-{status}"  # type: ignore[attr-defined]
    assert f"vendor says {status}" in str(info.value)


def test_given_retry_after_above_max_when_sending_then_rate_limited_at_once(
    server: ScriptedServer, client: httpx.Client
) -> None:
    server.script = [Step(429, hubspot_error("daily limit"), {"Retry-After": "120"})]
    sleeps = Sleeps()
    with pytest.raises(CRMRateLimited) as info:
        call(client, sleeps, policy=RetryPolicy(max_retry_after=30.0))
    assert info.value.retry_after == 120.0
    assert info.value.retryable
    assert len(server.seen) == 1 and sleeps == []


def test_given_redirect_when_sending_then_not_followed(server: ScriptedServer, client: httpx.Client) -> None:
    server.script = [Step(302, "", {"Location": "/elsewhere"})]
    with pytest.raises(CRMRejected) as info:
        call(client, Sleeps())
    assert server.seen == [("GET", "/crm/v3/objects/deals/1")]
    assert info.value.status == 302 and "/elsewhere" in str(info.value)


def test_given_persistent_503_when_sending_then_unavailable_after_max_attempts(
    server: ScriptedServer, client: httpx.Client
) -> None:
    server.script = [Step(503, "down") for _ in range(10)]
    sleeps = Sleeps()
    with pytest.raises(CRMUnavailable) as info:
        call(client, sleeps, policy=RetryPolicy(max_attempts=4, base_delay=1.0, max_delay=3.0))
    assert len(server.seen) == 4
    assert sleeps == [1.0, 2.0, 3.0]  # capped at max_delay
    assert info.value.status == 503 and info.value.body == "down"


def test_given_full_jitter_when_backing_off_then_delay_is_within_cap() -> None:
    policy = RetryPolicy(base_delay=0.25, max_delay=8.0)
    assert policy.backoff(1, lambda: 0.0) == 0.0
    assert policy.backoff(3, lambda: 0.5) == pytest.approx(0.5)
    assert policy.backoff(20, lambda: 1.0) == 8.0


def test_given_non_idempotent_call_when_500_then_not_retried_but_429_is(
    server: ScriptedServer, client: httpx.Client
) -> None:
    server.script = [Step(500, "boom")]
    with pytest.raises(CRMUnavailable):
        call(client, Sleeps(), method="POST", json={}, idempotent=False)
    assert len(server.seen) == 1
    server.script = [Step(429, hubspot_error("slow down"), {"Retry-After": "1"})]
    assert call(client, Sleeps(), method="POST", json={}, idempotent=False).status_code == 200
    assert len(server.seen) == 3


def test_given_closed_port_when_sending_then_connect_errors_are_retried() -> None:
    with ScriptedServer() as srv:
        base = srv.base_url
    sleeps = Sleeps()
    with (
        build_client(base, headers={}, timeout=httpx.Timeout(0.5)) as c,
        pytest.raises(CRMUnavailable) as info,
    ):
        call(c, sleeps, method="POST", idempotent=False)
    assert len(sleeps) == 3  # connect failures are safe to retry even for creates
    assert "connection failed" in str(info.value)


def test_given_long_error_body_when_failing_then_body_is_truncated(
    server: ScriptedServer, client: httpx.Client
) -> None:
    server.script = [Step(400, "x" * 5000, {"X-Request-Id": "req-9"})]
    with pytest.raises(CRMRejected) as info:
        call(client, Sleeps())
    assert len(info.value.body or "") == 2000
    assert info.value.request_id == "req-9" and info.value.vendor_message is None


def test_given_limiter_when_sending_then_every_attempt_takes_a_slot(
    server: ScriptedServer, client: httpx.Client
) -> None:
    limiter = RateLimiter({"default": (5, 60.0), "search": (2, 60.0)})
    server.script = [Step(500, "boom")]
    call(client, Sleeps(), limiter=limiter, bucket="search")
    assert limiter.try_acquire("search") > 0  # the failed attempt and the retry took both slots
    assert limiter.try_acquire("default") == 0.0  # other buckets untouched


def test_given_retry_after_forms_when_parsing_then_seconds() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("0.5") == 0.5
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == pytest.approx(10.0)
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412490.0) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_given_hubspot_daily_429_without_retry_after_when_sending_then_rescheduled_at_once(
    server: ScriptedServer, client: httpx.Client
) -> None:
    server.script = [
        Step(429, {**hubspot_error("You have reached your daily limit."), "policyName": "DAILY"})
    ]
    sleeps = Sleeps()
    with pytest.raises(CRMRateLimited) as info:
        call(client, sleeps, classify=classify_hubspot)
    assert info.value.retry_after == DAILY_LIMIT_WAIT
    assert len(server.seen) == 1 and sleeps == []


def test_given_hubspot_burst_429_without_retry_after_when_sending_then_waits_a_second(
    server: ScriptedServer, client: httpx.Client
) -> None:
    body = {
        **hubspot_error("You have reached your ten_secondly_rolling limit."),
        "policyName": "TEN_SECONDLY_ROLLING",
    }
    server.script = [Step(429, body)]
    sleeps = Sleeps()
    assert call(client, sleeps, classify=classify_hubspot).status_code == 200
    assert sleeps == [1.0]
