"""Portrait runs: queued by the API, the CLI or the nightly job, then run here. A run reads every purchase in
batches straight into columns (reporting done/total), runs the domain's columnar ``analyze_columns()`` (the same
report as the reference ``analyze()``) and stores its result and every customer's
segment in ONE transaction, so a failed run leaves nothing half-written (only its failed status and error)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, Date, Integer, func, insert, literal, select, type_coerce, update
from sqlalchemy import cast as sql_cast
from sqlalchemy.orm import Session

from service.domain.analytics.columnar import EPOCH, SEGMENTS, Columns
from service.domain.analytics.columnar import columns as to_columns
from service.domain.analytics.columnar_report import ColumnarReport, analyze_columns
from service.domain.analytics.floors import NotEnoughData
from service.domain.analytics.purchases import AnalyticsError
from service.domain.analytics.rfm import Segment, next_segment
from service.errors import InvalidInputError, ServiceError
from service.models import AnalyticsRun, CustomerSegment, Purchase, RunStatus
from service.runtime import Runtime
from service.services.analytics.params import RunSettings, clean_params, run_settings
from service.services.analytics.results import report_json
from service.services.common import error_text, get_or_404

log = logging.getLogger("qualify.analytics")

KIND = "portrait"
BATCH = 20_000
STALE_AFTER = timedelta(hours=1)  # a run still `running` after this was left by a process that stopped
SCALE = 4  # decimal places of purchases.amount and .margin (Numeric(20, 4))
Progress = Callable[[dict[str, Any]], None]


def run_view(run: AnalyticsRun) -> dict[str, Any]:
    """A run as a plain dict: id, status, trigger, params, as_of, done, total, progress (percent), queued_at,
    started_at, finished_at, error (no result: see views.latest_result)."""
    progress = 100.0 if run.status == RunStatus.DONE else (100.0 * run.done / run.total if run.total else 0.0)
    return {"id": run.id, "status": run.status, "trigger": run.params.get("trigger"), "params": run.params,
            "as_of": run.as_of, "done": run.done, "total": run.total, "progress": round(min(progress, 100.0), 1),
            "queued_at": run.queued_at, "started_at": run.started_at, "finished_at": run.finished_at,
            "error": run.error}


def queue_run(runtime: Runtime, params: dict[str, Any], *, trigger: str = "api") -> dict[str, Any]:
    """Queue a portrait run with ``params`` (params.KEYS; ``as_of`` defaults to today); InvalidInputError for bad
    parameters. The scheduler runs it (or run_portrait / run_queued_runs)."""
    now = runtime.clock()
    cleaned = clean_params(params, now.date())
    with runtime.uow() as uow:
        run = AnalyticsRun(kind=KIND, status=RunStatus.QUEUED, params={**cleaned, "trigger": trigger},
                           as_of=run_settings(cleaned).as_of, done=0, total=0, queued_at=now)
        uow.session.add(run)
        uow.session.flush()
        view = run_view(run)
        uow.commit()
    return view


def get_run(runtime: Runtime, run_id: int) -> dict[str, Any]:
    """One run with its progress; NotFoundError when there is none."""
    with runtime.read_uow() as uow:
        return run_view(get_or_404(uow.session, AnalyticsRun, run_id, "Analytics run"))


def requeue_stale_runs(runtime: Runtime) -> int:
    """Queue again the runs left `running` for longer than STALE_AFTER (their process died: a run takes seconds
    to minutes), so a crash loses no run; returns how many."""
    with runtime.uow() as uow:
        result: Any = uow.session.execute(update(AnalyticsRun).where(
            AnalyticsRun.kind == KIND, AnalyticsRun.status == RunStatus.RUNNING,
            AnalyticsRun.started_at < runtime.clock() - STALE_AFTER).values(
            status=RunStatus.QUEUED, done=0, error="requeued: its process stopped while it ran"))
        uow.commit()
    count = int(result.rowcount or 0)
    if count:
        log.warning("analytics: %s run(s) left running by a stopped process queued again", count)
    return count


def run_queued_runs(runtime: Runtime, progress: Progress | None = None) -> int:
    """Run every queued portrait run, oldest first (those a stopped process left running queued again first);
    returns how many ran."""
    requeue_stale_runs(runtime)
    ran = 0
    while True:
        with runtime.read_uow() as uow:
            run_id = uow.session.scalar(select(AnalyticsRun.id).where(
                AnalyticsRun.kind == KIND, AnalyticsRun.status == RunStatus.QUEUED).order_by(AnalyticsRun.id))
        if run_id is None:
            return ran
        run_portrait(runtime, run_id, progress)
        ran += 1


def queue_nightly(runtime: Runtime) -> dict[str, Any] | None:
    """Queue the day's portrait run unless one was already queued today (None then)."""
    now = runtime.clock()
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    with runtime.read_uow() as uow:
        runs = uow.session.scalars(select(AnalyticsRun).where(
            AnalyticsRun.kind == KIND, AnalyticsRun.queued_at >= midnight)).all()
    if any(r.params.get("trigger") == "nightly" for r in runs):
        return None
    return queue_run(runtime, {}, trigger="nightly")


