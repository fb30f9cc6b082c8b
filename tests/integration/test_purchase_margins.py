"""A connection's margin field: each CRM purchase's margin is that portrait field's value on its won deal, kept in
line by sync and by changing the connection; a field that is not a number is refused, one in use cannot be
deleted (SQLite and PostgreSQL, through the HubSpot sandbox)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from sqlalchemy import select

from adapters.sandbox.hubspot import HubSpotSandbox
from adapters.sandbox.hubspot_seed import COMPANIES
from service.errors import ConflictError, InvalidInputError
from service.models import Field, Purchase
from service.runtime import Runtime
from service.services.config_io.apply import apply_config
from service.services.config_io.document import ConfigFileError
from service.services.config_io.export import export_yaml
from service.services.connections import update_connection
from service.services.fields import delete_field
from service.services.mappings import replace_mappings
from service.services.purchases import crm_source
from tests.integration.syncing import SANDBOX_UNLIMITED, connect_hubspot, run_sync

TOKEN = "pat-margins"
COMPANY_ASSOCIATION = [{"to": {"id": COMPANIES[0][0]}, "types": [{"associationCategory": "HUBSPOT_DEFINED",
                                                                   "associationTypeId": 5}]}]
# won deal name -> (amount, the deal's margin property as the CRM holds it, the margin expected on the purchase)
WON = {"Margin known": ("1500", "400.50", Decimal("400.50")), "Margin missing": ("900", None, None),
       "Margin negative": ("300", "-20", Decimal("-20"))}


@pytest.fixture
def sandbox() -> Iterator[HubSpotSandbox]:
    sandbox = HubSpotSandbox(access_token=TOKEN, rate_limit=SANDBOX_UNLIMITED, search_rate_limit=SANDBOX_UNLIMITED)
    sandbox.start()
    try:
        with sandbox.lock:
            for name, (amount, margin, _) in WON.items():
                sandbox.portal.create("deals", {"dealname": name, "dealstage": "closedwon", "pipeline": "default",
                                                "amount": amount, "deal_currency_code": "EUR", "budget": margin},
                                      sandbox.actor(), COMPANY_ASSOCIATION)
        yield sandbox
    finally:
        sandbox.stop()


def margins(runtime: Runtime, connection_id: int) -> dict[Decimal, Decimal | None]:
    """amount -> margin of the connection's purchases."""
    with runtime.read_uow() as uow:
        return {Decimal(p.amount): None if p.margin is None else Decimal(p.margin) for p in uow.session.scalars(
            select(Purchase).where(Purchase.source == crm_source(connection_id)))}


def setup(runtime: Runtime, sandbox: HubSpotSandbox) -> int:
    """Fields `gross_margin` (money, fed by the deal property the sandbox calls budget) and `industry` (text)."""
    with runtime.uow() as uow:
        uow.session.add_all([Field(key="gross_margin", label="Gross margin", type="money", constraints={}),
                             Field(key="industry", label="Industry", type="text", constraints={})])
        uow.commit()
    connection_id = connect_hubspot(runtime, sandbox, TOKEN)
    assert replace_mappings(runtime, connection_id, [{"property": "budget", "field": "gross_margin"}])["warnings"] == []
    return connection_id


def test_given_a_margin_field_then_each_purchase_carries_its_deals_margin_until_the_field_is_unset(
        runtime: Runtime, sandbox: HubSpotSandbox) -> None:
    connection_id = setup(runtime, sandbox)
    assert run_sync(runtime, connection_id).status == "done"
    without = {Decimal(amount): None for amount, _, _ in WON.values()}
    assert margins(runtime, connection_id) == without  # no margin field named yet

    view = update_connection(runtime, connection_id, {"margin_field": "gross_margin"}, "http://testserver")

    assert view["margin_field"] == "gross_margin"
    expected = {Decimal(amount): margin for amount, _, margin in WON.values()}
    assert margins(runtime, connection_id) == expected  # filled at once, without a sync
    assert run_sync(runtime, connection_id).status == "done"
    assert margins(runtime, connection_id) == expected
    with sandbox.lock:
        deal = next(d.id for d in sandbox.portal.objects["deals"].values()
                    if d.properties["dealname"] == "Margin known")
    sandbox.ui_update_deal(deal, {"budget": ""})
    assert run_sync(runtime, connection_id).status == "done"
    # a margin cleared in the CRM is unknown again
    assert margins(runtime, connection_id) == {**expected, Decimal("1500"): None}

    update_connection(runtime, connection_id, {"margin_field": None}, "http://testserver")

    assert margins(runtime, connection_id) == without


def test_a_margin_field_must_be_a_number_field_and_cannot_be_deleted_while_named(
        runtime: Runtime, sandbox: HubSpotSandbox) -> None:
    connection_id = setup(runtime, sandbox)

    with pytest.raises(InvalidInputError, match="Closest: gross_margin"):
        update_connection(runtime, connection_id, {"margin_field": "gross_margn"}, "http://testserver")
    with pytest.raises(InvalidInputError, match="a text field"):
        update_connection(runtime, connection_id, {"margin_field": "industry"}, "http://testserver")
    update_connection(runtime, connection_id, {"margin_field": "gross_margin"}, "http://testserver")
    with runtime.read_uow() as uow:
        field_id = uow.session.scalars(select(Field.id).where(Field.key == "gross_margin")).one()
    with pytest.raises(ConflictError, match=f"margin field of connections \\[{connection_id}\\]"):
        delete_field(runtime, field_id)


def test_the_margin_field_travels_in_the_configuration_file_and_a_bad_one_is_refused_at_its_path(
        runtime: Runtime, sandbox: HubSpotSandbox) -> None:
    connection_id = setup(runtime, sandbox)
    assert run_sync(runtime, connection_id).status == "done"
    # the test's lifted limits are beyond what a file may set (connect_hubspot); the CRM's own limits go back
    update_connection(runtime, connection_id, {"rate_limits": None}, "http://testserver")
    exported = export_yaml(runtime)
    assert "margin_field" not in exported  # unset: left out, as every empty setting

    with_margin = exported.replace("  kind: hubspot\n", "  kind: hubspot\n  margin_field: gross_margin\n", 1)
    plan = apply_config(runtime, with_margin, source="q.yaml", dry_run=False)

    assert any(c["kind"] == "connection" and c["action"] == "~" for c in plan["changes"])
    assert margins(runtime, connection_id) == {Decimal(amount): margin for amount, _, margin in WON.values()}
    assert "margin_field: gross_margin" in export_yaml(runtime)
    with pytest.raises(ConfigFileError) as refused:
        apply_config(runtime, with_margin.replace("margin_field: gross_margin", "margin_field: industry"),
                     source="q.yaml", dry_run=False)
    assert list(refused.value.errors or {}) == ["connections[0].margin_field"]
    assert "a text field" in refused.value.errors["connections[0].margin_field"][0]  # type: ignore[index]
