"""Bitrix24Adapter error handling against the sandbox: limits, auth, not found, timeouts (no mocks)."""

from __future__ import annotations

import time

import pytest

from adapters.base import Credentials
from adapters.bitrix24 import Bitrix24Adapter
from adapters.errors import CRMAuthError, CRMNotFound, CRMRateLimited
from adapters.http import RetryPolicy
from adapters.leaky_bucket import LeakyBucket
from adapters.sandbox.bitrix24 import Bitrix24Sandbox
from tests.adapters.bitrix24_fixtures import AUTH_STYLES, bitrix24_fixture, make_adapter, receiver_fixture  # noqa: F401


def new_deal(sb: Bitrix24Sandbox) -> str:
    return sb.ui_create_deal({"TITLE": "Acme", "OPPORTUNITY": "1000", "ASSIGNED_BY_ID": "7"})


def test_given_unknown_deal_when_get_deal_then_not_found(bitrix24: Bitrix24Sandbox) -> None:
    with make_adapter(bitrix24) as adapter, pytest.raises(CRMNotFound) as caught:
        adapter.get_deal("99999", [])

    assert caught.value.status == 400 and caught.value.vendor_message == "Not found"


def test_given_overflowing_portal_bucket_when_calling_then_query_limit_exceeded_is_retried(
    bitrix24: Bitrix24Sandbox,
) -> None:
    deal_id = new_deal(bitrix24)
    bitrix24.bucket = LeakyBucket(4.0, 2)  # tiny portal bucket, our own limiter does not hold back

    with make_adapter(bitrix24, policy=RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.05)) as adapter:
        for _ in range(2):
            adapter.get_deal(deal_id, [])

    statuses = [c["status"] for c in bitrix24.api_calls()]
    assert 503 in statuses and statuses[-1] == 200


def test_given_matching_limiter_when_calling_then_portal_never_refuses(bitrix24: Bitrix24Sandbox) -> None:
    deal_id = new_deal(bitrix24)
    bitrix24.bucket = LeakyBucket(10.0, 4)

    # The two buckets count at send and at receipt, a moment apart: keep a margin of one call.
    with make_adapter(bitrix24, limiter=LeakyBucket(10.0, 3)) as adapter:
        for _ in range(4):
            adapter.get_deal(deal_id, [])

    assert {c["status"] for c in bitrix24.api_calls()} == {200}


def test_given_query_limit_exceeded_once_when_calling_then_retried_after_a_second(bitrix24: Bitrix24Sandbox) -> None:
    deal_id = new_deal(bitrix24)
    bitrix24.fail_next("QUERY_LIMIT_EXCEEDED", method="crm.deal.get")

    started = time.monotonic()
    with make_adapter(bitrix24) as adapter:
        deal = adapter.get_deal(deal_id, [])

    assert deal.id == deal_id
    assert time.monotonic() - started >= 0.9  # never sooner than the bucket drains
    assert [c["status"] for c in bitrix24.api_calls("crm.deal.get")] == [503, 200]


def test_given_operation_time_limit_when_calling_then_rate_limited_with_long_wait(bitrix24: Bitrix24Sandbox) -> None:
    deal_id = new_deal(bitrix24)
    bitrix24.fail_next("OPERATION_TIME_LIMIT", method="crm.deal.get")

    with make_adapter(bitrix24) as adapter, pytest.raises(CRMRateLimited) as caught:
        adapter.get_deal(deal_id, [])

    assert caught.value.status == 429 and caught.value.retry_after is not None and caught.value.retry_after >= 60
    assert len(bitrix24.api_calls("crm.deal.get")) == 1  # rescheduled by the caller, not retried here


@pytest.mark.parametrize("style", AUTH_STYLES)
def test_given_expired_token_when_calling_then_auth_error_at_once(bitrix24: Bitrix24Sandbox, style: str) -> None:
    deal_id = new_deal(bitrix24)
    bitrix24.fail_next("401", method="crm.deal.get")

    with make_adapter(bitrix24, style) as adapter, pytest.raises(CRMAuthError) as caught:
        adapter.get_deal(deal_id, [])

    assert caught.value.status == 401 and "expired" in str(caught.value)
    assert len(bitrix24.api_calls("crm.deal.get")) == 1


def test_given_wrong_webhook_code_when_calling_then_auth_error_without_the_secret(bitrix24: Bitrix24Sandbox) -> None:
    credentials = Credentials(base_url=f"{bitrix24.base_url}/rest/1/wrong-secret-code/", access_token="")

    with Bitrix24Adapter(credentials) as adapter, pytest.raises(CRMAuthError) as caught:
        adapter.list_owners()

    assert "INVALID_CREDENTIALS" in str(caught.value) and "wrong-secret-code" not in str(caught.value)


def test_given_wrong_oauth_token_when_calling_then_auth_error(bitrix24: Bitrix24Sandbox) -> None:
    with Bitrix24Adapter(Credentials(bitrix24.base_url, "nope")) as adapter, pytest.raises(CRMAuthError):
        adapter.list_owners()


def test_given_slow_answer_when_calling_then_timeout_is_retried(bitrix24: Bitrix24Sandbox) -> None:
    deal_id = new_deal(bitrix24)
    bitrix24.fail_next("timeout", method="crm.deal.get", delay=2.5)

    with make_adapter(bitrix24, timeout=1.0) as adapter:
        assert adapter.get_deal(deal_id, []).id == deal_id

    deadline = time.monotonic() + 5.0  # the timed-out request is logged when its delay ends
    while len(bitrix24.api_calls("crm.deal.get")) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(bitrix24.api_calls("crm.deal.get")) == 2
