"""A generic threaded WSGI server bound to loopback, run in a daemon thread.

Shared by the CRM sandboxes: each sandbox builds a WSGI callable and hands it to
`LoopbackServer`, which serves it until `stop()`. Nothing listens until `start()`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class QuietRequestHandler(WSGIRequestHandler):
    """Skips the per-request access log line; errors are still logged."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


class LoopbackServer:
    """Serves one WSGI app on a loopback port in a background daemon thread.

    Raises ValueError for a non-loopback host unless `allow_any_host` is set (the CLI
    may bind elsewhere on purpose); OSError when the port cannot be bound.
    """

    def __init__(self, app: WSGIApp, *, allow_any_host: bool = False) -> None:
        self._app = app
        self.allow_any_host = allow_any_host
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Bind and serve; returns the base URL such as ``http://127.0.0.1:54321``."""
        if self._server is not None:
            return self.base_url
        if host not in LOOPBACK_HOSTS and not self.allow_any_host:
            raise ValueError(f"sandbox servers bind to loopback only, not {host!r}")
        # ThreadedWSGIServer: one daemon thread per request, so a sleeping handler never blocks stop().
        server = make_server(host, port, self._app, threaded=True, request_handler=QuietRequestHandler)
        self._server = server
        bound_port = server.socket.getsockname()[1]
        shown_host = f"[{host}]" if ":" in host else host
        self.base_url = f"http://{shown_host}:{bound_port}"
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"sandbox-{bound_port}",
            daemon=True,
        )
        self._thread.start()
        return self.base_url

    def stop(self) -> None:
        """Stop accepting requests and close the socket; idempotent."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
