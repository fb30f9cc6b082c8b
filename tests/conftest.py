"""Shared fixtures: every database test runs on SQLite and on PostgreSQL.

PostgreSQL is at QUALIFY_TEST_PG_URL (default 127.0.0.1:5432, database `test`). When it is
unreachable the suite fails, it does not skip; QUALIFY_TEST_SKIP_PG=1 opts out on a machine
without PostgreSQL (never set in CI).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import Engine, make_url, text

from service import create_app
from service.config import Settings
from service.db import Base, make_engine
from service.migrate import upgrade
from service.runtime import Runtime, build_runtime

PG_URL = os.environ.get("QUALIFY_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
SKIP_PG = os.environ.get("QUALIFY_TEST_SKIP_PG") == "1"
BACKENDS = ["sqlite"] + ([] if SKIP_PG else ["postgresql"])
TEST_FERNET_KEY = Fernet.generate_key().decode()


def _pg_engine() -> tuple[Engine, str]:
    schema = f"qt_{uuid.uuid4().hex[:10]}"
    admin = make_engine(PG_URL)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # the suite must fail loudly, not skip, without PostgreSQL
        raise RuntimeError(
            f"PostgreSQL is unreachable at {PG_URL}: {exc}. Start it (see .ci/run) "
            "or set QUALIFY_TEST_SKIP_PG=1 on a machine without it."
        ) from exc
    finally:
        admin.dispose()
    # The schema goes into the URL (not connect_args) so worker subprocesses can use the same URL.
    url = make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    engine = make_engine(url.render_as_string(hide_password=False), pool_size=10, max_overflow=20)
    return engine, schema


@pytest.fixture(scope="session", params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A migrated database of each backend, shared by the session and emptied between tests."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("db") / "qualify.db"
        eng = make_engine(f"sqlite:///{path}")
        upgrade(eng)
        yield eng
        eng.dispose()
        return
    eng, schema = _pg_engine()
    upgrade(eng)
    yield eng
    eng.dispose()
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def empty_database(engine: Engine) -> None:
    """Delete every row of every table (children first)."""
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Test settings: a fixed encryption key, an instance folder per test, loopback CRMs allowed, failed
    authentication not throttled (tests of the throttle turn it on), no worker heartbeat expected by /readyz
    (the test app runs no worker; tests of readiness turn it on)."""
    return Settings(instance_path=str(tmp_path / "instance"), secret_key=TEST_FERNET_KEY,
                    allow_loopback_crm=True, worker_poll_seconds=0.05, database_url="sqlite://",
                    auth_failures_per_minute=0, ready_heartbeat_seconds=0).resolved()


@pytest.fixture
def runtime(engine: Engine, settings: Settings) -> Iterator[Runtime]:
    """A runtime on the session's database, emptied before the test."""
    empty_database(engine)
    rt = build_runtime(settings, engine=engine)
    yield rt
    rt.dispose()


@pytest.fixture
def app(runtime: Runtime, settings: Settings) -> Any:
    """The Flask app wired to the test runtime."""
    application = create_app(settings, runtime=runtime)
    application.testing = True
    return application


@pytest.fixture
def client(app: Any) -> Any:
    """A Flask test client."""
    return app.test_client()


def make_key(runtime: Runtime, role: str) -> str:
    """Store a key with `role` and return it."""
    from service.services.keys import create_key

    key = create_key(runtime, role, role)
    return key


@pytest.fixture
def admin_headers(runtime: Runtime) -> dict[str, str]:
    """Authorization headers of an admin key."""
    return {"Authorization": f"Bearer {make_key(runtime, 'admin')}"}


@pytest.fixture
def manager_headers(runtime: Runtime) -> dict[str, str]:
    """Authorization headers of a manager key."""
    return {"Authorization": f"Bearer {make_key(runtime, 'manager')}"}
