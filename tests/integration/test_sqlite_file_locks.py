"""The embedded SQLite database stays one database for every process that opens it (WAL mode)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy import text

from service.db import make_engine

WRITE = ("import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute('INSERT INTO t VALUES (1)'); c.commit();"
         " c.close()")
READ = "import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute('SELECT x FROM t ORDER BY x').fetchall())"


def in_other_process(code: str, path: Path) -> str:
    return subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True,
                          check=True, timeout=30).stdout.strip()


def test_given_an_open_connection_when_another_engine_is_made_for_the_file_then_other_processes_see_its_writes(
        tmp_path: Path) -> None:
    path = tmp_path / "qualify.db"
    first = make_engine(f"sqlite:///{path}")
    try:
        with first.begin() as conn:
            conn.execute(text("CREATE TABLE t (x INTEGER)"))
        # As build_runtime does for its reader while the main engine's connections are open: it must not
        # drop this process's SQLite locks on the file.
        make_engine(f"sqlite:///{path}").dispose()

        in_other_process(WRITE, path)  # the last connection of that process closes

        assert Path(f"{path}-wal").exists(), "another process's close took this one for gone and removed the WAL"
        with first.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (2)"))
        assert in_other_process(READ, path) == "[(1,), (2,)]"
    finally:
        first.dispose()
