"""HubSpot's 10,000-result search window: when sync keeps paging and when it starts a new query (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from adapters.base import DealPage, DealSnapshot
from adapters.errors import CRMError
from adapters.registry import kind_of
from service.services.sync import EPOCH, _advance, _Window

PAGING = kind_of("hubspot").paging
PAGE_SIZE = PAGING.page_size
SEARCH_RESULT_CAP = PAGING.result_cap or 0

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def deal(number: int, modified_at: datetime | None) -> DealSnapshot:
    return DealSnapshot(id=str(number), pipeline_id="default", stage_id="appointmentscheduled", owner_id=None,
                        amount=None, name=f"D{number}", modified_at=modified_at, properties={})


def full_page(first: int, next_after: str | None) -> DealPage:
    """PAGE_SIZE deals modified one second apart, oldest first (as the search sorts them)."""
    return DealPage(deals=tuple(deal(first + i, T0 + timedelta(seconds=first + i)) for i in range(PAGE_SIZE)),
                    next_after=next_after)


def test_given_room_under_the_cap_when_a_page_is_read_then_the_same_query_goes_on_at_the_next_cursor() -> None:
    window = _Window(since=EPOCH)
    _advance(window, full_page(0, next_after=str(PAGE_SIZE)), PAGING)
    assert (window.since, window.after, window.seen) == (EPOCH, str(PAGE_SIZE), PAGE_SIZE)


def test_given_the_last_page_that_fits_under_the_cap_then_the_query_still_pages_on() -> None:
    # seen + PAGE_SIZE == cap: the next request starts at offset cap - PAGE_SIZE, which HubSpot still serves.
    window = _Window(since=EPOCH, after="x", seen=SEARCH_RESULT_CAP - 2 * PAGE_SIZE)
    _advance(window, full_page(0, next_after=str(SEARCH_RESULT_CAP - PAGE_SIZE)), PAGING)
    assert window.since == EPOCH
    assert window.after == str(SEARCH_RESULT_CAP - PAGE_SIZE)
    assert window.seen == SEARCH_RESULT_CAP - PAGE_SIZE


def test_given_the_next_page_would_pass_the_cap_then_a_new_query_starts_at_the_newest_time_seen() -> None:
    window = _Window(since=EPOCH, after="x", seen=SEARCH_RESULT_CAP - PAGE_SIZE)
    page = full_page(0, next_after=str(SEARCH_RESULT_CAP))
    _advance(window, page, PAGING)
    newest = T0 + timedelta(seconds=PAGE_SIZE - 1)
    assert (window.since, window.after, window.seen) == (newest, None, 0)


def test_the_new_query_starts_at_the_newest_time_on_the_page_wherever_it_stands() -> None:
    latest = T0 + timedelta(days=1)
    deals = (deal(1, T0), deal(2, latest), deal(3, None), deal(4, T0 + timedelta(hours=1)))
    window = _Window(since=EPOCH, after="x", seen=SEARCH_RESULT_CAP)
    _advance(window, DealPage(deals=deals, next_after="y"), PAGING)
    assert (window.since, window.after, window.seen) == (latest, None, 0)


def test_windows_follow_each_other_page_after_page_without_passing_the_cap() -> None:
    window, offsets, restarts = _Window(since=EPOCH), [], 0
    for number in range(3 * SEARCH_RESULT_CAP // PAGE_SIZE):
        offsets.append(int(window.after or 0))
        before = window.since
        _advance(window, full_page(number * PAGE_SIZE, next_after=str(int(window.after or 0) + PAGE_SIZE)),
                 PAGING)
        restarts += window.since != before
    assert max(offsets) == SEARCH_RESULT_CAP - PAGE_SIZE  # the deepest offset HubSpot still serves
    assert restarts == 3


def test_given_a_cursor_paged_crm_then_the_query_never_restarts_past_the_cap() -> None:
    # Only HubSpot's search is capped; amoCRM and Bitrix24 keep whole-second times, and restarting at a
    # second that more than the cap share would read the same deals forever.
    window = _Window(since=EPOCH, after="x", seen=SEARCH_RESULT_CAP)
    _advance(window, full_page(0, next_after="next"), kind_of("amocrm").paging)
    assert (window.since, window.after, window.seen) == (EPOCH, "next", SEARCH_RESULT_CAP + PAGE_SIZE)


def test_given_a_full_window_sharing_one_instant_then_the_sync_stops_with_an_error_instead_of_looping() -> None:
    window = _Window(since=T0, after="x", seen=SEARCH_RESULT_CAP - PAGE_SIZE)
    page = DealPage(deals=tuple(deal(i, T0) for i in range(PAGE_SIZE)), next_after="y")
    with pytest.raises(CRMError, match="share the modification time"):
        _advance(window, page, PAGING)
