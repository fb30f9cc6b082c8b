"""Limiters kept in a LimitStore (shared by every process using it) decide exactly like the in-process ones:
the same calls at the same times get the same waits. Fake clocks here; real stores in
tests/integration/test_limit_stores.py, real processes in tests/e2e/test_shared_limits.py."""

from __future__ import annotations

import random
from typing import Any

import pytest

from adapters.leaky_bucket import CLIENT_HEADROOM, LeakyBucket, stored_leaky_bucket
from adapters.ratelimit import (
    MemoryStore,
    RateLimiter,
    RateLimitTimeoutError,
    StoredLimiter,
    is_lifted,
    window_step,
)
from adapters.registry import kind_of


class FakeClock:
    """A clock that only moves when told to or when someone sleeps on it."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_given_the_same_calls_then_a_stored_window_waits_exactly_like_the_rate_limiter() -> None:
    clock, rng = FakeClock(), random.Random(7)
    local = RateLimiter({"default": (5, 1.0), "search": (2, 0.5)}, clock=clock, sleep=clock.sleep)
    stored = StoredLimiter(MemoryStore(clock), "k", {"default": (window_step(5, 1.0), 1.0),
                                                     "search": (window_step(2, 0.5), 0.5)})
    for _ in range(500):
        bucket = rng.choice(["default", "search"])
        assert stored.try_acquire(bucket) == pytest.approx(local.try_acquire(bucket))
        clock.now += rng.choice([0.0, 0.01, 0.1, 0.3])


def test_given_the_same_calls_then_a_stored_leaky_bucket_waits_exactly_like_the_local_one() -> None:
    clock, rng = FakeClock(), random.Random(11)
    local = LeakyBucket.for_plan("standard", headroom=CLIENT_HEADROOM, clock=clock, sleep=clock.sleep)
    stored = stored_leaky_bucket(MemoryStore(clock), "portal")
    for _ in range(500):
        assert stored.try_acquire("any-method") == pytest.approx(local.try_acquire())
        clock.now += rng.choice([0.0, 0.0, 0.05, 0.4, 1.0])


def test_given_two_limiters_on_one_store_then_they_share_one_budget() -> None:
    clock = FakeClock()
    store = MemoryStore(clock)
    first, second = (stored_leaky_bucket(store, "connection:1") for _ in range(2))
    taken = [first.try_acquire() == 0.0 for _ in range(30)] + [second.try_acquire() == 0.0 for _ in range(30)]
    assert sum(taken) == 50 - CLIENT_HEADROOM  # 2/s drain, capacity 50 minus our headroom, for both together
    assert second.try_acquire() == pytest.approx(0.5)  # one call drains in half a second
    other = stored_leaky_bucket(store, "connection:2")
    assert other.try_acquire() == 0.0  # another portal has its own bucket


def test_given_a_full_window_then_acquire_sleeps_until_a_slot_frees_or_times_out() -> None:
    clock = FakeClock()
    limiter = StoredLimiter(MemoryStore(clock), "k", {"default": (window_step(2, 10.0), 10.0)},
                            clock=clock, sleep=clock.sleep)
    limiter.acquire()
    clock.now += 4.0
    limiter.acquire()
    with pytest.raises(RateLimitTimeoutError):
        limiter.acquire(timeout=1.0)
    assert limiter.acquire() == pytest.approx(6.0)
    with pytest.raises(KeyError):
        limiter.try_acquire("search")


def test_given_an_expired_state_then_the_store_starts_the_bucket_afresh() -> None:
    clock = FakeClock()
    store = MemoryStore(clock)
    limiter = StoredLimiter(store, "k", {"default": (window_step(1, 1.0), 1.0)})
    assert limiter.try_acquire() == 0.0
    assert limiter.try_acquire() > 0
    clock.now += 1.01
    assert limiter.try_acquire() == 0.0


def test_given_a_store_then_each_registry_entry_builds_a_limiter_in_it_with_its_overrides() -> None:
    clock = FakeClock()
    store = MemoryStore(clock)
    for name in ("hubspot", "pipedrive", "amocrm", "bitrix24"):
        assert isinstance(kind_of(name).limiter(f"test-stored:{name}", {}, store), StoredLimiter)
    tuned = kind_of("pipedrive").limiter("test-stored:tuned", {"default": (2, 1.0)}, store)
    assert [tuned.try_acquire() == 0.0 for _ in range(3)] == [True, True, False]
    # Without a store: the process-wide limiters, as before.
    assert kind_of("hubspot").limiter("test-stored:local", {}) is kind_of("hubspot").limiter("test-stored:local", {})


class CountingStore(MemoryStore):
    """A MemoryStore that counts what it is asked."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(clock)
        self.updates = 0

    def update(self, key: str, step: Any, ttl_seconds: float) -> float:
        self.updates += 1
        return super().update(key, step, ttl_seconds)


def test_given_a_lifted_bucket_then_its_calls_go_at_once_without_asking_the_store() -> None:
    clock = FakeClock()
    store = CountingStore(clock)
    limiter = kind_of("hubspot").limiter("connection:1", {"default": (10**9, 1.0)}, store)
    assert [limiter.acquire("default") for _ in range(1000)] == [0.0] * 1000
    assert store.updates == 0
    taken = [limiter.try_acquire("search") == 0.0 for _ in range(10)]  # the search bucket keeps its default limit
    assert store.updates == 10 and sum(taken) == 5
    with pytest.raises(KeyError):
        limiter.try_acquire("burst")


@pytest.mark.parametrize(("limit", "window", "lifted"), [
    (10**9, 1.0, True), (100_000, 0.1, True), (100_000, 10.0, True), (1_000_000, 1.0, True),
    (9_999, 1.0, False), (100_000, 11.0, False), (190, 10.0, False)])
def test_a_bucket_is_lifted_from_ten_thousand_calls_a_second(limit: int, window: float, lifted: bool) -> None:
    assert is_lifted(limit, window) is lifted


def test_given_every_bucket_lifted_then_the_stored_limiter_never_asks_the_store() -> None:
    clock = FakeClock()
    store = CountingStore(clock)
    limiter = kind_of("hubspot").limiter("connection:1", {"default": (10**6, 1.0), "search": (10**6, 1.0)}, store)
    assert all(limiter.try_acquire(bucket) == 0.0 for bucket in ("default", "search") * 500)
    assert store.updates == 0
