"""Helpers for the registry tests: a connection's settings as the service would store them for a CRM's demo
scenario (the connection body it gives, plus the webhook token Qualify generates)."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import Any

from adapters.kind import ConnectionSettings, CRMKind
from adapters.registry import kind_of
from adapters.sandbox.scenario import Scenario

WEBHOOK_TOKEN = "generated-webhook-token-0123456789"
UNSET: Any = object()


def started(kind: CRMKind) -> Iterator[Scenario]:
    """The kind's demo scenario, started, and stopped when the generator is closed (a fixture body)."""
    scenario: Scenario = importlib.import_module(kind.sandbox).demo_scenario()
    try:
        yield scenario
    finally:
        scenario.stop()


def settings_of(scenario: Scenario, account_id: str | None = UNSET) -> ConnectionSettings:
    """The stored connection of the scenario's body: the part of its base_url the registry says to store in plain
    text and its account id, every other key (and the base URL's secret part) a secret; `account_id` replaces the
    body's when given (None: no account check)."""
    body = dict(scenario.connection)
    given, stored_account = body.pop("base_url"), body.pop("account_id", None)
    base_url, url_secrets = kind_of(scenario.kind).split_base_url(given)
    return ConnectionSettings(scenario.kind, base_url, stored_account if account_id is UNSET else account_id,
                              secrets={**body, **url_secrets, "webhook_token": WEBHOOK_TOKEN})


def webhook_path(kind: CRMKind) -> str:
    """Where the CRM is told to deliver, carrying the generated token where its deliveries need one."""
    param = kind.webhook_token_param
    return f"/webhooks/{kind.name}" + (f"?{param}={WEBHOOK_TOKEN}" if param else "")
