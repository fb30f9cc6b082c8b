"""Importing a purchase log from outside the CRM (bank statements, loyalty cards, CDNOW): a CSV (or
whitespace-separated) file with a header row and a column mapping. Every bad row is reported (row number,
column, why) and then nothing is imported; the whole file goes in one transaction. Purchases are unique per
(source, external id): the mapped id column, else a hash of the row's mapped values and how many identical rows
came before it, so importing the same file again adds nothing while real repeated purchases are kept."""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import insert, select

from service.errors import InvalidInputError
from service.models import Customer, Purchase
from service.runtime import Runtime

ROLES = ("customer", "date", "amount", "currency", "margin", "id")
REQUIRED = ("customer", "date", "amount")
WHITESPACE = "whitespace"
MAX_LISTED = 50  # bad rows listed in the error (the count says how many there were)
MAX_ID = 120
PARSED, WRITTEN = "parsed", "written"  # the phases a progress callback hears about
STEP = 5_000  # rows between progress reports, and purchases per insert

Progress = Callable[[str, int, int], None]  # (phase, done, total)


def _quiet(phase: str, done: int, total: int) -> None:
    """A progress callback that ignores everything."""


@dataclass(frozen=True)
class ImportSpec:
    """How to read a file: dataset name, role -> column header, default currency, date format (strptime; ISO
    YYYY-MM-DD when None) and delimiter (one character, or "whitespace")."""

    dataset: str
    mapping: dict[str, str]
    currency: str | None = None
    date_format: str | None = None
    delimiter: str = ","


def parse_mapping(text: str) -> dict[str, str]:
    """``customer=COL,date=COL,amount=COL[,currency=COL,margin=COL,id=COL]`` as a dict; InvalidInputError when a
    role is unknown, repeated or a required one is missing."""
    mapping: dict[str, str] = {}
    problems: dict[str, list[str]] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        role, sep, column = part.partition("=")
        role = role.strip()
        if not sep or not column.strip():
            problems.setdefault("map", []).append(f"{part!r} is not ROLE=COLUMN")
        elif role not in ROLES:
            problems.setdefault("map", []).append(f"unknown role {role!r} (roles: {', '.join(ROLES)})")
        elif role in mapping:
            problems.setdefault("map", []).append(f"{role} is mapped twice")
        else:
            mapping[role] = column.strip()
    missing = [r for r in REQUIRED if r not in mapping]
    if missing:
        problems.setdefault("map", []).append(f"missing {', '.join(missing)}")
    if problems:
        raise InvalidInputError("The column mapping is invalid.", problems)
    return mapping


def _rows(text: str, delimiter: str) -> list[list[str]]:
    if delimiter == WHITESPACE:
        return [line.split() for line in text.splitlines() if line.strip()]
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    return [row for row in reader if any(c.strip() for c in row)]


def _date(raw: str, fmt: str | None) -> date:
    return date.fromisoformat(raw) if fmt is None else datetime.strptime(raw, fmt).date()


def _amount(raw: str) -> Decimal:
    value = Decimal(raw.replace(" ", "").replace("\u00a0", ""))
    if not value.is_finite():
        raise InvalidOperation
    return value


