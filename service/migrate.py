"""Apply Alembic migrations programmatically (used by `qualify migrate`, tests and the demo)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, text

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    """An Alembic config pointing at our migrations folder and `url`."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


MIGRATION_LOCK_ID = 0x51A2  # an arbitrary, fixed advisory-lock key for "a Qualify migration runs"


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the database behind `engine` to `revision`. On PostgreSQL the migration holds an advisory
    lock for its transaction, so replicas starting together migrate one after the other (the later ones
    find the database at head and change nothing)."""
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with _migrating(engine) as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_ID})
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Migrate the database behind `engine` down to `revision`."""
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with _migrating(engine) as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


@contextmanager
def _migrating(engine: Engine) -> Iterator[Connection]:
    """One transaction for a migration, committed when the block ends. On SQLite it runs with foreign keys
    off (https://www.sqlite.org/lang_altertable.html#otheralter): a batch migration rebuilds a table, and
    dropping the old one with foreign keys on would delete its children by ON DELETE CASCADE. Before the
    commit, SQLite's foreign_key_check must find nothing (RuntimeError otherwise, and nothing is applied)."""
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as connection:
        # The pragma is a no-op inside a transaction: it goes to the driver before SQLAlchemy begins one.
        driver = connection.connection.driver_connection
        if sqlite:
            driver.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
        try:
            with connection.begin():
                yield connection
                if sqlite:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise RuntimeError(f"the migration left rows without their parent: {broken[:5]}")
        finally:
            if sqlite:
                driver.execute("PRAGMA foreign_keys=ON")  # type: ignore[union-attr]


def head_revision() -> str | None:
    """The newest migration shipped with the code."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def current_revision(connection: Connection) -> str | None:
    """The migration the database is at (None when never migrated)."""
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()
