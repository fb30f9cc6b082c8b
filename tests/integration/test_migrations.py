"""Migrations on SQLite and PostgreSQL: upgrade creates the model's schema, downgrade removes it."""

from __future__ import annotations

from sqlalchemy import Engine, inspect

from service.db import Base
from service.migrate import current_revision, downgrade, head_revision, upgrade


def test_the_database_is_at_the_head_migration(engine: Engine) -> None:
    with engine.connect() as conn:
        assert current_revision(conn) == head_revision()


def test_the_migrated_schema_has_every_model_table_and_column(engine: Engine) -> None:
    inspector = inspect(engine)
    tables = set(inspector.get_table_names())
    for table in Base.metadata.sorted_tables:
        assert table.name in tables
        columns = {c["name"] for c in inspector.get_columns(table.name)}
        assert columns == {c.name for c in table.columns}, table.name


def test_downgrade_to_base_and_upgrade_again_round_trips(engine: Engine) -> None:
    downgrade(engine, "base")
    assert not set(inspect(engine).get_table_names()) & set(Base.metadata.tables)
    upgrade(engine)
    with engine.connect() as conn:
        assert current_revision(conn) == head_revision()
