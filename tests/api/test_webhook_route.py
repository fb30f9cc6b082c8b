"""Deliveries are answered in front of Flask (service/api/webhook_route.py) exactly as the documented Flask view
answers them: same status, headers and body for every outcome; anything else still reaches Flask."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Callable
from typing import Any

import pytest
from werkzeug.wrappers import Request

import service.api.webhook_route as route
import service.api.webhooks as view
from service.errors import StorageError
from tests.api.conftest import assert_problem
from tests.api.test_webhooks_api import event, signed

NOWHERE = re.compile(r"(?!)")  # a DELIVERY_PATH that matches nothing: every request goes to Flask's view


class Deliveries:
    """Request arguments for the test client, each delivery with new event ids."""

    def __init__(self, hook: int) -> None:
        self.hook, self.next_id = hook, 0
        self.path = f"/v1/webhooks/{hook}"

    def body(self, events: int = 1) -> bytes:
        self.next_id += events
        return json.dumps([event(self.next_id - n) for n in range(events)]).encode()

    def signed(self, events: int = 1, url: str | None = None, headers: dict[str, str] | None = None) -> dict[str, Any]:
        body = self.body(events)
        return {"path": self.path, "data": body,
                "headers": {**signed(body, url or f"http://localhost{self.path}"), **(headers or {})}}


def answer(response: Any, *, keep_request_id: bool) -> tuple[str, list[tuple[str, str]], Any]:
    """(status, sorted headers, body) with the request id left out when it was generated."""
    headers = sorted((k, v) for k, v in response.headers.items() if keep_request_id or k != "X-Request-Id")
    try:
        body = json.loads(response.get_data())
    except ValueError:
        body = response.get_data()
    if not keep_request_id and isinstance(body, dict):
        body.pop("request_id", None)
    return response.status, headers, body


def both_ways(monkeypatch: pytest.MonkeyPatch, client: Any, make: Callable[[], dict[str, Any]],
              keep_request_id: bool = False) -> tuple[Any, Any]:
    """The answers of the route and of Flask's view to two requests made by `make`."""
    fast = answer(client.post(**make()), keep_request_id=keep_request_id)
    with monkeypatch.context() as patched:
        patched.setattr(route, "DELIVERY_PATH", NOWHERE)
        flask = answer(client.post(**make()), keep_request_id=keep_request_id)
    return fast, flask


CASES: dict[str, Callable[[Deliveries], dict[str, Any]]] = {
    "accepted": lambda d: d.signed(),
    "accepted, batch of 3": lambda d: d.signed(3),
    "client request id": lambda d: d.signed(headers={"X-Request-Id": "crm-req-1"}),
    "unusable request id": lambda d: d.signed(headers={"X-Request-Id": "not a token!"}),
    "tampered": lambda d: {**d.signed(), "data": b"[]"},
    "no signature": lambda d: {"path": d.path, "data": d.body(), "content_type": "application/json"},
    "not json": lambda d: {"path": d.path, "data": b"[{", "headers": signed(b"[{", f"http://localhost{d.path}")},
    "empty batch": lambda d: {"path": d.path, "data": b"[]", "headers": signed(b"[]", f"http://localhost{d.path}")},
    "unknown connection": lambda d: {"path": "/v1/webhooks/2147483647", "data": b"[]"},
    "secret in the query": lambda d: {"path": f"{d.path}?secret=hunter2", "data": b"[]"},
    "https": lambda d: {**d.signed(url=f"https://localhost{d.path}"), "base_url": "https://localhost"},
    "chunked": lambda d: {**(s := d.signed()), "data": None, "input_stream": io.BytesIO(s["data"]),
                          "headers": {**s["headers"], "Transfer-Encoding": "chunked"},
                          "environ_overrides": {"wsgi.input_terminated": True}},
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_given_a_delivery_then_the_route_answers_as_the_documented_view(
        monkeypatch: pytest.MonkeyPatch, client: Any, hook: int, case: str) -> None:
    deliveries = Deliveries(hook)

    fast, flask = both_ways(monkeypatch, client, lambda: CASES[case](deliveries),
                            keep_request_id=case == "client request id")

    assert fast == flask


def test_given_a_repeated_delivery_then_both_acknowledge_it_as_duplicates(
        monkeypatch: pytest.MonkeyPatch, client: Any, hook: int) -> None:
    delivery = Deliveries(hook).signed()
    client.post(**delivery)

    fast, flask = both_ways(monkeypatch, client, lambda: delivery)

    assert fast == flask and fast[2] == {"received": 1, "stored": 0, "duplicates": 1}


@pytest.mark.parametrize("chunked", [False, True])
def test_given_a_body_over_the_limit_then_413_closing_the_connection_either_way(
        monkeypatch: pytest.MonkeyPatch, make_client: Callable[..., Any], hook: int, chunked: bool) -> None:
    small, deliveries = make_client(max_body_bytes=500), Deliveries(hook)

    def make() -> dict[str, Any]:
        delivery = deliveries.signed(5)
        if chunked:
            return {"path": delivery["path"], "input_stream": io.BytesIO(delivery["data"]),
                    "headers": {**delivery["headers"], "Transfer-Encoding": "chunked"},
                    "environ_overrides": {"wsgi.input_terminated": True}}
        return delivery

    fast, flask = both_ways(monkeypatch, small, make)

    assert fast == flask
    assert fast[0] == "413 REQUEST ENTITY TOO LARGE" and ("Connection", "close") in fast[1]


def test_given_a_proxy_when_trusted_then_the_route_checks_the_public_url_as_the_view_does(
        monkeypatch: pytest.MonkeyPatch, make_client: Callable[..., Any], hook: int) -> None:
    behind_proxy, deliveries = make_client(trust_proxy=True), Deliveries(hook)
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "q.example.com", "X-Forwarded-For": "203.0.113.9"}

    fast, flask = both_ways(monkeypatch, behind_proxy, lambda: deliveries.signed(
        url=f"https://q.example.com{deliveries.path}", headers=forwarded))

    assert fast == flask and fast[0] == "200 OK"
    assert ("Strict-Transport-Security", "max-age=31536000; includeSubDomains") in fast[1]


