"""Bitrix24 record conversion: the fast paths (plain records, ISO times) give what the general ones give."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from adapters.base import DealSnapshot
from adapters.bitrix24_mapping import parse_bitrix_time, snapshot_of

PLAIN = {"ID": "7", "TITLE": "Acme", "CATEGORY_ID": "1", "STAGE_ID": "C1:NEW", "ASSIGNED_BY_ID": "3",
         "OPPORTUNITY": "100.00", "CURRENCY_ID": "USD", "DATE_MODIFY": "2024-04-03T10:26:32+02:00",
         "UF_CRM_INDUSTRY": None}  # fmt: skip


def test_plain_record_keeps_every_value_and_reads_the_head() -> None:
    snapshot = snapshot_of(PLAIN)
    assert snapshot == DealSnapshot(id="7", pipeline_id="1", stage_id="C1:NEW", owner_id="3", amount="100.00",
                                    name="Acme", modified_at=datetime(2024, 4, 3, 8, 26, 32, tzinfo=UTC),
                                    properties=PLAIN, currency="USD")  # fmt: skip
    assert snapshot.properties is not PLAIN  # a copy: the caller's record is not shared


def test_values_other_than_strings_are_converted_as_before() -> None:
    record = {**PLAIN, "ID": 7, "UF_CRM_TAGS": ["a", "b"], "UF_CRM_MONEY": {"VALUE": "5|USD"}, "UF_CRM_FLAG": False,
              "UF_CRM_COUNT": 12, 5: "numeric key"}  # fmt: skip
    props = snapshot_of(record).properties
    assert props["ID"] == "7" and props["UF_CRM_TAGS"] == "a,b" and props["UF_CRM_MONEY"] == "5|USD"
    assert props["UF_CRM_FLAG"] is None and props["UF_CRM_COUNT"] == "12" and props["5"] == "numeric key"
    assert props["TITLE"] == "Acme" and props["UF_CRM_INDUSTRY"] is None


def test_a_record_without_category_is_in_the_default_pipeline() -> None:
    assert snapshot_of({"ID": "1", "STAGE_ID": "NEW"}).pipeline_id == "0"


@pytest.mark.parametrize(("text", "expected"), [
    ("2024-04-03T10:26:32+02:00", datetime(2024, 4, 3, 8, 26, 32, tzinfo=UTC)),
    ("2024-04-03T10:26:32Z", datetime(2024, 4, 3, 10, 26, 32, tzinfo=UTC)),
    (" 2024-04-03T10:26:32+03:00 ", datetime(2024, 4, 3, 7, 26, 32, tzinfo=UTC)),
    ("2024-04-03T10:26:32", datetime(2024, 4, 3, 10, 26, 32, tzinfo=UTC)),
    ("2024-04-03", datetime(2024, 4, 3, tzinfo=UTC)),
    ("yesterday", None), ("", None), (None, None), (False, None),
])  # fmt: skip
def test_parse_bitrix_time(text: object, expected: datetime | None) -> None:
    parsed = parse_bitrix_time(text)
    assert parsed == expected
    assert parsed is None or parsed.tzinfo == UTC


def test_trusted_snapshot_equals_the_constructed_one_and_stays_frozen() -> None:
    fields = {"id": "1", "pipeline_id": "0", "stage_id": "NEW", "owner_id": None, "amount": "5", "name": "x",
              "modified_at": datetime(2024, 1, 1, tzinfo=UTC), "properties": {"A": "b"}}  # fmt: skip
    trusted = DealSnapshot.trusted(**fields)
    assert trusted == DealSnapshot(**fields) and trusted.stage_history == ()
    assert dataclasses.asdict(trusted) == dataclasses.asdict(DealSnapshot(**fields))
    with pytest.raises(dataclasses.FrozenInstanceError):
        trusted.stage_id = "WON"  # type: ignore[misc]
