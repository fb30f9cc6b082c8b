"""Typed settings read from QUALIFY_* environment variables, with embedded-mode defaults."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

DEFAULT_INSTANCE = Path("instance")


class SettingsError(ValueError):
    """A QUALIFY_* variable holds a value of the wrong shape."""


def _bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise SettingsError(f"expected a boolean, got {value!r}")


@dataclass(frozen=True)
class Settings:
    """Every setting of the service. `from_env` documents the variable of each."""

    database_url: str = ""
    instance_path: str = str(DEFAULT_INSTANCE)
    secret_key: str = ""
    public_url: str = ""
    trust_proxy: bool = False
    max_body_bytes: int = 1_000_000
    embedded_worker: bool = True
    worker_poll_seconds: float = 0.2
    worker_batch: int = 20
    outbox_max_attempts: int = 8
    outbox_max_backoff_seconds: float = 300.0
    event_stale_seconds: float = 60.0
    outbox_in_flight_stale_seconds: float = 120.0
    webhook_max_age_seconds: int = 300
    expected_revert_ttl_seconds: int = 600
    allow_loopback_crm: bool = False
    sync_window_hours: float = 24.0
    sync_stale_seconds: float = 900.0
    thread_switch_seconds: float = 0.001
    persona_floor: int = 40
    rescore_batch_size: int = 5000
    rescore_workers: int = 2
    rescore_stale_seconds: float = 1800.0
    rescore_nightly_hour: int = 3
    notify_webhook_url: str = ""
    log_level: str = "INFO"
    auth_failures_per_minute: int = 30
    redis_url: str = ""
    log_format: str = ""  # text | json; empty: text in the embedded mode, json otherwise (resolved)
    metrics_allow: str = "127.0.0.1,::1"
    metrics_token: str = ""
    metrics_port: int = 0
    metrics_host: str = "127.0.0.1"
    ready_heartbeat_seconds: float = 300.0
    ready_backlog_seconds: float = 600.0
    scheduler_tick_seconds: float = 10.0
    retention_days: int = 30
    transition_retention_days: int = 365
    report_connections: int = 3

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read settings from QUALIFY_<NAME> variables; raises SettingsError on bad values."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(f"QUALIFY_{f.name.upper()}")
            if raw is None:
                continue
            try:
                if f.type in ("bool",):
                    values[f.name] = _bool(raw)
                elif f.type == "int":
                    values[f.name] = int(raw)
                elif f.type == "float":
                    values[f.name] = float(raw)
                else:
                    values[f.name] = raw
            except ValueError as exc:
                raise SettingsError(f"QUALIFY_{f.name.upper()}: {exc}") from exc
        return cls(**values).resolved()

    @property
    def embedded(self) -> bool:
        """Whether this is the embedded mode (SQLite, one process); anything else is a production deployment."""
        return self.database_url.startswith("sqlite") or not self.database_url

    def check_deployment(self) -> None:
        """SettingsError when the settings cannot run as configured: outside the embedded mode every process
        must share QUALIFY_SECRET_KEY (each would otherwise generate its own key and could not decrypt the CRM
        credentials the others stored)."""
        if not self.embedded and not self.secret_key:
            raise SettingsError(
                "QUALIFY_SECRET_KEY is required when the database is not the embedded SQLite (generate one with "
                "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')")

    def resolved(self) -> Settings:
        """Fill the embedded defaults that depend on other settings (SQLite under the instance path)."""
        url = self.database_url or f"sqlite:///{Path(self.instance_path).resolve() / 'qualify.db'}"
        log_format = (self.log_format or ("text" if url.startswith("sqlite") else "json")).lower()
        if log_format not in ("text", "json"):
            raise SettingsError(f"QUALIFY_LOG_FORMAT: expected text or json, got {self.log_format!r}")
        _check_networks(self.metrics_allow)
        for name in ("scheduler_tick_seconds", "retention_days", "transition_retention_days", "report_connections"):
            if getattr(self, name) <= 0:
                raise SettingsError(f"QUALIFY_{name.upper()}: must be above 0, got {getattr(self, name)}")
        return _replace(self, database_url=url, log_format=log_format)


def _check_networks(allow: str) -> None:
    import ipaddress

    for item in filter(None, (part.strip() for part in allow.split(","))):
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError as exc:
            raise SettingsError(f"QUALIFY_METRICS_ALLOW: {exc}") from exc


def _replace(settings: Settings, **changes: object) -> Settings:
    from dataclasses import replace

    return replace(settings, **changes)  # type: ignore[arg-type]
