"""The use cases behind the fields pages, against the HubSpot sandbox on both backends: mapping one field keeps
the connection's other mappings and goes through the same guardrails as PUT /v1/connections/{id}/mappings;
a field's page lists the CRM's live properties (filtered), the shown property's options, and says when the CRM
cannot be read."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.sandbox.hubspot import HubSpotSandbox
from service.errors import InvalidInputError
from service.runtime import Runtime
from service.services.field_page import field_page, fields_overview, save_mapping
from service.services.mappings import get_mappings, replace_mappings, set_field_mapping
from tests.api.conftest import connection_body, define_field

INDUSTRIES = ["retail", "it", "other"]


def by_field(runtime: Runtime, connection_id: int) -> dict[str, tuple[str, dict[str, Any]]]:
    return {m["field"]: (m["property"], m["value_map"]) for m in get_mappings(runtime, connection_id)}


@pytest.fixture
def fields(client: Any, admin_headers: dict[str, str]) -> dict[str, dict[str, Any]]:
    """An enum field `industry` and a number field `budget`, by key."""
    return {"industry": define_field(client, admin_headers, "industry", "enum", constraints={"options": INDUSTRIES}),
            "budget": define_field(client, admin_headers, "budget", "number")}


def test_given_another_field_mapped_when_one_field_is_mapped_then_both_mappings_are_kept(
        runtime: Runtime, connection: dict[str, Any], fields: dict[str, dict[str, Any]]) -> None:
    replace_mappings(runtime, connection["id"], [{"property": "budget", "field": "budget"}])

    result = set_field_mapping(runtime, connection["id"], "industry", "industry", {"finance": "other"})

    assert result["warnings"] == []
    assert by_field(runtime, connection["id"]) == {"budget": ("budget", {}),
                                                   "industry": ("industry", {"finance": "other"})}


def test_given_a_mapped_field_when_mapped_again_then_its_mapping_is_replaced_not_doubled(
        runtime: Runtime, connection: dict[str, Any], fields: dict[str, dict[str, Any]]) -> None:
    save_mapping(runtime, fields["budget"]["id"], connection["id"], "amount", {})
    save_mapping(runtime, fields["budget"]["id"], connection["id"], "budget", {})

    assert by_field(runtime, connection["id"]) == {"budget": ("budget", {})}


def test_given_an_unknown_property_when_saving_then_the_guardrail_names_the_closest_and_nothing_changes(
        runtime: Runtime, connection: dict[str, Any], fields: dict[str, dict[str, Any]]) -> None:
    replace_mappings(runtime, connection["id"], [{"property": "budget", "field": "budget"}])
    before = by_field(runtime, connection["id"])

    with pytest.raises(InvalidInputError) as refused:
        save_mapping(runtime, fields["industry"]["id"], connection["id"], "industy", {})

    assert "industy" in refused.value.detail
    assert "Closest: industry" in refused.value.errors["property"][0]  # type: ignore[index]
    assert by_field(runtime, connection["id"]) == before


def test_given_an_option_the_property_lacks_when_saving_then_the_error_names_that_option(
        runtime: Runtime, connection: dict[str, Any], fields: dict[str, dict[str, Any]]) -> None:
    with pytest.raises(InvalidInputError) as refused:
        save_mapping(runtime, fields["industry"]["id"], connection["id"], "industry", {"Retail": "retail"})

    assert "label of option 'retail'" in refused.value.errors["value_map.Retail"][0]  # type: ignore[index]
    assert get_mappings(runtime, connection["id"]) == []


def test_given_two_mapped_fields_when_one_is_unmapped_then_the_other_stays(
        runtime: Runtime, connection: dict[str, Any], fields: dict[str, dict[str, Any]]) -> None:
    replace_mappings(runtime, connection["id"], [{"property": "budget", "field": "budget"},
                                                 {"property": "industry", "field": "industry"}])

    save_mapping(runtime, fields["industry"]["id"], connection["id"], None, {})

    assert by_field(runtime, connection["id"]) == {"budget": ("budget", {})}


def test_given_a_query_then_the_page_lists_matching_live_properties_and_the_shown_ones_options(
        runtime: Runtime, connection: dict[str, Any], fields: dict[str, dict[str, Any]],
        sandbox: HubSpotSandbox) -> None:
    everything = field_page(runtime, fields["industry"]["id"], "en")["sections"][0]
    page = field_page(runtime, fields["industry"]["id"], "en", "indus", {connection["id"]: "industry"})

    section = page["sections"][0]
    expected = [p["name"] for p in everything["properties"]
                if "indus" in p["name"].lower() or "indus" in p["label"].lower()]
    assert section["reachable"] and section["warnings"] == []
    assert [p["name"] for p in section["properties"]] == expected and "industry" in expected
    assert section["total"] == len(everything["properties"]) > len(expected)
    assert [o["value"] for o in section["shown"]["options"]] == ["retail", "manufacturing", "it", "finance", "other"]
    assert page["field"]["options"] == INDUSTRIES


def test_given_a_mapped_property_filtered_out_then_it_stays_listed(
        runtime: Runtime, connection: dict[str, Any], fields: dict[str, dict[str, Any]]) -> None:
    replace_mappings(runtime, connection["id"], [{"property": "budget", "field": "budget"}])

    section = field_page(runtime, fields["budget"]["id"], "en", "zzz-nothing")["sections"][0]

    assert [p["name"] for p in section["properties"]] == ["budget"]
    assert section["mapping"] == {"property": "budget", "value_map": {}}


def test_given_an_unreachable_crm_then_the_page_says_so_and_a_typed_property_is_saved_with_a_warning(
        runtime: Runtime, client: Any, admin_headers: dict[str, str], fields: dict[str, dict[str, Any]]) -> None:
    created = client.post("/v1/connections", json=connection_body("http://127.0.0.1:9"), headers=admin_headers)
    cid = created.get_json()["id"]

    section = field_page(runtime, fields["budget"]["id"], "en")["sections"][0]
    result = save_mapping(runtime, fields["budget"]["id"], cid, "budgte", {})

    assert (section["reachable"], section["properties"]) == (False, [])
    assert "could not be read" in section["warnings"][0]
    assert "could not be checked" in result["warnings"][0]
    assert by_field(runtime, cid) == {"budget": ("budgte", {})}


def test_given_mappings_then_the_overview_names_the_connection_and_property_of_each_field(
        runtime: Runtime, connection: dict[str, Any], fields: dict[str, dict[str, Any]]) -> None:
    replace_mappings(runtime, connection["id"], [{"property": "industry", "field": "industry"}])

    overview = fields_overview(runtime, "en")

    shown = {f["key"]: f["mappings"] for f in overview["fields"]}
    assert shown == {"budget": [], "industry": [{"connection_id": connection["id"], "connection": connection["name"],
                                                 "property": "industry"}]}
    assert "multi_enum" in overview["types"]
