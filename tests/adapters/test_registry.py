"""The registry: each CRM declared once, and everything the service needs built from a stored connection."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil
from collections.abc import Iterator

import pytest

import adapters.sandbox
from adapters.bitrix24 import Bitrix24Adapter
from adapters.errors import CRMAuthError
from adapters.hubspot import HubSpotAdapter, hubspot_limiter_buckets
from adapters.kind import COMMON_KEPT_HEADERS, ConnectionSettings, CRMKind
from adapters.ratelimit import RateLimiter
from adapters.registry import REGISTRY, UnknownCRM, kind_of
from adapters.sandbox.scenario import Scenario
from tests.adapters.scenario_fixtures import settings_of, started

MAY_BE_NONE = {"default_base_url", "webhook_token_param", "secret_patterns"}


@pytest.fixture(params=sorted(REGISTRY))
def kind(request: pytest.FixtureRequest) -> CRMKind:
    return REGISTRY[request.param]


@pytest.fixture
def scenario(kind: CRMKind) -> Iterator[Scenario]:
    yield from started(kind)


def test_given_a_name_then_its_kind_and_an_unknown_name_is_unknown_crm() -> None:
    assert all(kind_of(name) is kind and kind.name == name for name, kind in REGISTRY.items())
    with pytest.raises(UnknownCRM) as unknown:
        kind_of("zoho")
    assert isinstance(unknown.value, KeyError) and "hubspot" in str(unknown.value)


def test_every_field_of_every_kind_is_declared(kind: CRMKind) -> None:
    for field in dataclasses.fields(kind):
        assert field.name in MAY_BE_NONE or getattr(kind, field.name) not in (None, "", ()), field.name
    assert set(kind.required_secrets) <= set(kind.secret_inputs)
    assert set(COMMON_KEPT_HEADERS) <= set(kind.kept_headers)
    assert all(header == header.lower() for header in kind.kept_headers)
    assert kind.paging.page_size > 0 and kind.multi_separator in (";", ",")


def sandbox_modules() -> set[str]:
    """Every module of adapters.sandbox that is a CRM's simulator (it offers a demo scenario)."""
    names = (f"adapters.sandbox.{m.name}" for m in pkgutil.iter_modules(adapters.sandbox.__path__))
    return {name for name in names if hasattr(importlib.import_module(name), "demo_scenario")}


def test_the_kinds_are_exactly_the_sandboxes_and_each_runs_the_same_way() -> None:
    assert {kind.sandbox for kind in REGISTRY.values()} == sandbox_modules()
    for kind in REGISTRY.values():
        parameters = list(inspect.signature(importlib.import_module(kind.sandbox).run_forever).parameters.values())
        assert [p.name for p in parameters[:3]] == ["host", "port", "webhook_url"]
        assert parameters[-1].kind is inspect.Parameter.VAR_KEYWORD


def test_given_a_demo_scenario_when_built_from_its_settings_then_the_adapter_reads_and_the_verifier_is_ready(
        kind: CRMKind, scenario: Scenario) -> None:
    settings = settings_of(scenario)
    kind.check_settings(settings.base_url, settings.secrets)

    adapter = kind.build_adapter(settings, limiter=kind.limiter(f"test-registry:{kind.name}", {}), transport=None)
    try:
        pipeline = adapter.list_pipelines()[0]
        first, second = [stage.id for stage in pipeline.stages if not stage.is_closed][:2]
        deal = scenario.create(pipeline.id, first)
        scenario.move(deal, pipeline.id, second)

        assert adapter.kind == kind.name
        assert scenario.stage(deal) == second == adapter.get_deal(deal, []).stage_id
        assert scenario.tasks(deal) == []
        assert kind.offline_source(settings, adapter) is None  # no OAuth token in any demo connection
    finally:
        adapter.close()
    verifier = kind.build_verifier(settings, max_age_seconds=300)
    assert callable(verifier.verify) and callable(verifier.parse)


