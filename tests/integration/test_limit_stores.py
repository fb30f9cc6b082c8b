"""The stores the CRM limiters share across processes, on a real PostgreSQL and a real Redis: several clients,
each with its own connections like separate processes, together get exactly one budget.

Redis is at QUALIFY_TEST_REDIS_URL (default redis://127.0.0.1:6379/15); like PostgreSQL, an unreachable
Redis fails these tests unless QUALIFY_TEST_SKIP_REDIS=1."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Engine, text

from adapters.leaky_bucket import CLIENT_HEADROOM, stored_leaky_bucket
from adapters.ratelimit import LimitStore, StoredLimiter, window_step
from service.config import Settings
from service.db import make_engine
from service.limit_stores import PostgresLimitStore, RedisLimitStore, limit_store_for
from service.models import RateLimitState
from tests.conftest import PG_URL, SKIP_PG

REDIS_URL = os.environ.get("QUALIFY_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
SKIP_REDIS = os.environ.get("QUALIFY_TEST_SKIP_REDIS") == "1"
CLIENTS = 4
STORES = ([] if SKIP_PG else ["postgresql"]) + ([] if SKIP_REDIS else ["redis"])


@pytest.fixture(scope="module")
def pg_schema() -> Iterator[str]:
    """A PostgreSQL URL on a schema of its own holding the rate_limit_states table."""
    schema = f"qt_limits_{uuid.uuid4().hex[:8]}"
    url = f"{PG_URL}?options=-csearch_path%3D{schema}"
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = make_engine(url)
    RateLimitState.__table__.create(engine)  # type: ignore[attr-defined]
    engine.dispose()
    yield url
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def _redis() -> object:
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_timeout=5)
    try:
        client.ping()
    except redis.RedisError as exc:
        raise RuntimeError(f"Redis is unreachable at {REDIS_URL}: {exc}. Start it (see .ci/run) or set "
                           "QUALIFY_TEST_SKIP_REDIS=1 on a machine without it.") from exc
    return client


@pytest.fixture(params=STORES)
def new_store(request: pytest.FixtureRequest) -> Iterator[Callable[[], LimitStore]]:
    """Makes a client of one kind of store with connections of its own, as a separate process would."""
    engines: list[Engine] = []

    def make() -> LimitStore:
        if request.param == "redis":
            return RedisLimitStore(_redis())
        engine = make_engine(request.getfixturevalue("pg_schema"))
        engines.append(engine)
        return PostgresLimitStore(engine)

    yield make
    for engine in engines:
        engine.dispose()


def _hammer(limiters: list[StoredLimiter], seconds: float) -> list[float]:
    """Every limiter tries for a slot as fast as it can on a thread of its own; the store times of the calls
    admitted, as seen by the callers."""
    admitted: list[float] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def run(limiter: StoredLimiter) -> None:
        while time.monotonic() < deadline:
            if limiter.try_acquire() == 0.0:
                with lock:
                    admitted.append(time.monotonic())

    threads = [threading.Thread(target=run, args=(limiter,)) for limiter in limiters]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return admitted


def test_given_four_clients_then_a_window_admits_its_limit_once_for_all(
        new_store: Callable[[], LimitStore]) -> None:
    key = f"test:{uuid.uuid4().hex}"
    limiters = [StoredLimiter(new_store(), key, {"default": (window_step(10, 2.0), 2.0)}) for _ in range(CLIENTS)]
    assert len(_hammer(limiters, 1.0)) == 10  # not 4 x 10


def test_given_four_clients_then_the_bitrix24_bucket_holds_capacity_and_drain_across_them(
        new_store: Callable[[], LimitStore]) -> None:
    key = f"test:{uuid.uuid4().hex}"
    limiters = [stored_leaky_bucket(new_store(), key) for _ in range(CLIENTS)]
    started = time.monotonic()
    admitted = _hammer(limiters, 2.0)
    elapsed = time.monotonic() - started
    assert 50 - CLIENT_HEADROOM <= len(admitted) <= 50 - CLIENT_HEADROOM + 2.0 * elapsed + 1
    burst = [t for t in admitted if t - started < 0.4]
    assert len(burst) <= 50 - CLIENT_HEADROOM + 1  # the capacity at once, then 2/s


def test_the_deployment_picks_redis_when_set_else_postgresql_else_memory(tmp_path: object) -> None:
    sqlite = make_engine("sqlite://")
    assert limit_store_for(Settings(), sqlite) is None
    assert isinstance(limit_store_for(Settings(redis_url=REDIS_URL), sqlite), RedisLimitStore)
    if not SKIP_PG:
        pg = make_engine(PG_URL)
        assert isinstance(limit_store_for(Settings(database_url=PG_URL), pg), PostgresLimitStore)
        pg.dispose()
    sqlite.dispose()


@pytest.mark.skipif(SKIP_REDIS, reason="QUALIFY_TEST_SKIP_REDIS=1")
def test_given_two_databases_on_one_redis_then_their_connection_1_never_shares_a_budget() -> None:
    key = f"connection:{uuid.uuid4().hex}"  # the same connection id in both deployments
    first, second = (RedisLimitStore(_redis(), lambda name=name: name) for name in ("db-a.public", "db-b.public"))
    same_as_first = RedisLimitStore(_redis(), "db-a.public")
    spec = {"default": (window_step(2, 5.0), 5.0)}
    assert [StoredLimiter(first, key, spec).try_acquire() for _ in range(2)] == [0.0, 0.0]
    assert StoredLimiter(second, key, spec).try_acquire() == 0.0
    assert StoredLimiter(same_as_first, key, spec).try_acquire() > 0.0
