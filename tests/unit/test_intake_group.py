"""GroupCommit on its own: concurrent callers' items are written together, each exactly once, nobody returns
before its item's batch was written, a failed batch is written again item by item, and one item's failure is
its own caller's only."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import pytest

from service.services.intake_group import MAX_BATCH, GroupCommit

CALLERS = 24


class Store:
    """A store whose writes take a little time, so callers pile up behind a batch; it remembers every batch and
    which items were durable when."""

    def __init__(self, fail_batches: int = 0, bad: frozenset[int] = frozenset()) -> None:
        self.batches: list[list[int]] = []
        self.written: list[int] = []
        self.fail_batches, self.bad = fail_batches, bad
        self.lock = threading.Lock()

    def write_batch(self, items: Sequence[int]) -> list[int]:
        time.sleep(0.005)
        with self.lock:
            if self.fail_batches and len(items) > 1:
                self.fail_batches -= 1
                raise OSError("the database went away mid-batch")
            if self.bad & set(items):
                raise ValueError("a bad item fails its whole batch")
            self.batches.append(list(items))
            self.written.extend(items)
        return [item * 10 for item in items]

    def write_one(self, item: int) -> int:
        if item in self.bad:
            raise ValueError(f"item {item} is bad")
        return self.write_batch([item])[0]


def run_callers(group: GroupCommit[int, int], store: Store) -> dict[int, object]:
    """CALLERS threads submitting one item each at once; what each got (its result, or the error raised)."""
    outcomes: dict[int, object] = {}
    start = threading.Barrier(CALLERS)

    def call(item: int) -> None:
        start.wait()
        try:
            result = group.submit(item)
        except Exception as exc:  # recorded for the assertions
            outcomes[item] = exc
            return
        with store.lock:
            assert item in store.written, "returned before its item was written"
        outcomes[item] = result

    threads = [threading.Thread(target=call, args=(i,)) for i in range(CALLERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not any(t.is_alive() for t in threads), "a caller was left waiting"
    return outcomes


def test_concurrent_items_are_written_together_each_once_and_each_caller_gets_its_own_result() -> None:
    store = Store()
    group = GroupCommit(store.write_batch, store.write_one)

    outcomes = run_callers(group, store)

    assert outcomes == {i: i * 10 for i in range(CALLERS)}
    assert sorted(store.written) == list(range(CALLERS))  # each exactly once
    assert len(store.batches) < CALLERS and max(map(len, store.batches)) > 1  # some were written together
    assert all(len(b) <= MAX_BATCH for b in store.batches)
    assert group.submit(99) == 990 and store.batches[-1] == [99]  # alone afterwards: a batch of one


def test_a_failed_batch_is_written_again_item_by_item_and_nothing_is_lost() -> None:
    store = Store(fail_batches=1)
    group = GroupCommit(store.write_batch, store.write_one)

    outcomes = run_callers(group, store)

    assert store.fail_batches == 0  # a batch of several did fail
    assert outcomes == {i: i * 10 for i in range(CALLERS)}
    assert sorted(store.written) == list(range(CALLERS))


def test_one_bad_item_fails_its_own_caller_only() -> None:
    store = Store(bad=frozenset({7}))
    group = GroupCommit(store.write_batch, store.write_one)

    outcomes = run_callers(group, store)

    assert isinstance(outcomes.pop(7), ValueError)
    assert outcomes == {i: i * 10 for i in range(CALLERS) if i != 7}
    assert sorted(store.written) == [i for i in range(CALLERS) if i != 7]


def test_an_error_of_a_lone_item_is_raised_to_its_caller() -> None:
    store = Store(bad=frozenset({1}))
    group = GroupCommit(store.write_batch, store.write_one)

    with pytest.raises(ValueError, match="item 1 is bad"):
        group.submit(1)
    assert group.submit(2) == 20  # the lead was handed back: the next caller is not stuck
