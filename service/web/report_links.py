"""A report's period and filters read from a page's query string (with the API's schemas, so both interfaces
accept the same filters), and the links that carry them on: to the deals behind a number, to the exports, to
another page of a list."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from flask import request, url_for
from marshmallow import Schema

from schemas.reports import GRADES
from service.services.reports.filters import ReportFilter

FILTERS = ("connection_id", "pipeline", "owner", "persona_id", "grade")


def query_args(schema: Schema) -> dict[str, Any]:
    """The query string loaded by `schema`; fields left empty in the form count as not given. Raises
    marshmallow's ValidationError (answered with a 400 page naming the fields) for anything else."""
    given = {name: value for name, value in request.args.items() if value.strip() != ""}
    loaded: dict[str, Any] = schema.load(given)
    return loaded


@dataclass(frozen=True)
class ReportLinks:
    """Links that keep a report's period and filters."""

    first_day: date
    last_day: date
    filters: dict[str, Any]

    @classmethod
    def of(cls, f: ReportFilter) -> ReportLinks:
        """The links of a report over `f` (its period as days, `to` included)."""
        given = {name: getattr(f, name) for name in FILTERS if getattr(f, name) is not None}
        return cls(f.start.date(), (f.end - timedelta(days=1)).date(), given)

    @property
    def period(self) -> dict[str, str]:
        """The period as the form and the links write it."""
        return {"from": self.first_day.isoformat(), "to": self.last_day.isoformat()}

    def deals(self, metric: str, stage: str | None = None, **cell: Any) -> str | None:
        """The deals behind one number: the report's filters, changed by the cell's own (owner, pipeline,
        connection_id, persona_id, grade). None when the cell cannot be asked for (a row of deals without
        an owner, or the grade "none")."""
        if any(value is None for value in cell.values()) or cell.get("grade", GRADES[0]) not in GRADES:
            return None
        args = {**self.period, **self.filters, **cell, "metric": metric}
        if stage is not None:
            args["stage"] = stage
        return url_for("report_pages.deals", **args)

    def week(self, metric: str, monday: str) -> str | None:
        """The deals behind a number of one week (the week's days inside the period)."""
        first = max(date.fromisoformat(monday), self.first_day)
        last = min(date.fromisoformat(monday) + timedelta(days=6), self.last_day)
        args: dict[str, Any] = {**self.filters, "from": first.isoformat(), "to": last.isoformat(), "metric": metric}
        return url_for("report_pages.deals", **args)

    def report(self) -> str:
        """The dashboard with these filters."""
        args: dict[str, Any] = {**self.period, **self.filters}
        return url_for("report_pages.dashboard", **args)

    def export(self, fmt: str) -> str:
        """The report with these filters as a csv or xlsx file."""
        args: dict[str, Any] = {**self.period, **self.filters, "fmt": fmt}
        return url_for("report_pages.export", **args)


def page_url(page: int) -> str:
    """This list's URL at another page, every other argument kept."""
    args: dict[str, Any] = {name: value for name, value in request.args.items() if value.strip() != ""}
    args.update(request.view_args or {}, page=str(page))
    return url_for(str(request.endpoint), **args)
