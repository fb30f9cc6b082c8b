"""Where the CRM rate limiters keep their state when several processes call the same CRM account.

The adapters' limiters (adapters/ratelimit.py `StoredLimiter`, adapters/leaky_bucket.py `stored_leaky_bucket`)
compute each call's verdict from a small JSON state; a `LimitStore` reads and writes that state atomically
against every other process, timed by its own clock so processes on several hosts agree. Redis when
QUALIFY_REDIS_URL is set, else PostgreSQL (a row per bucket, locked for the moment of one check); the embedded
SQLite mode runs in one process and keeps the in-process limiters (no store).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, text

from adapters.ratelimit import LimitStore, Step
from service.config import Settings

# One statement takes the row lock (creating the row on first use) and reads the state with the database's
# clock after the lock was granted: clock_timestamp(), not now(), which is the transaction's start.
LOCK_ROW = text(
    "INSERT INTO rate_limit_states (key, state, expires_at) VALUES (:key, NULL, 0) "
    "ON CONFLICT (key) DO UPDATE SET key = EXCLUDED.key "
    "RETURNING state, expires_at, extract(epoch FROM clock_timestamp())")
RELAXED = text("SET LOCAL synchronous_commit TO OFF")
WRITE_ROW = text("UPDATE rate_limit_states SET state = :state, expires_at = :expires WHERE key = :key")
REDIS_PREFIX = "qualify:ratelimit:"


def _loaded(raw: str | bytes | None) -> Any:
    return None if raw is None else json.loads(raw)


class PostgresLimitStore:
    """Limiter state in the rate_limit_states table: each check is one short transaction holding its row."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def update(self, key: str, step: Step, ttl_seconds: float) -> float:
        """See adapters.ratelimit.LimitStore; raises SQLAlchemy errors when the database is unreachable."""
        with self._engine.begin() as connection:
            # Losing the last counts in a database crash costs at most a moment over budget (the CRM then
            # answers 429 and is retried): no WAL-flush wait for every CRM call.
            connection.execute(RELAXED)
            raw, expires_at, now = connection.execute(LOCK_ROW, {"key": key}).one()
            now = float(now)
            state, wait = step(_loaded(raw) if float(expires_at) > now else None, now)
            connection.execute(WRITE_ROW, {"key": key, "state": json.dumps(state), "expires": now + ttl_seconds})
        return float(wait)


class RedisLimitStore:
    """Limiter state in Redis keys that expire with it: each check reads under WATCH and writes in MULTI/EXEC,
    repeated when another process wrote the key meanwhile.

    The keys are named after the limiter's key (a connection id) within `namespace`, the database the
    connections are stored in: deployments (and test runs) sharing one Redis each number their connections
    from 1, and must not share one budget for different CRM accounts. `namespace` may be a callable, asked on
    the first check, so building the store never touches the database."""

    def __init__(self, client: Any, namespace: str | Callable[[], str] = "") -> None:
        self._redis = client
        self._namespace = namespace

    def _prefix(self) -> str:
        if callable(self._namespace):
            self._namespace = self._namespace()
        return f"{REDIS_PREFIX}{self._namespace}:" if self._namespace else REDIS_PREFIX

    def update(self, key: str, step: Step, ttl_seconds: float) -> float:
        """See adapters.ratelimit.LimitStore; raises redis errors when Redis is unreachable (and SQLAlchemy
        errors when the database naming the namespace is, on the first check)."""
        name = self._prefix() + key

        def check(pipe: Any) -> float:
            raw = pipe.get(name)
            seconds, micros = pipe.time()
            state, wait = step(_loaded(raw), seconds + micros / 1_000_000)
            pipe.multi()
            pipe.set(name, json.dumps(state), px=max(1, int(ttl_seconds * 1000)))
            return float(wait)

        return float(self._redis.transaction(check, name, value_from_callable=True))


def database_identity(engine: Engine) -> str:
    """Which database (and schema) the connections live in, as the database itself names them: the same for
    every process of a deployment, whatever host name or address its URL uses."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            return str(connection.execute(text("SELECT current_database() || '.' || current_schema()")).scalar_one())
    return f"{engine.dialect.name}:{engine.url.database or ''}"


def limit_store_for(settings: Settings, engine: Engine) -> LimitStore | None:
    """The store every process of this deployment shares: Redis when QUALIFY_REDIS_URL is set, PostgreSQL when
    the database is; None for the embedded SQLite mode, whose single process keeps its limiters in memory."""
    if settings.redis_url:
        import redis

        client = redis.Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=5)
        return RedisLimitStore(client, lambda: database_identity(engine))
    if engine.dialect.name == "postgresql":
        return PostgresLimitStore(engine)
    return None
