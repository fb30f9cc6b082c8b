"""Run the whole service in-process on a loopback port: used by `qualify demo`, e2e tests and benchmarks."""

from __future__ import annotations

import threading
from types import TracebackType

from werkzeug.serving import BaseWSGIServer, make_server

from service import create_app
from service.config import Settings
from service.jobs.worker import Worker
from service.migrate import upgrade
from service.runtime import Runtime, build_runtime


class LiveService:
    """The API on a free loopback port plus (optionally) the worker in a thread."""

    def __init__(self, settings: Settings, *, runtime: Runtime | None = None, with_worker: bool = True,
                 migrate: bool = True) -> None:
        self.settings = settings
        self.runtime = runtime or build_runtime(settings)
        if migrate:
            upgrade(self.runtime.engine)
        self.app = create_app(settings, runtime=self.runtime)
        self.with_worker = with_worker
        self.stop_event = threading.Event()
        self._server: BaseWSGIServer | None = None
        self._threads: list[threading.Thread] = []
        self.base_url = ""

    def start(self) -> str:
        """Serve and (optionally) work in background threads; returns the base URL."""
        self._server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.base_url = f"http://127.0.0.1:{self._server.server_port}"
        thread = threading.Thread(target=self._server.serve_forever, name="qualify-http", daemon=True)
        thread.start()
        self._threads.append(thread)
        if self.with_worker:
            self._threads.append(Worker(self.runtime, self.stop_event).start_thread())
        return self.base_url

    def stop(self) -> None:
        """Stop serving and working; waits for the threads."""
        self.stop_event.set()
        self.runtime.wake_worker()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)

    def __enter__(self) -> LiveService:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def url(self, path: str) -> str:
        """Absolute URL of an API path."""
        return f"{self.base_url}{path}"

