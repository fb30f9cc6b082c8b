"""`qualify serve`: gunicorn serving the app, with the worker and scheduler embedded when configured."""

from __future__ import annotations

import logging
from typing import Any

from gunicorn.app.base import BaseApplication

from service.config import Settings
from service.connection_close import serving

log = logging.getLogger("qualify.serve")


class QualifyServer(BaseApplication):  # type: ignore[misc]
    """A gunicorn application serving create_app() in-process."""

    def __init__(self, settings: Settings, host: str, port: int, workers: int, threads: int) -> None:
        self.settings = settings
        self.options = {
            "bind": f"{host}:{port}", "workers": workers, "threads": threads, "worker_class": "gthread",
            "timeout": 30, "graceful_timeout": 10, "accesslog": "-", "loglevel": settings.log_level.lower(),
            "logger_class": "service.access_log.RedactingLogger",
            "post_worker_init": self._post_worker_init, "pre_request": _pre_request,
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
        from service.jobs.leader import try_lead
        from service.jobs.schedule import build_scheduler
        from service.jobs.worker import Worker

        runtime = worker.wsgi.extensions["qualify"]
        Worker(runtime).start_thread()
        self._scheduler_lock = try_lead(runtime.engine)
        if self._scheduler_lock is not None:
            build_scheduler(runtime).start()
        log.info("embedded worker started; scheduler %s", "started" if self._scheduler_lock else "led elsewhere")


def _pre_request(worker: Any, request: Any) -> None:
    serving(request)


def serve(settings: Settings, host: str, port: int, workers: int | None = None, threads: int = 8) -> None:
    """Serve until interrupted. The embedded mode (SQLite) runs one web process with the worker inside."""
    count = workers or (1 if settings.embedded_worker else 2)
    QualifyServer(settings, host, port, count, threads).run()