def read_rows(text: str, spec: ImportSpec, progress: Progress = _quiet) -> list[dict[str, Any]]:
    """The purchases of a file's text as dicts (customer, at, amount, currency, margin, external_id);
    InvalidInputError listing every bad row ("row 7": "amount: 'x' is not a number") or a missing column.
    ``progress`` hears ("parsed", rows checked, data rows) every STEP rows and at the end."""
    rows = _rows(text.lstrip("\ufeff"), spec.delimiter)
    if not rows:
        raise InvalidInputError("The file is empty.", {"file": ["no header row"]})
    header = [h.strip() for h in rows[0]]
    missing = [c for c in spec.mapping.values() if c not in header]
    if missing:
        raise InvalidInputError("The file lacks mapped columns.", {
            "map": [f"no column {c!r} in the header ({', '.join(header)})" for c in missing]})
    if "currency" not in spec.mapping and not spec.currency:
        raise InvalidInputError("No currency.", {"currency": ["map a currency column or give --currency"]})
    at = {role: header.index(column) for role, column in spec.mapping.items()}
    out: list[dict[str, Any]] = []
    errors: dict[str, list[str]] = {}
    seen: dict[str, int] = {}
    ids: dict[str, int] = {}
    total = len(rows) - 1
    progress(PARSED, 0, total)
    for number, row in enumerate(rows[1:], start=2):  # row 1 is the header
        if (number - 1) % STEP == 0:
            progress(PARSED, number - 1, total)
        cell = {role: (row[i].strip() if i < len(row) else "") for role, i in at.items()}
        problems = []
        if len(row) != len(header):
            problems.append(f"{len(row)} columns, the header has {len(header)}")
        if not cell["customer"]:
            problems.append(f"{spec.mapping['customer']}: empty customer")
        elif len(cell["customer"]) > MAX_ID:
            problems.append(f"{spec.mapping['customer']}: longer than {MAX_ID} characters")
        try:
            when = _date(cell["date"], spec.date_format)
        except ValueError:
            problems.append(f"{spec.mapping['date']}: {cell['date']!r} is not a date "
                            f"({spec.date_format or 'YYYY-MM-DD'})")
        try:
            amount = _amount(cell["amount"])
        except (InvalidOperation, ValueError):
            problems.append(f"{spec.mapping['amount']}: {cell['amount']!r} is not a number")
        margin = None
        if cell.get("margin"):
            try:
                margin = _amount(cell["margin"])
            except (InvalidOperation, ValueError):
                problems.append(f"{spec.mapping['margin']}: {cell['margin']!r} is not a number")
        currency = (cell.get("currency") or spec.currency or "").upper()
        if not currency.isalpha() or len(currency) > 8:
            problems.append(f"{spec.mapping.get('currency', 'currency')}: {currency!r} is not a currency code")
        external = cell.get("id")
        if "id" in spec.mapping and (not external or len(external) > MAX_ID):
            problems.append(f"{spec.mapping['id']}: an id must have 1-{MAX_ID} characters")
        elif external in ids:
            problems.append(f"{spec.mapping['id']}: {external!r} repeats row {ids[external]}")
        if problems:
            errors[f"row {number}"] = problems
            continue
        if external:
            ids[external] = number
        else:
            content = "\x1f".join(cell.get(r, "") for r in ROLES)
            seen[content] = seen.get(content, 0) + 1
            external = hashlib.sha256(f"{content}\x1f{seen[content]}".encode()).hexdigest()
        out.append({"customer": cell["customer"], "at": when, "amount": amount, "currency": currency,
                    "margin": margin, "external_id": external})
    progress(PARSED, total, total)
    if errors:
        listed = dict(list(errors.items())[:MAX_LISTED])
        more = f" (the first {MAX_LISTED} are listed)" if len(errors) > MAX_LISTED else ""
        raise InvalidInputError(f"{len(errors)} rows are invalid{more}; nothing was imported.", listed)
    return out


def import_purchases(runtime: Runtime, text: str, spec: ImportSpec, progress: Progress = _quiet) -> dict[str, int]:
    """Import a purchase log in one transaction (see the module doc): customers of kind ``customer`` with source
    ``import:<dataset>``. Returns rows, purchases added, purchases already there, customers added.
    InvalidInputError for a bad file (nothing imported). ``progress`` hears ("parsed", rows, data rows) while
    the file is read, then ("written", purchases, new purchases) after each batch (committed at the end)."""
    if not spec.dataset or len(spec.dataset) > 72:
        raise InvalidInputError("Invalid dataset name.", {"dataset": ["1-72 characters"]})
    rows = read_rows(text, spec, progress)
    source = f"import:{spec.dataset}"
    with runtime.uow() as uow:
        s = uow.session
        customers: dict[str, int] = {e: i for e, i in s.execute(select(Customer.external_id, Customer.id).where(
            Customer.source == source, Customer.kind == "customer"))}
        now = runtime.clock()
        new = sorted({r["customer"] for r in rows} - customers.keys())
        if new:
            added = s.execute(insert(Customer).returning(Customer.external_id, Customer.id), [
                {"source": source, "kind": "customer", "external_id": c, "name": None, "values": {},
                 "created_at": now, "updated_at": now} for c in new])
            customers.update({e: i for e, i in added})
        known = set(s.scalars(select(Purchase.external_id).where(Purchase.source == source)))
        fresh = [r for r in rows if r["external_id"] not in known]
        progress(WRITTEN, 0, len(fresh))
        for start in range(0, len(fresh), STEP):
            s.execute(insert(Purchase), [
                {"customer_id": customers[r["customer"]], "source": source, "external_id": r["external_id"],
                 "amount": r["amount"], "currency": r["currency"], "margin": r["margin"],
                 "purchased_on": r["at"], "created_at": now} for r in fresh[start:start + STEP]])
            progress(WRITTEN, min(start + STEP, len(fresh)), len(fresh))
        uow.commit()
    return {"rows": len(rows), "added": len(fresh), "existing": len(rows) - len(fresh), "customers_added": len(new)}
