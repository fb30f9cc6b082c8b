"""Replicas starting together each run `qualify migrate`: on PostgreSQL they take turns (an advisory lock),
so every one succeeds and the database ends at the latest migration exactly once."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import make_url, text

from service.db import make_engine
from service.migrate import head_revision
from tests.conftest import PG_URL, SKIP_PG

pytestmark = pytest.mark.skipif(SKIP_PG, reason="QUALIFY_TEST_SKIP_PG=1: PostgreSQL is not available here")


@pytest.fixture
def empty_schema() -> Iterator[str]:
    """A new, empty PostgreSQL schema; its URL (search_path set), dropped afterwards."""
    schema = f"qm_{uuid.uuid4().hex[:10]}"
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
            hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def test_three_migrations_started_at_once_all_succeed_and_migrate_once(empty_schema: str, tmp_path: object) -> None:
    env = {**os.environ, "QUALIFY_DATABASE_URL": empty_schema, "QUALIFY_SECRET_KEY": Fernet.generate_key().decode(),
           "QUALIFY_INSTANCE_PATH": str(tmp_path), "QUALIFY_LOG_LEVEL": "WARNING"}
    processes = [subprocess.Popen([sys.executable, "-m", "service.cli", "migrate"], env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(3)]
    results = [(p.wait(timeout=120), p.stderr.read() if p.stderr else "") for p in processes]

    assert [code for code, _ in results] == [0, 0, 0], [err for _, err in results]
    engine = make_engine(empty_schema)
    with engine.connect() as conn:
        versions = list(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())
    engine.dispose()
    assert versions == [head_revision()]