def _set_progress(runtime: Runtime, run_id: int, **values: Any) -> dict[str, Any]:
    with runtime.uow() as uow:
        run = uow.session.get_one(AnalyticsRun, run_id)
        for name, value in values.items():
            setattr(run, name, value)
        view = run_view(run)
        uow.commit()
    return view


def _units(column: Any, dialect: str) -> Any:
    """A Numeric(20, 4) column in units of 10^-SCALE as an integer, computed by the database (SQLite keeps such
    numbers as floating point: rounded, as SQLAlchemy rounds them to the scale when it reads them)."""
    scaled = column * 10**SCALE
    return sql_cast(func.round(scaled) if dialect == "sqlite" else scaled, BigInteger)


def _epoch_day(column: Any, dialect: str) -> Any:
    """A date column as days since 1970-01-01, computed by the database."""
    if dialect == "sqlite":  # dates are 'YYYY-MM-DD' text; julianday() of 1970-01-01 is 2440587.5
        return sql_cast(func.julianday(column) - 2440587.5, Integer)
    return type_coerce(column - sql_cast(literal(EPOCH.isoformat()), Date), Integer)


def load_purchases(runtime: Runtime, run_id: int, progress: Progress | None) -> dict[str, Columns]:
    """Every purchase as columns per currency (amounts in units of 10^-SCALE), read in one pass by id in batches;
    the run's done/total are committed after each batch so the API can show them. AnalyticsError for an amount
    that does not fit."""
    with runtime.read_uow() as uow:
        total = uow.session.scalar(select(func.count()).select_from(Purchase)) or 0
    view = _set_progress(runtime, run_id, total=total, done=0)
    if progress:
        progress(view)
    dialect = runtime.engine.dialect
    # The database converts each row to integers and the driver's cursor streams plain tuples (on PostgreSQL a
    # server-side cursor), so a batch is split into columns without a Python step per row. No parameters: the
    # statement is compiled once, as text.
    query = str(select(Purchase.customer_id, _units(Purchase.amount, dialect.name), Purchase.currency,
                       _epoch_day(Purchase.purchased_on, dialect.name), _units(Purchase.margin, dialect.name))
                .order_by(Purchase.id).compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    lists: dict[str, tuple[list[int], list[int], list[int], list[int | None]]] = {}
    done = 0
    data_error: type[Exception] = getattr(dialect.dbapi, "DataError", Exception)
    with runtime.read_uow() as uow:
        driver = uow.session.connection().connection
        cursor = driver.cursor(name="portrait_purchases") if dialect.name == "postgresql" else driver.cursor()
        try:
            cursor.execute(query)
            while rows := cursor.fetchmany(BATCH):
                customers, amounts, currencies, days, margins = zip(*rows, strict=True)
                if len(set(currencies)) == 1:
                    ids, units, epoch_days, margin_units = lists.setdefault(currencies[0], ([], [], [], []))
                    ids.extend(customers)
                    units.extend(amounts)
                    epoch_days.extend(days)
                    margin_units.extend(margins)
                else:
                    for customer, amount, currency, day, margin in rows:
                        ids, units, epoch_days, margin_units = lists.setdefault(currency, ([], [], [], []))
                        ids.append(customer)
                        units.append(amount)
                        epoch_days.append(day)
                        margin_units.append(margin)
                done += len(rows)
                view = _set_progress(runtime, run_id, done=done)
                if progress:
                    progress(view)
        except data_error:  # PostgreSQL: an amount times 10^SCALE beyond a 64-bit integer
            raise AnalyticsError("amounts too large", {"amount": ["must fit in 64-bit minor units"]}) from None
        finally:
            cursor.close()
    return {c: to_columns(*parts, scale=SCALE) for c, parts in lists.items()}


def run_portrait(runtime: Runtime, run_id: int, progress: Progress | None = None) -> dict[str, Any]:
    """Run one queued run (see the module doc) and return its view: done, or failed with its error."""
    with runtime.uow() as uow:
        run = get_or_404(uow.session, AnalyticsRun, run_id, "Analytics run")
        params = dict(run.params)
        # Claimed only if still queued: a run another process (the scheduler, a CLI) took is not run twice.
        claimed: Any = uow.session.execute(update(AnalyticsRun).where(
            AnalyticsRun.id == run_id, AnalyticsRun.status == RunStatus.QUEUED).values(
            status=RunStatus.RUNNING, started_at=runtime.clock(), error=None))
        uow.commit()
    if not claimed.rowcount:
        return get_run(runtime, run_id)
    try:
        settings = run_settings(params)
        try:
            purchases = load_purchases(runtime, run_id, progress)
            report = analyze_columns(purchases, settings.as_of, settings.config, rates=settings.rates,
                                     base=settings.base)
        except AnalyticsError as exc:
            raise InvalidInputError(exc.message, exc.errors) from None
        with runtime.uow() as uow:
            now = runtime.clock()
            run = uow.session.get_one(AnalyticsRun, run_id)
            store_segments(uow.session, report, settings, now)
            run.result, run.status, run.finished_at = report_json(report.report(), now), RunStatus.DONE, now
            view = run_view(run)
            uow.commit()
    except Exception as exc:
        log.exception("analytics run %s failed", run_id)
        view = _set_progress(runtime, run_id, status=RunStatus.FAILED, finished_at=runtime.clock(),
                             error=_failure(exc))
    if progress:
        progress(view)
    return view


def _failure(exc: Exception) -> str:
    if isinstance(exc, ServiceError):
        details = "; ".join(f"{k}: {', '.join(v)}" for k, v in (exc.errors or {}).items())
        return exc.detail + (f" ({details})" if details else "")
    return error_text(exc)


def store_segments(session: Session, report: ColumnarReport, settings: RunSettings, now: datetime) -> int:
    """Write every analysed customer's segment, RFM scores and ABC/XYZ classes, keeping the previous segment
    (through the hysteresis) and when it changed; customers no longer analysed lose their classes. Returns how
    many customers were written. Does not commit."""
    stored: dict[int, str | None] = {customer: segment for customer, segment in session.execute(
        select(CustomerSegment.customer_id, CustomerSegment.segment))}
    inserts: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    kept: list[dict[str, Any]] = []
    seen: set[int] = set()
    names = [x.value for x in SEGMENTS]
    for analysis in report.results.values():
        if isinstance(analysis, NotEnoughData):
            continue
        scores = analysis.scores()
        texts = (scores[:, 0] * 100 + scores[:, 1] * 10 + scores[:, 2]).astype(str).tolist()
        abc = [None if c < 0 else "ABC"[c] for c in analysis.abc.tolist()]
        xyz = [None if c < 0 else "XYZ"[c] for c in analysis.xyz.tolist()]
        for i, (key, code) in enumerate(zip(analysis.keys.tolist(), analysis.segment.tolist(), strict=True)):
            if key in seen:  # a customer buying in two currencies keeps the class of the first one
                continue
            seen.add(key)
            segment = names[code]
            values = {"customer_id": key, "segment": segment, "scores": texts[i], "abc": abc[i], "xyz": xyz[i],
                      "updated_at": now}
            if key not in stored:
                inserts.append({**values, "previous_segment": None, "changed_at": now})
                continue
            previous = stored[key]
            if previous and previous != segment:  # only here does the hysteresis need the customer's scores
                segment = next_segment(Segment(previous), SEGMENTS[code], analysis.score(i),
                                       settings.hysteresis).value
                values["segment"] = segment
            if segment != previous:
                changed.append({**values, "previous_segment": previous, "changed_at": now})
            else:
                kept.append(values)
    for key, old in stored.items():
        if key not in seen and old is not None:
            changed.append({"customer_id": key, "segment": None, "scores": None, "abc": None, "xyz": None,
                            "previous_segment": old, "changed_at": now, "updated_at": now})
    if inserts:
        session.execute(insert(CustomerSegment), inserts)
    # ORM bulk UPDATE by primary key: one executemany per set of columns.
    for rows in (changed, kept):
        if rows:
            session.execute(update(CustomerSegment), rows)
    return len(seen)
