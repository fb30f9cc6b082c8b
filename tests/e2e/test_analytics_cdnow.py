"""Externally written data end to end: the CDNOW purchase log shipped inside the `lifetimes` wheel (found as a
file, the package is never imported) goes through real `qualify analytics import` and `qualify analytics run`
processes, and the stored analysis is checked against numbers this test computes from the file itself."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import func, select

from service.config import Settings
from service.db import make_engine
from service.models import CustomerSegment
from service.runtime import build_runtime
from service.services.analytics.views import latest_result

ROOT = Path(__file__).resolve().parents[2]


def cdnow_file() -> Path:
    """lifetimes/datasets/CDNOW_master.txt, located without importing lifetimes (it would pull numpy/scipy)."""
    spec = importlib.util.find_spec("lifetimes")
    if spec is None or not spec.submodule_search_locations:
        pytest.fail("lifetimes is not installed: `make venv` installs it (--no-deps) for its CDNOW_master.txt")
    return Path(next(iter(spec.submodule_search_locations))) / "datasets" / "CDNOW_master.txt"


def own_abc(totals: dict[str, Decimal]) -> Counter[str]:
    """ABC 80/15/5 by the simplest reading of docs/analytics.md: a customer's class is set by the revenue share of
    the customers with a strictly larger revenue; revenue of 0 or less is C."""
    positive = Counter(v for v in totals.values() if v > 0)
    total = sum(v * n for v, n in positive.items())
    above: dict[Decimal, Decimal] = {}
    running = Decimal(0)
    for value in sorted(positive, reverse=True):
        above[value] = running
        running += value * positive[value]
    out: Counter[str] = Counter()
    for value in totals.values():
        share = above[value] / total if value > 0 else Decimal(1)
        out["A" if share < Decimal("0.80") else "B" if share < Decimal("0.95") else "C"] += 1
    return out


def _qualify(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-m", "service.cli", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


@pytest.mark.timeout(600)
def test_given_cdnow_when_imported_and_run_then_numbers_match_the_file(tmp_path: Path) -> None:
    path = cdnow_file()
    lines = [line.split() for line in path.read_text().splitlines()[1:] if line.strip()]
    totals: dict[str, Decimal] = defaultdict(Decimal)
    purchases: Counter[str] = Counter()
    for customer, _, _, amount in lines:
        totals[customer] += Decimal(amount)
        purchases[customer] += 1

    db = tmp_path / "cdnow.db"
    env = {**os.environ, "QUALIFY_DATABASE_URL": f"sqlite:///{db}", "QUALIFY_INSTANCE_PATH": str(tmp_path),
           "QUALIFY_SECRET_KEY": Fernet.generate_key().decode()}
    _qualify(env, "migrate")
    imported = _qualify(env, "analytics", "import", str(path), "--dataset", "cdnow", "--delimiter", "whitespace",
                        "--map", "customer=customer_id,date=date,amount=dollar_value", "--currency", "USD",
                        "--date-format", "%Y%m%d")
    assert f"{len(lines)} purchases added" in imported.stdout
    again = _qualify(env, "analytics", "import", str(path), "--dataset", "cdnow", "--delimiter", "whitespace",
                     "--map", "customer=customer_id,date=date,amount=dollar_value", "--currency", "USD",
                     "--date-format", "%Y%m%d")
    assert "0 purchases added" in again.stdout
    ran = _qualify(env, "analytics", "run", "--as-of", "1998-07-01")
    assert f"USD: {len(totals)} customers" in ran.stdout

    settings = Settings(database_url=f"sqlite:///{db}", instance_path=str(tmp_path), secret_key=env[
        "QUALIFY_SECRET_KEY"]).resolved()
    runtime = build_runtime(settings, engine=make_engine(f"sqlite:///{db}"))
    try:
        (usd,) = latest_result(runtime)["currencies"]
        assert usd["enough"] and usd["customers"] == len(totals)
        assert usd["abc"]["total"] == pytest.approx(float(sum(v for v in totals.values() if v > 0)), abs=0.01)
        assert {r["name"]: r["customers"] for r in usd["abc"]["rows"]} == dict(own_abc(totals))
        one_off = sum(1 for n in purchases.values() if n == 1)
        assert sum(g["customers"] for g in usd["grid"] if g["f"] == 1) == one_off  # ties: every one-off gets F=1
        assert usd["xyz"]["abc_only"] >= one_off  # one-off buyers get ABC only
        with runtime.read_uow() as uow:
            assert uow.session.scalar(select(func.count()).select_from(CustomerSegment)) == len(totals)
    finally:
        runtime.dispose()
