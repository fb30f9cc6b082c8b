"""Group commit for intake: the deliveries that concurrent threads of one process store at the same moment are
written in one transaction, so they share one commit (one WAL flush) and one turn of the database's write lock
instead of each paying for its own.

A thread that finds no write under way leads: it writes every delivery waiting (its own included, at most
MAX_BATCH) in one transaction, gives each its result, and hands the lead to the first delivery that came in
meanwhile, whose thread then writes the next batch. A thread that finds a write under way waits for its
delivery's batch. Nobody returns before the transaction holding its delivery has committed (or failed), so a
delivery is acknowledged exactly as before: only once stored.

A batch of one is written as before, by `write_one`. When a batch fails as a whole (a driver error, a connection
cut), each of its deliveries is written again on its own by `write_one`, so one delivery cannot fail the others;
the writes are idempotent per delivery key, so a batch that did commit before its answer was lost only makes the
second attempt find its events stored.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from service.errors import StorageError

T = TypeVar("T")
R = TypeVar("R")

MAX_BATCH = 32  # deliveries in one transaction at most (a process has one thread per concurrent request)


@dataclass(eq=False)
class _Waiting(Generic[T]):
    """One delivery waiting for its batch: set `done` once `result` or `error` is known, or `lead` when its thread
    is to write the next batch."""

    item: T
    done: threading.Event = field(default_factory=threading.Event)
    lead: bool = False
    result: Any = None
    error: BaseException | None = None


class GroupCommit(Generic[T, R]):
    """Writes the items of concurrent callers together (see the module doc). `write_batch(items)` writes them in
    one transaction and returns their results in order (or raises: each is then written by `write_one`)."""

    def __init__(self, write_batch: Callable[[Sequence[T]], list[R]], write_one: Callable[[T], R]) -> None:
        self.write_batch, self.write_one = write_batch, write_one
        self._lock = threading.Lock()
        self._queue: list[_Waiting[T]] = []
        self._writing = False
        self._pid = os.getpid()

    def submit(self, item: T) -> R:
        """Write `item` (alone or with others waiting) and return its result once committed; raises what its
        write raised."""
        waiting = _Waiting(item)
        with self._lock:
            if self._pid != os.getpid():  # forked: the parent's waiters are not this process's
                self._queue, self._writing, self._pid = [], False, os.getpid()
            self._queue.append(waiting)
            leads = not self._writing
            self._writing = True
        if not leads:
            waiting.done.wait()
            if not waiting.lead:
                return self._outcome(waiting)
            waiting.done.clear()  # it woke to lead; its own batch sets it again
        self._lead()
        waiting.done.wait()  # set by this thread's own batch, just written
        return self._outcome(waiting)

    def _lead(self) -> None:
        """Write the waiting deliveries as one batch, then hand the lead to the next one waiting (or end it)."""
        with self._lock:
            batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
        try:
            self._write(batch)
        finally:
            for waiting in batch:  # never leave a caller waiting, whatever happened
                if not waiting.done.is_set():
                    waiting.error = waiting.error or StorageError("The delivery's batch was not written; retry later.")
                    waiting.done.set()
            with self._lock:
                if self._queue:
                    following = self._queue[0]
                    following.lead = True
                    following.done.set()
                else:
                    self._writing = False

    def _write(self, batch: list[_Waiting[T]]) -> None:
        if len(batch) > 1:
            try:
                results = self.write_batch([w.item for w in batch])
            except Exception:  # each on its own below: one delivery must not fail the others
                pass
            else:
                for waiting, result in zip(batch, results, strict=True):
                    waiting.result = result
                    waiting.done.set()
                return
        for waiting in batch:
            try:
                waiting.result = self.write_one(waiting.item)
            except BaseException as exc:  # handed to its own caller, who raises it
                waiting.error = exc
            waiting.done.set()

    @staticmethod
    def _outcome(waiting: _Waiting[T]) -> Any:
        if waiting.error is not None:
            raise waiting.error
        return waiting.result
