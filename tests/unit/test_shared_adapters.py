"""The worker's adapters kept for reuse (service/crm.py SharedAdapters): one per connection and configuration
version, replaced when the version changes or the adapter grows old, and closed once no thread uses it."""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import pytest

from service.crm import SharedAdapters

CREATED = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Row:
    """What SharedAdapters reads of a connection."""

    id: int
    config_version: int = 1
    created_at: datetime = CREATED


class Adapter:
    """An adapter that knows what it was built for and whether it was closed."""

    def __init__(self, connection: Row) -> None:
        self.connection, self.closed = connection, 0

    def close(self) -> None:
        self.closed += 1


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def shared(clock: Clock | None = None, max_age: float = 300.0) -> tuple[SharedAdapters, list[Adapter]]:
    built: list[Adapter] = []

    def build(connection: Any) -> Any:
        built.append(Adapter(connection))
        return built[-1]

    return SharedAdapters(build, max_age, clock or Clock()), built


def test_given_one_connection_then_one_adapter_serves_every_use() -> None:
    adapters, built = shared()
    for _ in range(5):
        with adapters.using(Row(1)) as adapter:
            assert adapter is built[0]
    assert len(built) == 1 and built[0].closed == 0


def test_given_two_connections_then_each_has_its_own_adapter() -> None:
    adapters, built = shared()
    with adapters.using(Row(1)) as first, adapters.using(Row(2)) as second:
        assert first is not second
    assert [a.connection.id for a in built] == [1, 2]


@pytest.mark.parametrize("change", [{"config_version": 2}, {"created_at": datetime(2026, 2, 1, tzinfo=UTC)}])
def test_given_the_connection_edited_or_replaced_then_a_new_adapter_is_built_and_the_old_closed(
        change: dict[str, Any]) -> None:
    adapters, built = shared()
    with adapters.using(Row(1)):
        pass
    with adapters.using(replace(Row(1), **change)) as adapter:
        assert adapter is built[1] and adapter.connection == replace(Row(1), **change)
    assert (built[0].closed, built[1].closed) == (1, 0)


def test_given_an_old_adapter_then_it_is_built_again() -> None:
    clock = Clock()
    adapters, built = shared(clock, max_age=60)
    with adapters.using(Row(1)):
        pass
    clock.now += 59
    with adapters.using(Row(1)):
        pass
    clock.now += 2
    with adapters.using(Row(1)) as adapter:
        assert adapter is built[1]
    assert built[0].closed == 1


def test_given_an_adapter_in_use_when_replaced_then_it_closes_when_its_last_user_is_done() -> None:
    adapters, built = shared()
    with adapters.using(Row(1)) as old:
        with adapters.using(Row(1, config_version=2)):
            assert old.closed == 0  # still in use by the outer block
        adapters.close()
        assert old.closed == 0
    assert old.closed == 1 and built[1].closed == 1


def test_given_a_failing_build_then_the_error_propagates_and_the_next_use_builds_again() -> None:
    calls: list[int] = []

    def build(connection: Any) -> Any:
        calls.append(connection.config_version)
        if connection.config_version == 2:
            raise ValueError("bad settings")
        return Adapter(connection)

    adapters = SharedAdapters(build)
    with adapters.using(Row(1)) as first:
        pass
    with pytest.raises(ValueError, match="bad settings"), adapters.using(Row(1, config_version=2)):
        pass
    assert first.closed == 1  # retired for the new version, even though that one failed to build
    with adapters.using(Row(1, config_version=3)) as third:
        assert third.connection.config_version == 3
    assert calls == [1, 2, 3]


def test_given_threads_sharing_it_then_each_use_gets_an_open_adapter() -> None:
    adapters, built = shared()
    errors: list[str] = []

    def use(thread: int) -> None:
        for i in range(200):
            with adapters.using(Row(1, config_version=1 + (i + thread) // 50)) as adapter:
                if adapter.closed:  # type: ignore[attr-defined]
                    errors.append("closed while in use")

    threads = [threading.Thread(target=use, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    adapters.close()
    assert errors == []
    assert all(a.closed == 1 for a in built)
