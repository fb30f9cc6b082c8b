"""The README documents every setting and the two set-up commands."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path

from service.config import Settings

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_every_setting_is_in_the_readme_table() -> None:
    missing = [f"QUALIFY_{f.name.upper()}" for f in fields(Settings) if f"`QUALIFY_{f.name.upper()}`" not in README]
    assert missing == []


def test_the_readme_shows_the_two_commands() -> None:
    assert "make run" in README and "make test" in README
