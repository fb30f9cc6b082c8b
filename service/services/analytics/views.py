"""Read views of the stored portrait runs, as plain dicts (the API's schemas and the web pages show them):
the latest result, the ABC x XYZ tables, the RFM tables and the customers of one segment or cell."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from service.domain.analytics.matrix import ABC_ONLY, CELLS
from service.domain.analytics.rfm import Segment
from service.errors import InvalidInputError, NotFoundError
from service.models import AnalyticsRun, Customer, CustomerSegment, RunStatus
from service.runtime import Runtime
from service.services.analytics.runs import KIND

NO_RUN = ("No portrait run has finished yet: not enough data to show. Queue one with POST /v1/analytics/runs "
          "or `qualify analytics run`.")


def latest_run(session: Session) -> AnalyticsRun:
    """The newest finished portrait run; NotFoundError (saying how to make one) when there is none."""
    run = session.scalars(select(AnalyticsRun).where(AnalyticsRun.kind == KIND, AnalyticsRun.status == RunStatus.DONE)
                          .order_by(AnalyticsRun.finished_at.desc(), AnalyticsRun.id.desc())).first()
    if run is None or run.result is None:
        raise NotFoundError(NO_RUN)
    return run


def latest_result(runtime: Runtime) -> dict[str, Any]:
    """The newest finished run's stored result (results.report_json: as_of, computed_at, converted, base,
    currencies) with its ``run_id``; NotFoundError when no run has finished."""
    with runtime.read_uow() as uow:
        run = latest_run(uow.session)
        return {"run_id": run.id, **run.result} if run.result else {}


def _header(result: dict[str, Any]) -> dict[str, Any]:
    return {k: result[k] for k in ("run_id", "as_of", "computed_at", "converted", "base")}


def _floor(c: dict[str, Any]) -> dict[str, Any]:
    return {k: c[k] for k in ("currency", "enough", "message", "customers")} | {
        k: c.get(k) for k in ("customers_needed", "months", "months_needed")}


def abc_xyz_view(runtime: Runtime) -> dict[str, Any]:
    """The ABC x XYZ tables of the latest run: run_id, as_of, computed_at, converted, base, and per currency
    {currency, enough, message, customers, customers_needed, months, months_needed, unclassified, abc (rows,
    total), xyz (mode, cutoffs, classes, abc_only, demand), matrix (12 rows: AX..CZ, A-, B-, C-), check_sizes};
    a currency under the data floor has enough=false, the message and the numbers needed, and no tables."""
    return abc_xyz_of(latest_result(runtime))


def abc_xyz_of(result: dict[str, Any]) -> dict[str, Any]:
    """abc_xyz_view's answer from a stored result (with its ``run_id``)."""
    keys = ("unclassified", "abc", "xyz", "matrix", "check_sizes")
    return {**_header(result), "currencies": [
        {**_floor(c), **({k: c[k] for k in keys} if c["enough"] else {})} for c in result["currencies"]]}


def rfm_view(runtime: Runtime) -> dict[str, Any]:
    """The RFM tables of the latest run: as abc_xyz_view's header, and per currency the floor fields, segments
    (name, customers, shares, revenue, average check, purchases per year, margin, ROI) and the 5 x 5 R x F grid
    ({r, f, customers})."""
    return rfm_of(latest_result(runtime))


def rfm_of(result: dict[str, Any]) -> dict[str, Any]:
    """rfm_view's answer from a stored result (with its ``run_id``)."""
    return {**_header(result), "currencies": [
        {**_floor(c), **({k: c[k] for k in ("segments", "grid")} if c["enough"] else {})}
        for c in result["currencies"]]}


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def resolve_segment(name: str) -> str:
    """The canonical name of an RFM segment ("Champions", also "champions" or "cant-lose") or an ABC x XYZ cell
    ("AX", "A-"); InvalidInputError listing the known names otherwise."""
    for s in Segment:
        if name == s.value or _slug(name) == _slug(s.value):
            return s.value
    if name.upper() in CELLS + ABC_ONLY:
        return name.upper()
    known = [s.value for s in Segment] + list(CELLS + ABC_ONLY)
    raise InvalidInputError(f"Unknown segment {name!r}.", {"segment": [f"one of: {', '.join(known)}"]})


def members_query(segment: str) -> Select:  # type: ignore[type-arg]
    """Customers with their segment row, of an RFM segment or an ABC x XYZ cell (canonical name), by id."""
    query = select(Customer, CustomerSegment).join(CustomerSegment, CustomerSegment.customer_id == Customer.id)
    if segment in CELLS:
        query = query.where(CustomerSegment.abc == segment[0], CustomerSegment.xyz == segment[1])
    elif segment in ABC_ONLY:
        query = query.where(CustomerSegment.abc == segment[0], CustomerSegment.xyz.is_(None))
    else:
        query = query.where(CustomerSegment.segment == segment)
    return query.order_by(Customer.id)


def segment_customers(runtime: Runtime, segment: str, page: int = 1, page_size: int = 50) -> dict[str, Any]:
    """One page of a segment's (or cell's) customers: {segment, items, total, page, page_size}; each item has
    id, source, kind, external_id, name, values, segment, scores ("545": R, F, M), abc, xyz, previous_segment,
    changed_at. InvalidInputError for an unknown segment; NotFoundError when no run has finished."""
    name = resolve_segment(segment)
    with runtime.read_uow() as uow:
        latest_run(uow.session)
        query = members_query(name)
        total = uow.session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
        rows = uow.session.execute(query.limit(page_size).offset((page - 1) * page_size)).all()
        items = [{"id": c.id, "source": c.source, "kind": c.kind, "external_id": c.external_id, "name": c.name,
                  "values": c.values or {}, "segment": s.segment, "scores": s.scores, "abc": s.abc, "xyz": s.xyz,
                  "previous_segment": s.previous_segment, "changed_at": s.changed_at} for c, s in rows]
    return {"segment": name, "items": items, "total": total, "page": page, "page_size": page_size}
