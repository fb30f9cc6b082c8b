"""Readiness: whether this process can serve (the database answers and carries the latest migration)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from service.errors import StorageError
from service.migrate import current_revision, head_revision
from service.runtime import Runtime


def readiness(runtime: Runtime) -> dict[str, Any]:
    """The checks that passed; StorageError when the database does not answer or is not migrated."""
    try:
        with runtime.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            current = current_revision(conn)
    except Exception:
        raise StorageError("The database does not answer.") from None
    if current != head_revision():
        raise StorageError(f"Database at migration {current}, expected {head_revision()}.")
    return {"status": "ok", "checks": {"database": "ok", "migration": str(current)}}
