"""/v1/keys over HTTP on both backends: an admin lists, creates and revokes keys; a new key works at once, a
revoked or expired one is refused at once (API and browser session); a key's last use is written at most once
a minute (UPDATEs counted), and a failed write never fails the request."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.exc import OperationalError

from service.db import utcnow
from service.runtime import Runtime, build_runtime
from service.services.keys import bootstrap_admin_key, create_key, list_keys, note_key_use, role_for_key
from service.services.web_sessions import signed_in_user
from tests.api.conftest import assert_problem, error_paths
from tests.fakes import FakeClock


@pytest.fixture
def clock(runtime: Runtime) -> FakeClock:
    """The runtime's clock, moved only by the test (starting now, so stored creation times are in its past)."""
    fake = FakeClock(utcnow())
    runtime.clock = fake
    return fake


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _prefix(key: str) -> str:
    return key.split("_")[1]


def _shown(runtime: Runtime, prefix: str) -> dict[str, Any]:
    return next(k for k in list_keys(runtime) if k["prefix"] == prefix)


@contextmanager
def updates(runtime: Runtime) -> Iterator[list[str]]:
    """The UPDATE statements sent to the database inside the block."""
    seen: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE"):
            seen.append(statement)

    event.listen(runtime.engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(runtime.engine, "before_cursor_execute", count)


def test_given_keys_when_an_admin_lists_them_then_a_page_with_state_and_times_and_no_secret(
        client: Any, runtime: Runtime, admin_headers: dict[str, str], clock: FakeClock) -> None:
    robot = create_key(runtime, "manager", "Reporting robot", expires_at=clock() + timedelta(days=3))
    stored = list_keys(runtime)
    first = client.get("/v1/keys?page=1&page_size=1", headers=admin_headers)
    assert first.status_code == 200, first.get_json()
    body = first.get_json()
    assert (body["total"], body["page"], body["page_size"]) == (len(stored), 1, 1)
    second = client.get("/v1/keys?page=2&page_size=1", headers=admin_headers).get_json()
    item = second["items"][0]
    assert item["prefix"] == _prefix(robot) == stored[1]["prefix"]
    assert item["name"] == "Reporting robot"
    assert (item["role"], item["state"], item["revoked_at"], item["last_used_at"]) == ("manager", "active", None, None)
    assert item["expires_at"].startswith((clock() + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M"))
    assert set(item) == {"prefix", "name", "role", "state", "created_at", "last_used_at", "expires_at", "revoked_at"}
    assert robot.split("_", 2)[2] not in first.get_data(as_text=True) + str(second)


def test_given_an_admin_when_creating_a_key_then_it_is_shown_once_with_a_warning_and_works_at_once(
        client: Any, runtime: Runtime, admin_headers: dict[str, str]) -> None:
    answer = client.post("/v1/keys", json={"name": "Ops robot", "role": "admin"}, headers=admin_headers)
    assert answer.status_code == 201, answer.get_json()
    created = answer.get_json()
    assert created["key"].startswith(f"qk_{created['prefix']}_")
    assert (created["state"], created["expires_at"], created["role"]) == ("active", None, "admin")
    assert any("only time" in warning for warning in created["warnings"])
    assert client.get("/v1/keys", headers=_bearer(created["key"])).status_code == 200
    listing = client.get("/v1/keys?page_size=500", headers=admin_headers).get_data(as_text=True)
    assert created["prefix"] in listing
    assert created["key"] not in listing


def test_given_expires_in_days_when_creating_then_it_expires_that_many_days_from_the_clock(
        client: Any, runtime: Runtime, admin_headers: dict[str, str], clock: FakeClock) -> None:
    answer = client.post("/v1/keys", json={"name": "Temp", "role": "manager", "expires_in_days": 7},
                         headers=admin_headers)
    assert answer.status_code == 201, answer.get_json()
    stored = _shown(runtime, answer.get_json()["prefix"])
    assert stored["expires_at"] == clock() + timedelta(days=7)


def test_given_a_key_when_revoked_over_the_api_then_it_is_refused_at_once_and_a_second_revoke_is_404(
        client: Any, runtime: Runtime, admin_headers: dict[str, str]) -> None:
    victim = create_key(runtime, "manager", "victim")
    assert client.get("/v1/fields", headers=_bearer(victim)).status_code == 200
    answer = client.delete(f"/v1/keys/{_prefix(victim)}", headers=admin_headers)
    assert answer.status_code == 204
    assert_problem(client.get("/v1/fields", headers=_bearer(victim)), 401)
    assert _shown(runtime, _prefix(victim))["state"] == "revoked"
    assert_problem(client.delete(f"/v1/keys/{_prefix(victim)}", headers=admin_headers), 404,
                   detail_contains="no live key")
    assert_problem(client.delete("/v1/keys/deadbeef", headers=admin_headers), 404)
    assert_problem(client.delete(f"/v1/keys/{_prefix(victim)}0", headers=admin_headers), 404)  # not a prefix


def test_given_an_admin_revoking_their_own_key_then_it_is_allowed_and_ends_their_access(
        client: Any, runtime: Runtime) -> None:
    own = create_key(runtime, "admin", "me")
    assert client.delete(f"/v1/keys/{_prefix(own)}", headers=_bearer(own)).status_code == 204
    assert_problem(client.get("/v1/keys", headers=_bearer(own)), 401)


def test_given_a_key_past_its_expiry_then_the_api_and_its_browser_session_refuse_it_at_once(
        client: Any, runtime: Runtime, admin_headers: dict[str, str], clock: FakeClock) -> None:
    key = create_key(runtime, "manager", "short-lived", expires_at=clock() + timedelta(hours=1))
    assert client.get("/v1/fields", headers=_bearer(key)).status_code == 200
    assert signed_in_user(runtime, _prefix(key)) is not None
    clock.advance(3600)
    assert_problem(client.get("/v1/fields", headers=_bearer(key)), 401, detail_contains="expired")
    assert signed_in_user(runtime, _prefix(key)) is None
    assert _shown(runtime, _prefix(key))["state"] == "expired"
    # Other keys are unaffected.
    assert client.get("/v1/fields", headers=admin_headers).status_code == 200


def test_given_100_authenticated_requests_within_a_minute_then_last_use_is_written_once(
        client: Any, runtime: Runtime, clock: FakeClock) -> None:
    key = create_key(runtime, "admin", "busy")
    assert _shown(runtime, _prefix(key))["last_used_at"] is None
    with updates(runtime) as written:
        for _ in range(100):
            assert client.get("/v1/fields", headers=_bearer(key)).status_code == 200
            clock.advance(0.5)  # 100 requests over 50 s
    assert len(written) == 1, written
    first_use = _shown(runtime, _prefix(key))["last_used_at"]
    assert first_use is not None and abs(first_use - (clock() - timedelta(seconds=50))) < timedelta(seconds=1)
    clock.advance(11)  # now more than a minute after the first write
    with updates(runtime) as written:
        assert client.get("/v1/fields", headers=_bearer(key)).status_code == 200
    assert len(written) == 1
    assert _shown(runtime, _prefix(key))["last_used_at"] == clock()


def test_given_another_process_wrote_last_use_this_minute_then_this_one_does_not_write_it_again(
        client: Any, runtime: Runtime, settings: Any, clock: FakeClock) -> None:
    key = create_key(runtime, "admin", "shared")
    assert client.get("/v1/fields", headers=_bearer(key)).status_code == 200
    written_at = _shown(runtime, _prefix(key))["last_used_at"]
    # A second process: its own, empty cache (not disposed: the engine is the test session's).
    other = build_runtime(settings, engine=runtime.engine)
    other.clock = clock
    clock.advance(30)
    with updates(runtime) as written:
        assert client.get("/v1/fields", headers=_bearer(key)).status_code == 200  # this process: cached
        note_key_use(other, _prefix(key))  # not told the stored time: only the UPDATE's WHERE stops it
    assert len(written) == 1
    assert _shown(runtime, _prefix(key))["last_used_at"] == written_at


def test_given_the_last_use_write_fails_then_the_request_still_succeeds(
        client: Any, runtime: Runtime, clock: FakeClock) -> None:
    key = create_key(runtime, "admin", "locked out of writing")

    def refuse(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE API_KEYS"):
            raise OperationalError(statement, None, Exception("database is locked"))

    event.listen(runtime.engine, "before_cursor_execute", refuse)
    try:
        answer = client.get("/v1/keys", headers=_bearer(key))
    finally:
        event.remove(runtime.engine, "before_cursor_execute", refuse)
    assert answer.status_code == 200, answer.get_json()
    assert _shown(runtime, _prefix(key))["last_used_at"] is None


def test_given_a_manager_key_then_every_keys_endpoint_is_403(
        client: Any, runtime: Runtime, manager_headers: dict[str, str], admin_headers: dict[str, str]) -> None:
    other = create_key(runtime, "manager", "other")
    assert_problem(client.get("/v1/keys", headers=manager_headers), 403, detail_contains="admin")
    assert_problem(client.post("/v1/keys", json={"name": "x", "role": "admin"}, headers=manager_headers), 403)
    assert_problem(client.delete(f"/v1/keys/{_prefix(other)}", headers=manager_headers), 403)
    assert _shown(runtime, _prefix(other))["state"] == "active"
    assert len(list_keys(runtime)) == 3
    assert_problem(client.get("/v1/keys"), 401)


@pytest.mark.parametrize(("body", "path"), [
    ({"role": "manager"}, "name"),
    ({"name": "  ", "role": "manager"}, "name"),
    ({"name": "x", "role": "owner"}, "role"),
    ({"name": "x", "role": "manager", "expires_in_days": 0}, "expires_in_days"),
    ({"name": "x", "role": "manager", "expires_in_days": "7"}, "expires_in_days"),
    ({"name": "x", "role": "manager", "expires_at": "2030-01-01T00:00:00"}, "expires_at"),
    ({"name": "x", "role": "manager", "expires_at": "2030-01-01T00:00:00Z", "expires_in_days": 3}, "expires_in_days"),
    ({"name": "x", "role": "manager", "secret": "mine"}, "secret"),
])
def test_given_bad_input_when_creating_a_key_then_422_problem_naming_the_field_and_nothing_stored(
        client: Any, runtime: Runtime, admin_headers: dict[str, str], body: dict[str, Any], path: str) -> None:
    before = len(list_keys(runtime))
    problem = assert_problem(client.post("/v1/keys", json=body, headers=admin_headers), 422)
    assert path in error_paths(problem), problem
    assert len(list_keys(runtime)) == before


def test_given_an_expiry_in_the_past_when_creating_then_422_problem(
        client: Any, runtime: Runtime, admin_headers: dict[str, str], clock: FakeClock) -> None:
    before = len(list_keys(runtime))
    past = (clock() - timedelta(minutes=1)).isoformat()
    problem = assert_problem(client.post("/v1/keys", json={"name": "x", "role": "manager", "expires_at": past},
                                         headers=admin_headers), 422, detail_contains="not in the future")
    assert "expires_at" in error_paths(problem)
    assert len(list_keys(runtime)) == before
    with pytest.raises(ValueError):
        create_key(runtime, "manager", "x", expires_at=clock())


def test_given_the_only_admin_key_expired_then_bootstrap_makes_a_new_one(runtime: Runtime, clock: FakeClock) -> None:
    create_key(runtime, "admin", "first", expires_at=clock() + timedelta(days=1))
    assert bootstrap_admin_key(runtime) is None
    clock.advance(86_400)
    fresh = bootstrap_admin_key(runtime)
    assert fresh is not None and role_for_key(runtime, fresh) == "admin"
