"""CRMError: one error class carrying status, vendor message, request id, body and Retry-After."""

from __future__ import annotations

import httpx
import pytest

from adapters.errors import (
    CRMAuthError,
    CRMError,
    CRMNotFound,
    CRMRateLimited,
    CRMRejected,
    CRMUnavailable,
)
from adapters.http import classify_response

SEARCH = "POST /crm/v3/objects/deals/search -> 429: You have reached your secondly limit."


def answered(status: int, body: dict[str, str], headers: dict[str, str] | None = None) -> httpx.Response:
    request = httpx.Request("POST", "https://api.hubapi.com/crm/v3/objects/deals/search")
    return httpx.Response(status, json=body, headers=headers, request=request)


def test_given_a_request_id_when_shown_then_it_leads_the_text_so_support_can_be_quoted() -> None:
    error = CRMRateLimited(SEARCH, status=429, request_id="7f3a9c", retry_after=1.0)

    assert str(error) == f"[req 7f3a9c] {SEARCH}"
    assert error.message == SEARCH  # the text without the id, as the vendor's call was described


def test_given_no_request_id_when_shown_then_the_message_alone() -> None:
    assert str(CRMUnavailable("GET /x: timeout (ReadTimeout)")) == "GET /x: timeout (ReadTimeout)"


@pytest.mark.parametrize("error_type", [CRMAuthError, CRMNotFound, CRMRejected, CRMError])
def test_given_a_permanent_error_then_retry_after_is_declared_none_and_it_is_not_retryable(
        error_type: type[CRMError]) -> None:
    error = error_type("GET /x -> 400", status=400)

    assert error.retry_after is None and not error.retryable


def test_given_a_transient_error_then_it_keeps_the_retry_after_it_was_given() -> None:
    error = CRMUnavailable("GET /x -> 503", status=503, retry_after=2.5)

    assert error.retry_after == 2.5 and error.retryable


def test_given_a_vendor_429_when_classified_then_every_detail_is_kept_and_shown() -> None:
    response = answered(429, {"message": "You have reached your secondly limit.", "correlationId": "7f3a9c"},
                        {"Retry-After": "3"})

    error = classify_response(response)

    assert isinstance(error, CRMRateLimited)
    assert (error.status, error.vendor_message, error.request_id, error.retry_after) == (
        429, "You have reached your secondly limit.", "7f3a9c", 3.0)
    assert str(error) == f"[req 7f3a9c] {SEARCH}"
    assert error.body and "secondly" in error.body
