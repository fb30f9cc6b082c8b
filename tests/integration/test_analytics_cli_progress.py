"""`qualify analytics import|suggest|run` from the command line, on SQLite and PostgreSQL: import and suggest show
progress bars on stderr while stdout stays the parseable answer; run takes every parameter the API takes
(horizon, minimum periods, acquisition cost, ...) with the API's checks and messages."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from service.models import AnalyticsRun, Purchase
from service.runtime import Runtime
from service.services.analytics import imports
from service.services.analytics.imports import ImportSpec, import_purchases, parse_mapping
from service.services.analytics.suggest import PHASES, suggested_persona
from tests.integration.analytics_history import AS_OF, plant, portrait_fields

BAR = "━"  # rich's bar: never on stdout


@pytest.fixture
def cli(runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    from cryptography.fernet import Fernet

    from service import cli_analytics
    from service.cli import main

    monkeypatch.setenv("QUALIFY_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("QUALIFY_SECRET_KEY", Fernet.generate_key().decode())
    monkeypatch.setattr(cli_analytics, "_runtime", lambda settings: runtime)
    return main


def _log(tmp_path: Path, rows: int) -> Path:
    path = tmp_path / "till.csv"
    lines = ["who,when,paid"] + [f"c{i % 7},2025-01-{1 + i % 28:02d},{10 + i}" for i in range(rows)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_given_a_log_then_import_reports_rows_parsed_then_purchases_written_in_batches(
        runtime: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(imports, "STEP", 4)
    heard: list[tuple[str, int, int]] = []
    text = _log(tmp_path, 10).read_text()
    spec = ImportSpec("till", parse_mapping("customer=who,date=when,amount=paid"), currency="USD")
    assert import_purchases(runtime, text, spec, lambda *event: heard.append(event))["added"] == 10
    assert heard == [("parsed", 0, 10), ("parsed", 4, 10), ("parsed", 8, 10), ("parsed", 10, 10),
                     ("written", 0, 10), ("written", 4, 10), ("written", 8, 10), ("written", 10, 10)]
    heard.clear()
    assert import_purchases(runtime, text, spec, lambda *event: heard.append(event))["added"] == 0
    assert heard[-1] == ("written", 0, 0)


def test_given_the_cli_then_import_shows_both_bars_on_stderr_and_prints_its_summary_alone(
        runtime: Runtime, cli: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _log(tmp_path, 23)
    args = ["analytics", "import", str(path), "--dataset", "till", "--map", "customer=who,date=when,amount=paid",
            "--currency", "USD"]
    assert cli(args) == 0
    out = capsys.readouterr()
    assert out.out == f"{path}: 23 rows, 23 purchases added, 0 already imported, 7 new customers (dataset till)\n"
    assert "rows parsed" in out.err and "purchases written" in out.err
    assert out.err.count("23/23") == 2 and BAR in out.err

    assert cli(args) == 0
    again = capsys.readouterr()
    assert "0 purchases added, 23 already imported" in again.out and "0/0" in again.err
    with runtime.read_uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(Purchase)) == 23


def test_given_the_cli_then_suggest_shows_its_phases_on_stderr_and_stdout_ends_with_the_draft_as_json(
        runtime: Runtime, cli: Any, capsys: pytest.CaptureFixture[str]) -> None:
    portrait_fields(runtime)
    plant(runtime)
    assert cli(["analytics", "run", "--as-of", AS_OF.isoformat()]) == 0
    capsys.readouterr()

    assert cli(["analytics", "suggest", "Champions"]) == 0
    out = capsys.readouterr()
    phases = len(PHASES)
    assert f"{phases}/{phases}" in out.err and PHASES[-1] in out.err
    assert BAR not in out.out
    lines = out.out.splitlines()
    start = lines.index("{")
    assert json.loads("\n".join(lines[start:])) == suggested_persona(runtime, "Champions")["draft"]

    assert cli(["analytics", "suggest", "Champions", "--create"]) == 0
    created = capsys.readouterr()
    assert f"{phases + 1}/{phases + 1}" in created.err and "persona created" in created.err
    assert created.out.splitlines()[-1].endswith("created: Suggested: Champions")
    assert cli(["analytics", "suggest", "Champions", "--create"]) == 2  # the name is taken: the draft still shows
    taken = capsys.readouterr()
    assert "persona not created" in taken.err and "qualify analytics suggest:" in taken.err
    assert '"criteria"' in taken.out


def test_given_every_api_parameter_then_the_cli_run_stores_them_and_roi_uses_the_acquisition_cost(
        runtime: Runtime, cli: Any, capsys: pytest.CaptureFixture[str]) -> None:
    portrait_fields(runtime)
    plant(runtime)
    with runtime.uow() as uow:  # a 30 % margin on every purchase, so ROI is known
        uow.session.execute(update(Purchase).values(margin=Purchase.amount * 3 / 10))
        uow.commit()
    assert cli(["analytics", "run", "--as-of", AS_OF.isoformat(), "--cutoffs", "70,20,10", "--basis", "margin",
                "--xyz-mode", "textbook", "--period-months", "2", "--horizon-months", "12", "--min-purchases", "3",
                "--min-periods", "4", "--hysteresis", "0", "--acquisition-cost", "250",
                "--rates", "USD=1", "--base", "USD"]) == 0
    capsys.readouterr()
    with runtime.read_uow() as uow:
        run = uow.session.scalars(select(AnalyticsRun)).one()
        params, result = dict(run.params), run.result or {}
    assert params == {"as_of": AS_OF.isoformat(), "abc_cutoffs": [70.0, 20.0, 10.0], "basis": "margin",
                      "xyz_mode": "textbook", "period_months": 2, "horizon_months": 12, "min_purchases": 3,
                      "min_periods": 4, "hysteresis": 0.0, "acquisition_cost": "250.0", "rates": {"USD": "1.0"},
                      "base": "USD", "trigger": "cli"}
    (usd,) = result["currencies"]
    assert usd["xyz"]["mode"] == "textbook"
    segments = [g for g in usd["segments"] if g["customers"]]
    assert segments and all(g["roi"] == pytest.approx(g["margin_per_customer"] / 250, abs=1e-6)  # 6 decimals kept
                            for g in segments)


@pytest.mark.parametrize(("options", "says"), [
    (["--period-months", "13"], "--period-months: Must be greater than or equal to 1 and less than or equal to 12."),
    (["--horizon-months", "1"], "--horizon-months: Must be greater than or equal to 2 and less than or equal to 120."),
    (["--min-periods", "0"], "--min-periods: Must be greater than or equal to 2"),
    (["--min-purchases", "0"], "--min-purchases: Must be greater than or equal to 1"),
    (["--acquisition-cost", "-5"], "--acquisition-cost: Must be greater than 0."),
    (["--acquisition-cost", "lots"], "--acquisition-cost: Not a valid number."),
    (["--cutoffs", "80,15,x"], "--cutoffs.2: Not a valid number."),
    (["--cutoffs", "80,15"], "--cutoffs: Length must be 3."),
    (["--rates", "EUR"], "--rates: 'EUR' is not CURRENCY=RATE"),
    (["--rates", "EUR=1.08"], "base: required with rates"),
    (["--as-of", "2026-02-30"], "--as-of: Not a valid date."),
    (["--hysteresis", "6"], "--hysteresis: Must be greater than or equal to 0 and less than or equal to 5."),
])
def test_given_a_bad_option_then_run_says_which_and_queues_nothing(
        runtime: Runtime, cli: Any, capsys: pytest.CaptureFixture[str], options: list[str], says: str) -> None:
    assert cli(["analytics", "run", *options]) == 2
    err = capsys.readouterr().err
    assert "qualify analytics run: Invalid analytics parameters." in err and f"  {says}" in err
    with runtime.read_uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(AnalyticsRun)) == 0
