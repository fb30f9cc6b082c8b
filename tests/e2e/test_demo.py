"""`qualify demo` plays the whole story and exits 0."""

from __future__ import annotations

import pytest

from service.demo import run_demo


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
