"""Importing a purchase log (`qualify analytics import`), on SQLite and PostgreSQL: bad rows are each reported
and nothing is imported; importing the same file twice adds nothing; repeated identical rows stay purchases."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import func, select

from service.cli import main
from service.errors import InvalidInputError
from service.models import Customer, Purchase
from service.runtime import Runtime
from service.services.analytics.imports import ImportSpec, import_purchases, parse_mapping

GOOD = """client;day;total;cur;receipt
c1;2025-01-05;100.50;EUR;r1
c2;2025-02-10;20;USD;r2
c1;2025-03-01;80;EUR;r3
"""
MAPPING = "customer=client,date=day,amount=total,currency=cur,id=receipt"


def _counts(runtime: Runtime) -> tuple[int, int]:
    with runtime.read_uow() as uow:
        return (uow.session.scalar(select(func.count()).select_from(Customer)) or 0,
                uow.session.scalar(select(func.count()).select_from(Purchase)) or 0)


def test_given_a_good_file_when_imported_twice_then_the_second_time_adds_nothing(runtime: Runtime) -> None:
    spec = ImportSpec("shop", parse_mapping(MAPPING), delimiter=";")
    first = import_purchases(runtime, GOOD, spec)
    assert first == {"rows": 3, "added": 3, "existing": 0, "customers_added": 2}
    assert import_purchases(runtime, GOOD, spec) == {"rows": 3, "added": 0, "existing": 3, "customers_added": 0}
    assert _counts(runtime) == (2, 3)
    with runtime.read_uow() as uow:
        c1 = uow.session.scalars(select(Customer).where(Customer.external_id == "c1")).one()
        assert (c1.kind, c1.source) == ("customer", "import:shop")
        amounts = sorted(uow.session.scalars(select(Purchase.amount).where(Purchase.customer_id == c1.id)))
    assert amounts == [Decimal("80"), Decimal("100.5")]


def test_given_no_id_column_then_the_content_hash_keeps_repeated_rows_and_re_import_is_idempotent(
        runtime: Runtime) -> None:
    text = "who,when,paid\na,2025-01-01,10\na,2025-01-01,10\nb,2025-01-02,5\n"
    spec = ImportSpec("till", parse_mapping("customer=who,date=when,amount=paid"), currency="usd")
    assert import_purchases(runtime, text, spec)["added"] == 3  # two identical receipts are two purchases
    assert import_purchases(runtime, text, spec)["added"] == 0
    assert import_purchases(runtime, text + "b,2025-01-02,5\n", spec)["added"] == 1
    with runtime.read_uow() as uow:
        assert set(uow.session.scalars(select(Purchase.currency))) == {"USD"}


def test_given_bad_rows_then_each_is_reported_and_nothing_is_imported(runtime: Runtime) -> None:
    text = GOOD + "c3;2025-13-01;10;EUR;r4\nc4;2025-01-01;ten;EUR;r5\n;2025-01-01;1;EUR;r6\nc5;2025-01-01;1;EUR;r1\n"
    with pytest.raises(InvalidInputError) as bad:
        import_purchases(runtime, text, ImportSpec("shop", parse_mapping(MAPPING), delimiter=";"))
    errors = bad.value.errors or {}
    assert set(errors) == {"row 5", "row 6", "row 7", "row 8"}
    assert "day: '2025-13-01' is not a date" in errors["row 5"][0]
    assert errors["row 6"] == ["total: 'ten' is not a number"]
    assert errors["row 7"] == ["client: empty customer"]
    assert errors["row 8"] == ["receipt: 'r1' repeats row 2"]
    assert "nothing was imported" in bad.value.detail
    assert _counts(runtime) == (0, 0)


def test_given_a_bad_mapping_or_missing_column_then_the_import_is_refused(runtime: Runtime) -> None:
    with pytest.raises(InvalidInputError) as bad:
        parse_mapping("customer=a,when=b")
    assert bad.value.errors == {"map": ["unknown role 'when' (roles: customer, date, amount, currency, margin, id)",
                                        "missing date, amount"]}
    with pytest.raises(InvalidInputError, match="lacks mapped columns"):
        import_purchases(runtime, GOOD, ImportSpec("shop", parse_mapping("customer=client,date=day,amount=sum"),
                                                   delimiter=";"))
    with pytest.raises(InvalidInputError, match="No currency"):
        import_purchases(runtime, GOOD, ImportSpec("shop", parse_mapping("customer=client,date=day,amount=total"),
                                                   delimiter=";"))


def test_given_the_cli_then_bad_rows_are_printed_and_the_exit_code_is_2(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("QUALIFY_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("QUALIFY_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("QUALIFY_SECRET_KEY", Fernet.generate_key().decode())
    assert main(["migrate"]) == 0
    path = tmp_path / "log.txt"
    path.write_text("id  day  paid\n1 20250101 3.5\n2 20250102 x\n")
    args = ["analytics", "import", str(path), "--dataset", "log", "--map", "customer=id,date=day,amount=paid",
            "--currency", "USD", "--date-format", "%Y%m%d", "--delimiter", "whitespace"]
    assert main(args) == 2
    assert "row 3: paid: 'x' is not a number" in capsys.readouterr().err
    path.write_text("id  day  paid\n1 20250101 3.5\n2 20250102 4\n")
    assert main(args) == 0
    assert "2 purchases added" in capsys.readouterr().out
