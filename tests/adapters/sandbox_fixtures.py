"""Fixtures for the sandbox tests: a started HubSpot sandbox and a loopback webhook receiver.

Import them explicitly in a test module (this is deliberately not a conftest.py):

    from tests.adapters.sandbox_fixtures import hubspot_fixture, receiver_fixture  # noqa: F401

and request them by their names, `hubspot` and `receiver`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from werkzeug.wrappers import Request, Response

from adapters.sandbox.hubspot import HubSpotSandbox
from adapters.sandbox.server import LoopbackServer

TOKEN = "pat-test-token"
SECRET = "test-client-secret"


@dataclass(frozen=True)
class Received:
    """One webhook request exactly as it reached the receiver."""

    method: str
    url: str  # scheme://host:port + raw path and query, as the sender called it
    headers: dict[str, str]
    body: str


class WebhookReceiver:
    """A loopback HTTP endpoint that records requests and answers with scripted statuses."""

    def __init__(self) -> None:
        self._server = LoopbackServer(self.wsgi_app)
        self._cond = threading.Condition()
        self.requests: list[Received] = []
        self._statuses: list[int] = []
        self.url = ""

    def start(self, path: str = "/webhooks/hubspot?source=sandbox") -> str:
        self.url = self._server.start() + path
        return self.url

    def stop(self) -> None:
        self._server.stop()

    def answer_with(self, *statuses: int) -> None:
        """Statuses for the next requests, in order; afterwards 204."""
        with self._cond:
            self._statuses.extend(statuses)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.requests) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"expected {count} webhook requests, got {len(self.requests)}")
                self._cond.wait(remaining)
            return list(self.requests)

    def wsgi_app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        raw_uri = environ.get("RAW_URI") or environ.get("REQUEST_URI") or request.full_path
        received = Received(request.method, f"http://{environ['HTTP_HOST']}{raw_uri}",
                            dict(request.headers.items()), request.get_data(as_text=True))
        with self._cond:
            self.requests.append(received)
            status = self._statuses.pop(0) if self._statuses else 204
            self._cond.notify_all()
        return Response(status=status)(environ, start_response)


@pytest.fixture(name="receiver")
def receiver_fixture() -> Iterator[WebhookReceiver]:
    endpoint = WebhookReceiver()
    endpoint.start()
    yield endpoint
    endpoint.stop()


@pytest.fixture(name="hubspot")
def hubspot_fixture(receiver: WebhookReceiver) -> Iterator[HubSpotSandbox]:
    """A started sandbox whose webhooks go to `receiver`; retries are fast."""
    sandbox = HubSpotSandbox(client_secret=SECRET, access_token=TOKEN, webhook_url=receiver.url,
                             batch_window=0.1)
    sandbox.settings.retry_delays = (0.05, 0.1, 0.2)
    sandbox.start()
    yield sandbox
    sandbox.stop()


def make_sandbox(**kwargs: Any) -> HubSpotSandbox:
    """A sandbox with the test token and secret; the caller starts and stops it."""
    return HubSpotSandbox(**{"client_secret": SECRET, "access_token": TOKEN, **kwargs})
