"""`qualify serve`: gunicorn serving the app, with the worker and scheduler embedded when configured."""

from __future__ import annotations

import logging
import threading
from typing import Any

from gunicorn.app.base import BaseApplication

from service.config import Settings
from service.connection_close import serving
from service.metrics_export import prepare_multiprocess, worker_exited

log = logging.getLogger("qualify.serve")
# gunicorn's own error and access logs in QUALIFY_LOG_FORMAT, through the secret filter (service/gunicorn_logs.py)
LOGGERS = {"text": "service.gunicorn_logs.QualifyGunicornLogger", "json": "service.gunicorn_logs.JsonGunicornLogger"}


class QualifyServer(BaseApplication):  # type: ignore[misc]
    """A gunicorn application serving create_app() in-process."""

    def __init__(self, settings: Settings, host: str, port: int, workers: int, threads: int) -> None:
        self.settings = settings
        self.options = {
            "bind": f"{host}:{port}", "workers": workers, "threads": threads, "worker_class": "gthread",
            "timeout": 30, "graceful_timeout": 10, "accesslog": "-", "loglevel": settings.log_level.lower(),
            "logger_class": LOGGERS.get(settings.log_format, LOGGERS["text"]),
            "post_worker_init": self._post_worker_init, "pre_request": _pre_request, "child_exit": _child_exit,
        }
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from service import create_app

        return create_app(self.settings)

    def _post_worker_init(self, worker: Any) -> None:
        if not self.settings.embedded_worker:
            return
        from service.jobs.scheduler import run_scheduler
        from service.jobs.worker import Worker

        runtime = worker.wsgi.extensions["qualify"]
        Worker(runtime).start_thread()
        # The same loop as `qualify scheduler`: lead while the lock is held, else wait for it.
        self._scheduler_stop = threading.Event()
        threading.Thread(target=run_scheduler, args=(runtime, self._scheduler_stop), name="qualify-scheduler",
                         daemon=True).start()
        log.info("embedded worker started; the scheduler leads when it holds the lock")


def _pre_request(worker: Any, request: Any) -> None:
    serving(request)


def _child_exit(server: Any, worker: Any) -> None:
    worker_exited(worker.pid)


def serve(settings: Settings, host: str, port: int, workers: int | None = None, threads: int = 8) -> None:
    """Serve until interrupted. The embedded mode (SQLite) runs one web process with the worker inside. The
    processes count their metrics in shared files (prometheus-client's multiprocess mode), set up here, before
    any of them imports prometheus-client."""
    count = workers or (1 if settings.embedded_worker else 2)
    prepare_multiprocess(settings)
    QualifyServer(settings, host, port, count, threads).run()
