"""The migrated schema's indexes are the models' (Base.metadata), on SQLite and PostgreSQL: every index a model
declares exists after the migrations, over the same columns (and on PostgreSQL with the same included columns),
and no migration made one the models do not declare."""

from __future__ import annotations

import warnings
from typing import Any

from sqlalchemy import Engine, inspect, text

from service.db import Base


def _reflected(engine: Engine, table: str) -> dict[str, dict[str, Any]]:
    found = {}
    with warnings.catch_warnings():  # SQLite's reflection skips expression indexes, with a warning
        warnings.simplefilter("ignore")
        indexes = inspect(engine).get_indexes(table)
    for ix in indexes:
        if ix.get("duplicates_constraint") or ix["name"] is None:
            continue  # a unique constraint's index: compared with the constraints, not here
        found[str(ix["name"])] = {"columns": [c for c in ix["column_names"] if c is not None],
                                  "include": list(ix.get("dialect_options", {}).get("postgresql_include", []))}
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            named = conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = :t "
                                      "AND sql IS NOT NULL"), {"t": table}).scalars()
            for name in set(named) - set(found):  # an expression index: its name only
                found[name] = {"columns": [], "include": []}
    return found


def _declared(engine: Engine, table: str) -> dict[str, dict[str, Any]]:
    postgres = engine.dialect.name == "postgresql"
    return {str(ix.name): {"columns": [c.name for c in ix.columns],
                           "include": list(ix.dialect_options["postgresql"].get("include") or []) if postgres else []}
            for ix in Base.metadata.tables[table].indexes}


def test_the_migrated_schema_has_exactly_the_models_indexes(engine: Engine) -> None:
    for table in Base.metadata.tables:
        assert _reflected(engine, table) == _declared(engine, table), table
