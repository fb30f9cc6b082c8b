"""`qualify demo` plays the whole story and exits 0."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from service.demo import run_demo

ROOT = Path(__file__).resolve().parents[2]
# A narration line: the time since the story began, then the step; or a quoted text's line under it.
NARRATION = re.compile(r"\[ *\d+\.\d\ds\] \S|           \| ")


def test_the_demo_story_completes(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_demo() == 0
    out = capsys.readouterr().out
    assert "BLOCKED" in out and "ALLOWED" in out
    assert "every step happened as expected" in out


@pytest.mark.parametrize("crm", ["pipedrive", "amocrm", "bitrix24"])
def test_the_demo_story_completes_on_the_other_crms(crm: str, capsys: pytest.CaptureFixture[str]) -> None:
    from service.demo_crms import run_crm_demo

    assert run_crm_demo(crm) == 0
    out = capsys.readouterr().out
    assert "BLOCKED" in out and "ALLOWED" in out


def test_qualify_demo_prints_only_its_narration_on_stdout_as_the_readme_shows() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUALIFY_")}  # the demo needs no settings
    done = subprocess.run([sys.executable, "-m", "service.cli", "demo"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines and lines[-1].endswith("demo finished: every step happened as expected")
    assert [line for line in lines if not NARRATION.match(line)] == []
    assert " INFO " not in done.stderr and "werkzeug" not in done.stderr
    assert _unstamped(lines) == _unstamped(_readme_demo()), "README.md's demo output is not what the demo prints"


def _readme_demo() -> list[str]:
    """The lines README.md shows under `$ .venv/bin/qualify demo`, up to the end of the block."""
    text = (ROOT / "README.md").read_text()
    return text.split("$ .venv/bin/qualify demo\n", 1)[1].split("\n```", 1)[0].splitlines()


def _unstamped(lines: list[str]) -> list[str]:
    """The lines without what changes from run to run: the times and the loopback ports."""
    return [re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", re.sub(r"^\[ *\d+\.\d\ds\]", "[t]", line))
            for line in lines]
