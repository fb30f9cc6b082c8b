"""The runtime sets Python's thread switch interval from QUALIFY_THREAD_SWITCH_SECONDS (0 leaves it alone)."""

from __future__ import annotations

import sys
from dataclasses import replace

import pytest
from sqlalchemy import Engine

from service.config import Settings
from service.runtime import build_runtime


def test_the_runtime_sets_the_switch_interval_and_zero_leaves_it(settings: Settings, engine: Engine) -> None:
    before = sys.getswitchinterval()
    try:
        build_runtime(replace(settings, thread_switch_seconds=0.0025), engine=engine).dispose()
        assert sys.getswitchinterval() == pytest.approx(0.0025)
        sys.setswitchinterval(0.004)
        build_runtime(replace(settings, thread_switch_seconds=0), engine=engine).dispose()
        assert sys.getswitchinterval() == pytest.approx(0.004)
    finally:
        sys.setswitchinterval(before)


def test_the_switch_interval_is_read_from_the_environment() -> None:
    assert Settings.from_env({"QUALIFY_THREAD_SWITCH_SECONDS": "0.002"}).thread_switch_seconds == 0.002
    assert Settings.from_env({}).thread_switch_seconds == 0.001
