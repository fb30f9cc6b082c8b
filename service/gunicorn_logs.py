"""gunicorn's own log lines (its error log on stderr, the access log on stdout) in Qualify's formats: both pass
the secret filter; in JSON each access line is an object with the method, path (never the query), status,
duration and the request id the answer carried (X-Request-Id)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from service.access_log import RedactingLogger
from service.logs import prepare_handler, secret_patterns


class AccessFields(logging.Filter):
    """Copies the fields of an access-log record out of gunicorn's (already redacted) atoms."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Set `record.http` and `record.request_id` on access records; never drops one."""
        atoms = record.args
        if isinstance(atoms, Mapping) and "s" in atoms:
            status = str(atoms.get("s"))
            record.http = {"method": atoms.get("m"), "path": atoms.get("U"),
                           "status": int(status) if status.isdigit() else status,
                           "duration_ms": round(int(str(atoms.get("D") or 0)) / 1000, 1), "remote": atoms.get("h")}
            request_id = atoms.get("{x-request-id}o")
            if request_id and request_id != "-":
                record.request_id = request_id
        return True


class QualifyGunicornLogger(RedactingLogger):
    """The redacting access log, with every gunicorn handler in Qualify's text format and secret filter."""

    log_format = "text"

    def setup(self, cfg: Any) -> None:
        """gunicorn's set-up, then our filters and formatter on each of its handlers."""
        super().setup(cfg)
        patterns = secret_patterns()
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                if any(isinstance(f, AccessFields) for f in handler.filters):
                    continue  # set up already (gunicorn re-runs setup on reload)
                handler.addFilter(AccessFields())
                prepare_handler(handler, self.log_format, patterns)
                if self.log_format == "text":
                    # gunicorn's own line formats, which carry no context field
                    handler.setFormatter(logging.Formatter(
                        self.access_fmt if log is self.access_log else self.error_fmt, self.datefmt))


class JsonGunicornLogger(QualifyGunicornLogger):
    """The same, one JSON object per line."""

    log_format = "json"
