"""Property-based conformance of the API to the committed openapi.yaml, with schemathesis' default checks.

Runs in-process against the WSGI app on SQLite only (the PostgreSQL run would double a slow test
without exercising different API code). Generated connections are pointed at a HubSpot sandbox on
loopback so that refreshing pipelines or reading properties never calls a real CRM.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from cryptography.fernet import Fernet
from hypothesis import HealthCheck, settings

from adapters.sandbox.hubspot import HubSpotSandbox
from service import create_app
from service.config import Settings
from service.db import make_engine
from service.migrate import upgrade
from service.runtime import build_runtime
from service.services.keys import create_key

OPENAPI = Path(__file__).resolve().parents[2] / "openapi.yaml"
TOKEN = "pat-schemathesis-token"
SECRET = "schemathesis-client-secret"
MAX_EXAMPLES = 30
GENERATED: dict[str, int] = {"cases": 0}


@pytest.fixture(scope="module")
def crm() -> Iterator[HubSpotSandbox]:
    """The CRM every generated connection talks to."""
    sandbox = HubSpotSandbox(client_secret=SECRET, access_token=TOKEN)
    sandbox.start()
    yield sandbox
    sandbox.stop()


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config) -> Iterator[Any]:
    """The committed schema bound to an app on a fresh, migrated SQLite database, with an admin key."""
    folder = tmp_path_factory.mktemp("schemathesis")
    engine = make_engine(f"sqlite:///{folder / 'qualify.db'}")
    upgrade(engine)
    config = Settings(instance_path=str(folder), secret_key=Fernet.generate_key().decode(),
                      database_url=f"sqlite:///{folder / 'qualify.db'}")
    runtime = build_runtime(config, engine=engine)
    with runtime.uow() as uow:
        key = create_key(uow, "admin", "schemathesis")
        uow.commit()
    app = create_app(config, runtime=runtime)

    schema = schemathesis.openapi.from_path(str(OPENAPI))
    schema.app = app

    @schema.auth()
    class AdminKey:
        """Every generated request carries the admin key (security-less operations ignore it)."""

        def get(self, case: Any, context: Any) -> str:
            return key

        def set(self, case: Any, data: str, context: Any) -> None:
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}

    yield schema
    reporter = pytestconfig.pluginmanager.get_plugin("terminalreporter")
    line = f"schemathesis: {GENERATED['cases']} generated cases sent"
    if reporter is not None:
        reporter.write_line(line)
    else:
        print(line, file=sys.stderr)
    runtime.dispose()


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_openapi(case: Any, crm: HubSpotSandbox) -> None:
    GENERATED["cases"] += 1
    if case.path == "/v1/connections" or case.path == "/v1/connections/{connection_id}":
        positive = case.meta is None or case.meta.generation.mode.is_positive
        if positive and isinstance(case.body, dict) and case.method in ("POST", "PATCH"):
            if "base_url" in case.body or case.method == "POST":
                case.body["base_url"] = crm.base_url
            if "access_token" in case.body or case.method == "POST":
                case.body["access_token"] = TOKEN
    case.call_and_validate()
