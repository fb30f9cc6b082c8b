"""A full rescore on PostgreSQL with the scoring in worker processes, pipelined with the database.

Scoring is pure-Python CPU work, so one process scores one record at a time however many cores there
are. Here `workers` processes score each batch (its parts in order), and while they score batch k+1 this
process writes and commits batch k: the workers, PostgreSQL and this process overlap instead of taking
turns. Values go to the workers as the JSON text PostgreSQL stores and rows come back as the JSON text
the upsert reads, so this process decodes and encodes nothing. Nothing else changes: the same
compute_row on the same values gives the same rows, each batch is still one transaction that commits
its rows with the run's progress (a run whose process died resumes after its last committed batch),
`now` is still taken before a batch is read, and write-backs are queued as score_records queues them.
SQLite keeps the in-process loop: two write transactions at once would wait on each other there.
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime
from multiprocessing import get_context
from typing import Any

from sqlalchemy import Select, Text, cast, delete, select

from service.db import utc_text
from service.models import Record, RecordScore, RescoreRun, RunStatus
from service.runtime import Runtime
from service.services.scoring import (
    PersonaSet,
    compile_set,
    compute_row,
    ids_in,
    persona_set,
    write_json_rows,
)
from service.services.write_back import queue_write_backs
from service.unit_of_work import UnitOfWork

# (record id, values as JSON text, previous best score, previous scores as JSON text)
Item = tuple[int, str | None, int | None, str | None]
Scored = tuple[list[str], list[dict[str, Any]]]  # rows as JSON objects, and what write-back reads of them
OpenRecords = Callable[[int], Select[Any]]  # rescore.open_records (passed in: rescore imports this module)

_COMPILED: dict[bytes, PersonaSet] = {}  # in a worker: the personas of the last definition it was sent


def score_part(definition: bytes, items: list[Item], now: datetime, floor: int) -> Scored:
    """Score some records in a worker process: the JSON rows write_json_rows takes, and each row's best fit."""
    personas = _COMPILED.get(definition)
    if personas is None:
        _COMPILED.clear()
        personas = _COMPILED[definition] = compile_set(*pickle.loads(definition))
    today, stamp = now.date(), utc_text(now)
    texts: list[str] = []
    best: list[dict[str, Any]] = []
    for record_id, values, previous_best, previous_scores in items:
        previous = None if previous_scores is None else {
            "best_score": previous_best, "scores": json.loads(previous_scores)}
        row = compute_row(personas, record_id, (json.loads(values) if values else None) or {}, today, now,
                          previous, floor)
        best.append({k: row[k] for k in ("record_id", "best_persona_id", "best_score", "best_grade")})
        row["computed_at"] = stamp
        texts.append(json.dumps(row))
    return texts, best


@dataclass
class _Batch:
    """A batch read in its own transaction and handed to the workers, not yet written."""

    stack: ExitStack
    uow: UnitOfWork
    now: datetime
    ids: list[int]
    parts: list[Future[Scored]]


class PooledRescore:
    """Runs one rescore's batches through `workers` processes (see the module docstring)."""

    def __init__(self, runtime: Runtime, workers: int, open_records: OpenRecords) -> None:
        self.runtime, self.workers, self.open_records = runtime, workers, open_records
        self._definition: tuple[PersonaSet, bytes] | None = None

    def run(self, run_id: int, progress: Callable[[RescoreRun], None] | None) -> RescoreRun:
        """Score every open record after the run's last committed one; returns the run, done."""
        with ExitStack() as stack:
            pool = stack.enter_context(ProcessPoolExecutor(self.workers, mp_context=get_context("spawn")))
            with self.runtime.uow() as uow:
                after = uow.session.get_one(RescoreRun, run_id).last_record_id
            pending: _Batch | None = None
            current: _Batch | None = None
            try:
                while True:
                    current = self._start(pool, after)
                    if pending is not None:
                        run = self._finish(pending, run_id)
                        pending = None
                        if progress is not None:
                            progress(run)
                    if current is None:
                        break
                    after, pending, current = current.ids[-1], current, None
            finally:
                for batch in (pending, current):
                    if batch is not None:
                        batch.stack.close()
        with self.runtime.uow() as uow:
            run = uow.session.get_one(RescoreRun, run_id)
            run.status, run.finished_at = RunStatus.DONE, self.runtime.clock()
            uow.commit()
            return run

    def _start(self, pool: ProcessPoolExecutor, after: int) -> _Batch | None:
        """Read the batch after `after` in a new transaction and send it to the workers (None: no records left)."""
        stack = ExitStack()
        try:
            uow = stack.enter_context(self.runtime.uow())
            session = uow.session
            now = self.runtime.clock()  # before reading: a newer score the worker writes meanwhile wins
            query = self.open_records(after).with_only_columns(Record.id, cast(Record.values, Text))
            rows = session.execute(query.limit(self.runtime.settings.rescore_batch_size)).all()
            if not rows:
                stack.close()
                return None
            ids = [rid for rid, _ in rows]
            personas = persona_set(session)
            parts: list[Future[Scored]] = []
            if personas.compiled:
                previous = {rid: (best, scores) for rid, best, scores in session.execute(
                    select(RecordScore.record_id, RecordScore.best_score, cast(RecordScore.scores, Text))
                    .where(ids_in(session, ids)))}
                items = [(rid, values, *previous.get(rid, (None, None))) for rid, values in rows]
                step = -(-len(items) // self.workers)
                floor = self.runtime.settings.persona_floor
                parts = [pool.submit(score_part, self._pickled(personas), items[i:i + step], now, floor)
                         for i in range(0, len(items), step)]
            return _Batch(stack, uow, now, ids, parts)
        except BaseException:
            stack.close()
            raise

    def _finish(self, batch: _Batch, run_id: int) -> RescoreRun:
        """Write a scored batch and commit it with the run's progress."""
        with batch.stack:
            session = batch.uow.session
            if batch.parts:
                texts: list[str] = []
                best: list[dict[str, Any]] = []
                for part in batch.parts:
                    part_texts, part_best = part.result()
                    texts += part_texts
                    best += part_best
                write_json_rows(session, texts)
                queue_write_backs(session, best, batch.now)
            else:  # no personas to score against: drop what scores of deleted personas remain (as score_records)
                session.execute(delete(RecordScore).where(ids_in(session, batch.ids)))
            run = session.get_one(RescoreRun, run_id)
            run.done += len(batch.ids)
            run.last_record_id = batch.ids[-1]
            batch.uow.commit()
            return run

    def _pickled(self, personas: PersonaSet) -> bytes:
        """The definition the workers compile `personas` from (pickled once per persona set)."""
        if self._definition is None or self._definition[0] is not personas:
            self._definition = personas, pickle.dumps((personas.fields, personas.specs, personas.names))
        return self._definition[1]
