"""`qualify keys` on a real database: create with an expiry, list with last use and expiry, revoke."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from service.cli import main
from service.config import Settings
from service.db import utcnow
from service.runtime import build_runtime
from service.services.keys import role_for_key


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("QUALIFY_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("QUALIFY_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("QUALIFY_SECRET_KEY", Fernet.generate_key().decode())
    assert main(["migrate"]) == 0
    return tmp_path


def _line(out: str, prefix: str) -> str:
    return next(line for line in out.splitlines() if line.startswith(prefix))


def test_given_keys_created_with_and_without_expiry_when_listed_then_expiry_and_last_use_show(
        env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    before = utcnow()
    assert main(["keys", "create", "--role", "manager", "--name", "temp", "--expires-in-days", "30"]) == 0
    temp = capsys.readouterr().out.strip()
    assert main(["keys", "create", "--role", "admin", "--name", "forever"]) == 0
    forever = capsys.readouterr().out.strip()
    runtime = build_runtime(Settings.from_env())
    try:
        assert role_for_key(runtime, forever) == "admin"  # a use, recorded as last use
        # The minute of creation, 30 days on (it may have turned between `before` and now).
        expected = {(at + timedelta(days=30)).strftime("%Y-%m-%d %H:%M") for at in (before, runtime.clock())}
    finally:
        runtime.dispose()
    assert main(["keys", "list"]) == 0
    out = capsys.readouterr().out
    temp_line, forever_line = _line(out, temp.split("_")[1]), _line(out, forever.split("_")[1])
    assert "active" in temp_line and "never used" in temp_line and "temp" in temp_line
    assert temp_line.split("expires ")[1][:16] in expected
    assert "no expiry" in forever_line and "used 20" in forever_line
    assert temp not in out and forever not in out


def test_given_a_key_when_revoked_by_prefix_then_listed_as_revoked_and_a_second_revoke_fails(
        env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["keys", "create", "--role", "manager", "--name", "gone"])
    key = capsys.readouterr().out.strip()
    prefix = key.split("_")[1]
    assert main(["keys", "revoke", prefix]) == 0
    assert f"key {prefix} revoked" in capsys.readouterr().out
    assert main(["keys", "list"]) == 0
    assert "revoked 20" in _line(capsys.readouterr().out, prefix)
    assert main(["keys", "revoke", prefix]) == 1
    assert "no live key" in capsys.readouterr().err


def test_given_a_non_positive_expiry_then_keys_create_refuses_it_and_stores_nothing(
        env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["keys", "create", "--role", "manager", "--expires-in-days", "0"]) == 2
    assert "from 1 to 3650" in capsys.readouterr().err
    assert main(["keys", "list"]) == 0
    assert capsys.readouterr().out == ""
