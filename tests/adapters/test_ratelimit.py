"""The rolling-window limiter: fake clock for the arithmetic, real threads for the locking."""

from __future__ import annotations

import threading
import time

import pytest

from adapters.ratelimit import RateLimiter, RateLimitTimeoutError, forget_limiter, limiter_for


class FakeClock:
    """A monotonic clock that only moves when someone sleeps on it."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def fake_limiter(buckets: dict[str, tuple[int, float]]) -> tuple[RateLimiter, FakeClock]:
    clock = FakeClock()
    return RateLimiter(buckets, clock=clock, sleep=clock.sleep), clock


def test_given_free_slots_when_acquire_then_no_wait() -> None:
    limiter, clock = fake_limiter({"default": (3, 10.0)})
    for _ in range(3):
        assert limiter.acquire("default") == 0.0
    assert clock.sleeps == []


def test_given_full_window_when_acquire_then_waits_until_oldest_call_leaves() -> None:
    limiter, clock = fake_limiter({"default": (2, 10.0)})
    limiter.acquire()
    clock.now += 4.0
    limiter.acquire()
    waited = limiter.acquire()
    assert waited == pytest.approx(6.0)  # the first call (t=0) leaves the window at t=10
    assert clock.sleeps == [pytest.approx(6.0)]


def test_given_rolling_window_when_calls_spread_then_only_window_counts() -> None:
    limiter, clock = fake_limiter({"default": (3, 1.0)})
    for _ in range(30):
        limiter.acquire()
        clock.now += 0.34  # just over 3 calls per second: never has to wait
    assert clock.sleeps == []


def test_given_two_buckets_when_one_is_full_then_other_is_free() -> None:
    limiter, clock = fake_limiter({"default": (1, 10.0), "search": (1, 1.0)})
    limiter.acquire("default")
    assert limiter.try_acquire("default") == pytest.approx(10.0)
    assert limiter.try_acquire("search") == 0.0
    assert clock.sleeps == []


def test_given_unknown_bucket_when_acquire_then_key_error() -> None:
    limiter, _ = fake_limiter({"default": (1, 1.0)})
    with pytest.raises(KeyError):
        limiter.acquire("search")


def test_given_timeout_shorter_than_wait_when_acquire_then_raises_without_sleeping() -> None:
    limiter, clock = fake_limiter({"default": (1, 10.0)})
    limiter.acquire()
    with pytest.raises(RateLimitTimeoutError):
        limiter.acquire(timeout=5.0)
    assert clock.sleeps == []


@pytest.mark.parametrize("spec", [{}, {"default": (0, 1.0)}, {"default": (5, 0.0)}])
def test_given_bad_spec_when_building_then_value_error(spec: dict[str, tuple[int, float]]) -> None:
    with pytest.raises(ValueError):
        RateLimiter(spec)


def test_given_threads_when_bursting_then_no_window_holds_more_than_the_limit() -> None:
    limit, window = 5, 0.25
    limiter = RateLimiter({"default": (limit, window)})
    stamps: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(5):
            limiter.acquire()
            with lock:
                stamps.append(time.monotonic())

    threads = [threading.Thread(target=worker) for _ in range(3)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=5)
    assert len(stamps) == 15
    assert time.monotonic() - started >= 2 * window * 0.95  # 15 calls need 3 windows
    stamps.sort()
    for i in range(len(stamps) - limit):
        # Slack for the time between taking a slot and recording it.
        assert stamps[i + limit] - stamps[i] >= window - 0.02


def test_given_same_key_when_limiter_for_then_same_instance() -> None:
    buckets = {"default": (90, 10.0), "search": (4, 1.0)}
    try:
        first = limiter_for("conn-a", buckets)
        assert limiter_for("conn-a", dict(buckets)) is first
        assert limiter_for("conn-b", buckets) is not first
    finally:
        forget_limiter("conn-a")
        forget_limiter("conn-b")


def test_given_changed_buckets_when_limiter_for_then_new_limits_apply() -> None:
    try:
        first = limiter_for("conn-c", {"default": (90, 10.0)})
        second = limiter_for("conn-c", {"default": (10, 10.0)})
        assert second is not first
        assert second.buckets == {"default": (10, 10.0)}
    finally:
        forget_limiter("conn-c")


def test_given_concurrent_callers_when_limiter_for_then_one_instance() -> None:
    seen: list[RateLimiter] = []
    barrier = threading.Barrier(8)

    def worker() -> None:
        barrier.wait()
        seen.append(limiter_for("conn-race", {"default": (1, 1.0)}))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=5)
        assert len(seen) == 8
        assert len({id(x) for x in seen}) == 1
    finally:
        forget_limiter("conn-race")