@pytest.mark.parametrize(("name", "base_url", "account_id", "url"), [
    ("hubspot", "https://api.hubapi.com", "62515", "https://app.hubspot.com/contacts/62515/record/0-3/42"),
    ("pipedrive", "https://acme.pipedrive.com/", None, "https://acme.pipedrive.com/deal/42"),
    ("amocrm", "https://acme.amocrm.ru", "31000001", "https://acme.amocrm.ru/leads/detail/42"),
    ("amocrm", "https://acme.kommo.com/api/v4/", None, "https://acme.kommo.com/leads/detail/42"),
    ("bitrix24", "https://acme.bitrix24.com/rest/1/webhook-secret/", "m1", "https://acme.bitrix24.com/crm/deal/details/42/"),
])  # fmt: skip
def test_given_a_connection_then_deal_url_links_into_its_crm(name: str, base_url: str, account_id: str | None,
                                                              url: str) -> None:
    assert kind_of(name).deal_url(ConnectionSettings(name, base_url, account_id), "42") == url


@pytest.mark.parametrize(("name", "base_url"), [("hubspot", "https://api.hubapi.com"),
                                                ("pipedrive", "https://api.pipedrive.com")])  # fmt: skip
def test_given_settings_without_the_account_in_links_then_deal_url_says_what_is_missing(name: str,
                                                                                        base_url: str) -> None:
    with pytest.raises(ValueError):
        kind_of(name).deal_url(ConnectionSettings(name, base_url), "42")


def test_given_a_key_then_the_limiter_is_shared_with_the_defaults_and_each_override() -> None:
    hubspot = kind_of("hubspot")
    shared = hubspot.limiter("test-registry:shared", {})

    assert hubspot.limiter("test-registry:shared", {}) is shared
    assert isinstance(shared, RateLimiter) and shared.buckets == hubspot_limiter_buckets()
    tuned = hubspot.limiter("test-registry:tuned", {"default": (180, 10.0)})
    assert isinstance(tuned, RateLimiter) and tuned.buckets == {**hubspot_limiter_buckets(), "default": (180, 10.0)}
    bitrix24 = kind_of("bitrix24")
    assert bitrix24.limiter("test-registry:b24", {}) is bitrix24.limiter("test-registry:b24", {})
    assert bitrix24.limiter("test-registry:b24", {}) is not bitrix24.limiter("test-registry:other", {})


def test_paging_traits_are_declared_once_by_each_adapter_and_shown_by_its_registry_entry() -> None:
    hubspot, bitrix24 = kind_of("hubspot").paging, kind_of("bitrix24").paging

    assert (hubspot.windowed_search, hubspot.result_cap) == (True, 10_000)
    assert (bitrix24.modification_ordered, bitrix24.page_size) == (False, 500)
    assert (HubSpotAdapter.paging, Bitrix24Adapter.paging) == (hubspot, bitrix24)
    assert {kind_of(name).paging.page_size for name in ("hubspot", "pipedrive", "amocrm")} == {200}


def test_given_a_bitrix24_portal_without_token_then_check_settings_refuses_and_build_adapter_is_an_auth_error() -> None:
    bitrix24 = kind_of("bitrix24")
    portal = "https://acme.bitrix24.com"

    with pytest.raises(ValueError, match="access token"):
        bitrix24.check_settings(portal, {})
    bitrix24.check_settings(portal, {"access_token": "t"})
    bitrix24.check_settings(f"{portal}/rest/1/code/", {})
    with pytest.raises(CRMAuthError, match="incomplete"):
        bitrix24.build_adapter(ConnectionSettings("bitrix24", portal), limiter=None, transport=None)


def test_given_settings_of_another_kind_then_value_error() -> None:
    with pytest.raises(ValueError, match="pipedrive"):
        kind_of("hubspot").build_verifier(ConnectionSettings("pipedrive", "https://acme.pipedrive.com"), 300)


def test_given_an_oauth_token_then_bitrix24_reads_offline_events_and_no_other_crm_does() -> None:
    oauth = ConnectionSettings("bitrix24", "https://acme.bitrix24.com", secrets={"access_token": "t"})
    hook = ConnectionSettings("bitrix24", "https://acme.bitrix24.com/rest/1/code/")
    hubspot = ConnectionSettings("hubspot", "https://api.hubapi.com", secrets={"access_token": "t"})
    bitrix24_adapter = kind_of("bitrix24").build_adapter(oauth, limiter=None, transport=None)
    hubspot_adapter = kind_of("hubspot").build_adapter(hubspot, limiter=None, transport=None)
    try:
        assert kind_of("bitrix24").offline_source(oauth, bitrix24_adapter) is bitrix24_adapter
        assert kind_of("bitrix24").offline_source(hook, bitrix24_adapter) is None
        assert kind_of("hubspot").offline_source(hubspot, hubspot_adapter) is None
    finally:
        bitrix24_adapter.close()
        hubspot_adapter.close()
