"""Run a report's sections, each one or two aggregate queries, in one consistent view of the database: on
PostgreSQL side by side on several connections that share one exported snapshot (so every section sees the
same moves and deals, as one transaction would); on SQLite (the embedded mode, small data) one after another
in one read transaction."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from service.runtime import Runtime
from service.services.reports.filters import tune

Section = Callable[[Session], Any]


def run_sections(runtime: Runtime, sections: Mapping[str, Section]) -> dict[str, Any]:
    """Each section's result by name. Sections are given longest first: that order starts them."""
    connections = runtime.settings.report_connections
    if runtime.engine.dialect.name != "postgresql" or connections <= 1 or len(sections) <= 1:
        with runtime.read_uow() as uow:
            tune(uow.session)
            return {name: section(uow.session) for name, section in sections.items()}
    with runtime.engine.connect().execution_options(isolation_level="REPEATABLE READ") as lead:
        lead.execute(text("SET TRANSACTION READ ONLY"))
        snapshot = str(lead.execute(text("SELECT pg_export_snapshot()")).scalar_one())
        with ThreadPoolExecutor(min(connections, len(sections)), thread_name_prefix="qualify-report") as pool:
            futures = {name: pool.submit(_in_snapshot, runtime.engine, snapshot, section)
                       for name, section in sections.items()}
            return {name: future.result() for name, future in futures.items()}


def _in_snapshot(engine: Engine, snapshot: str, section: Section) -> Any:
    """Run `section` in a read-only transaction that sees exactly the exported `snapshot`."""
    with engine.connect().execution_options(isolation_level="REPEATABLE READ") as connection:
        # Must be the transaction's first statement; the id comes from pg_export_snapshot, not from a user.
        connection.execute(text(f"SET TRANSACTION SNAPSHOT '{snapshot}'"))
        connection.execute(text("SET TRANSACTION READ ONLY"))
        tune(connection)
        with Session(bind=connection) as session:
            return section(session)
