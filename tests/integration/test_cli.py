"""The `qualify` command on a real database: migrate, bootstrap, keys."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from service.cli import main


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("QUALIFY_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("QUALIFY_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("QUALIFY_SECRET_KEY", Fernet.generate_key().decode())
    return tmp_path


def test_bootstrap_prints_an_admin_key_once(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["migrate"]) == 0
    assert main(["bootstrap"]) == 0
    first = capsys.readouterr().out
    assert "qk_" in first
    assert main(["bootstrap"]) == 0
    assert "qk_" not in capsys.readouterr().out


def test_keys_create_prints_a_key_with_the_role(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["migrate"])
    capsys.readouterr()
    assert main(["keys", "create", "--role", "manager"]) == 0
    key = capsys.readouterr().out.strip()
    assert key.startswith("qk_")
    from sqlalchemy import create_engine, text

    engine = create_engine(f"sqlite:///{env / 'cli.db'}")
    with engine.connect() as conn:
        row = conn.execute(text("SELECT role, key_hash FROM api_keys")).one()
    engine.dispose()
    assert row.role == "manager"
    assert key not in row.key_hash


def test_an_unknown_role_is_refused(env: Path) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["keys", "create", "--role", "owner"])
    assert exc.value.code == 2
