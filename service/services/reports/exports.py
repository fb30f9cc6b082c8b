"""The qualification report as a file: CSV (every section one after the other, each under its name and rule)
or XLSX (a sheet per section, numbers as numbers, the header row frozen), from the same tables."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

import xlsxwriter

from service.runtime import Runtime
from service.services.reports.filters import ReportFilter
from service.services.reports.qualification import qualification_report
from service.services.reports.tables import Table, report_tables

MIMETYPES = {"csv": "text/csv; charset=utf-8",
             "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


@dataclass(frozen=True)
class ReportFile:
    """A report written as a file."""

    content: bytes
    mimetype: str
    filename: str


def report_for(runtime: Runtime, f: ReportFilter, language: str, fmt: str) -> dict[str, Any] | ReportFile:
    """The report as data (`fmt` json) or as a csv or xlsx file named after its period."""
    report = qualification_report(runtime, f, language)
    if fmt == "json":
        return report
    tables = report_tables(report)
    name = f"qualification-{f.start.date().isoformat()}-{f.end.date().isoformat()}.{fmt}"
    content = csv_bytes(tables) if fmt == "csv" else xlsx_bytes(tables)
    return ReportFile(content, MIMETYPES[fmt], name)


def csv_bytes(tables: list[Table]) -> bytes:
    """Every table under a `# name: rule` line and its header, a blank line between tables (UTF-8 with a BOM,
    so spreadsheet programs read the Russian labels right)."""
    out = io.StringIO()
    writer = csv.writer(out)
    for table in tables:
        writer.writerow([f"# {table.name}: {table.rule}"])
        writer.writerow(table.columns)
        writer.writerows(["" if v is None else v for v in row] for row in table.rows)
        writer.writerow([])
    return ("\ufeff" + out.getvalue()).encode()


def xlsx_bytes(tables: list[Table]) -> bytes:
    """A workbook with a sheet per table: the rule in the first row, the header row frozen under it, numbers
    written as numbers."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    bold = book.add_format({"bold": True})
    wrap = book.add_format({"italic": True, "text_wrap": True})
    for table in tables:
        sheet = book.add_worksheet(table.name[:31])
        sheet.merge_range(0, 0, 0, max(len(table.columns) - 1, 0), table.rule, wrap) if len(table.columns) > 1 \
            else sheet.write(0, 0, table.rule, wrap)
        sheet.set_row(0, 45)
        sheet.write_row(1, 0, table.columns, bold)
        sheet.freeze_panes(2, 0)
        for r, row in enumerate(table.rows, start=2):
            for c, value in enumerate(row):
                if value is None:
                    continue
                if isinstance(value, bool):
                    sheet.write_boolean(r, c, value)
                elif isinstance(value, int | float):
                    sheet.write_number(r, c, value)
                else:
                    sheet.write_string(r, c, str(value))
        sheet.set_column(0, max(len(table.columns) - 1, 0), 16)
    book.close()
    return buffer.getvalue()
