"""Lifecycle, call log, webhook inspection and WSGI routing shared by the CRM sandboxes."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from werkzeug.wrappers import Request, Response

from adapters.sandbox.failures import Failure, FailureInjector
from adapters.sandbox.server import LoopbackServer

RECEIVED_AT = "sandbox.received_at"  # WSGI environ key: when the request reached the sandbox (time.time())


class Sender(Protocol):
    """What the base needs of a sandbox's webhook sender."""

    def snapshot(self) -> list[dict[str, Any]]: ...

    def wait_idle(self, timeout: float = 5.0) -> None: ...

    def stop(self) -> None: ...


class SandboxBase:
    """In-memory CRM served on loopback: subclasses set `sender` (and `failures` if path-routed).

    Requests under ``/_sandbox/`` go to `_control`, everything else to `_api`.
    """

    sender: Sender
    failures: Any
    latency: float = 0.0  # seconds each API answer is held, as a remote CRM's round trip would (benchmarks)

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.calls: list[dict[str, Any]] = []
        self._abort = threading.Event()
        self.server = LoopbackServer(self.wsgi_app)
        self.base_url = ""

    # ---- lifecycle ----------------------------------------------------------------------------
    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve in a daemon thread; returns the base URL ``http://127.0.0.1:PORT``."""
        self._abort.clear()
        self.base_url = self.server.start(host, port)
        self._started()
        return self.base_url

    def _started(self) -> None:
        """Hook run once the base URL is known."""

    def stop(self) -> None:
        """Stop serving and sending webhooks; wakes requests sleeping in an injected timeout."""
        self._abort.set()
        self.server.stop()
        self.sender.stop()

    # ---- test helpers -------------------------------------------------------------------------
    def webhook_deliveries(self) -> list[dict[str, Any]]:
        """Every webhook POST attempted (url, body, status, error, ...)."""
        return self.sender.snapshot()

    def wait_webhooks_idle(self, timeout: float = 5.0) -> None:
        """Block until every queued webhook was POSTed (retries included); TimeoutError otherwise."""
        self.sender.wait_idle(timeout)

    def _calls_where(self, keep: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(c) for c in self.calls if keep(c)]

    # ---- WSGI ---------------------------------------------------------------------------------
    def wsgi_app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        """The WSGI entry point: /_sandbox/ control requests, everything else is the API."""
        environ.setdefault(RECEIVED_AT, time.time())
        request = Request(environ)
        if request.path.startswith("/_sandbox/"):
            return self._control(request)(environ, start_response)
        response = self._api(request)
        if self.latency > 0:
            self._abort.wait(self.latency)  # outside the lock: concurrent callers wait side by side
        return response(environ, start_response)

    def _control(self, request: Request) -> Response:
        raise NotImplementedError

    def _api(self, request: Request) -> Response:
        raise NotImplementedError


class PathSandbox(SandboxBase):
    """A sandbox whose API is routed by path: path-prefix failures and a {method, path, ...} call log."""

    failures: FailureInjector

    def api_calls(self, method: str | None = None, path_prefix: str | None = None) -> list[dict[str, Any]]:
        """Logged API requests: {method, path, query, json, status, received_at, at} (at: when answered)."""
        return self._calls_where(lambda c: (method is None or c["method"] == method.upper())
                                 and (path_prefix is None or c["path"].startswith(path_prefix)))  # fmt: skip

    def _take_failure(self, request: Request) -> Failure | None:
        with self.lock:
            return self.failures.take(request.method, request.path)

    def _record(self, request: Request, parsed: Any, status: int, hidden: str | None = None) -> None:
        query = {k: ",".join(request.args.getlist(k)) for k in request.args if k != hidden}
        with self.lock:
            self.calls.append({"method": request.method, "path": request.path, "query": query, "json": parsed,
                               "status": status, "received_at": request.environ.get(RECEIVED_AT),
                               "at": time.time()})  # fmt: skip


def read_json(request: Request, invalid: Callable[[ValueError], Exception]) -> Any:
    """The JSON body or None; invalid JSON raises ``invalid(exc)`` (the vendor's 400)."""
    raw = request.get_data(cache=True)
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise invalid(exc) from exc


def serve_forever(sandbox: SandboxBase, host: str, port: int, name: str, details: Callable[[], list[str]],
                  webhook_url: str | None, target: str = "webhooks") -> None:  # fmt: skip
    """Serve `sandbox` until Ctrl-C, printing its URL, `details()` and where webhooks go (for the CLI)."""
    sandbox.server.allow_any_host = True  # the CLI may bind a container's interface on purpose
    base_url = sandbox.start(host, port)
    print(f"{name} sandbox listening on {base_url}", flush=True)
    for line in details():
        print(line, flush=True)
    print(f"{target} -> {webhook_url or '(none; POST /_sandbox/config to set)'}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()