@pytest.mark.parametrize(("error", "status"), [(RuntimeError("boom"), 500),
                                               (StorageError("The delivery could not be stored; retry later."), 503)])
def test_given_the_use_case_fails_then_both_answer_the_same_problem(
        monkeypatch: pytest.MonkeyPatch, client: Any, hook: int, caplog: pytest.LogCaptureFixture,
        error: Exception, status: int) -> None:
    def failing(*args: Any, **kwargs: Any) -> dict[str, int]:
        raise error

    monkeypatch.setattr(route, "receive_webhook", failing)
    monkeypatch.setattr(view, "receive_webhook", failing)
    deliveries = Deliveries(hook)

    with caplog.at_level(logging.ERROR, logger="qualify.api"):
        fast, flask = both_ways(monkeypatch, client, lambda: deliveries.signed(headers={"X-Request-Id": "req-failing"}),
                                keep_request_id=True)

    assert fast == flask and fast[2]["status"] == status
    if status == 500:
        assert [r.getMessage() for r in caplog.records] == ["unhandled error, request_id=req-failing"] * 2


def test_given_an_odd_spelling_of_the_url_then_flasks_view_answers_it(client: Any, hook: int) -> None:
    deliveries = Deliveries(hook)
    odd = f"/v1/webhooks/0{hook}"
    delivery = deliveries.signed(url=f"http://localhost{odd}")

    response = client.post(**{**delivery, "path": odd})

    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"received": 1, "stored": 1, "duplicates": 0}


@pytest.mark.parametrize("method", ["GET", "PUT"])
def test_given_another_method_then_flask_answers_405(client: Any, hook: int, method: str) -> None:
    assert_problem(client.open(f"/v1/webhooks/{hook}", method=method), 405)


def test_a_delivery_sets_no_cookie_and_carries_no_rate_limit_headers(
        make_client: Callable[..., Any], hook: int) -> None:
    throttled = make_client(auth_failures_per_minute=1)

    responses = [throttled.post(**Deliveries(hook).signed()) for _ in range(3)]
    refused = throttled.post(f"/v1/webhooks/{hook}", data=b"[]")

    assert [r.status_code for r in responses] == [200, 200, 200]
    assert_problem(refused, 401)
    for response in (*responses, refused):
        assert "Set-Cookie" not in response.headers and "Vary" not in response.headers
        names = [name.lower() for name, _ in response.headers.items()]
        assert not [name for name in names if name.startswith(("x-ratelimit", "retry-after"))]


@pytest.mark.parametrize("environ", [
    {"wsgi.url_scheme": "http", "HTTP_HOST": "localhost", "PATH_INFO": "/v1/webhooks/3"},
    {"wsgi.url_scheme": "https", "HTTP_HOST": "q.example.com:443", "PATH_INFO": "/v1/webhooks/3",
     "QUERY_STRING": "secret=a%20b&x=%C3%A9"},
    {"wsgi.url_scheme": "http", "SERVER_NAME": "10.0.0.7", "SERVER_PORT": "8000", "PATH_INFO": "/v1/webhooks/3"},
    {"wsgi.url_scheme": "http", "HTTP_HOST": "[::1]:8000", "SCRIPT_NAME": "/qualify", "PATH_INFO": "/v1/webhooks/3"},
    {"wsgi.url_scheme": "https", "HTTP_HOST": "xn--80ak6aa92e.com", "PATH_INFO": "/v1/webhooks/3",
     "QUERY_STRING": "token=t0k"},
    {"wsgi.url_scheme": "http", "HTTP_HOST": "h", "SCRIPT_NAME": "/a b", "PATH_INFO": "/v1/webhooks/%C3%A9"},
])
def test_the_delivery_url_is_werkzeugs_request_url(environ: dict[str, str]) -> None:
    request = Request(environ)

    assert view.delivery_url(request, "") == view.delivery_url(request, "") == Request(environ).url


@pytest.mark.parametrize("environ", [
    {"HTTP_X_HUBSPOT_SIGNATURE_V3": "sig", "HTTP_HOST": "q.example", "CONTENT_TYPE": "application/json",
     "CONTENT_LENGTH": "12", "REQUEST_METHOD": "POST", "wsgi.input": io.BytesIO()},
    {"HTTP_CONTENT_TYPE": "text/plain", "HTTP_CONTENT_LENGTH": "3", "CONTENT_TYPE": "", "CONTENT_LENGTH": "",
     "HTTP_AUTHORIZATION": "Basic x", "HTTP_X_REQUEST_ID": "r-1", "SERVER_NAME": "s"},
    {"HTTP_USER_AGENT": "amoCRM-Webhooks/3.0", "HTTP_ACCEPT_ENCODING": "gzip", "CONTENT_TYPE": "application/x-www-form"
     "-urlencoded", "HTTP_X_B24_SIGN": "s", "HTTP_WEIRD__NAME": "v"},
])
def test_request_headers_are_werkzeugs(environ: dict[str, Any]) -> None:
    assert route.request_headers(environ) == dict(Request(environ).headers.items())
