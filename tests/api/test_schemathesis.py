"""Property-based conformance of the API to the committed openapi.yaml, with all of schemathesis' default checks.

One test per operation runs the examples, coverage and fuzzing phases (positive and negative data);
a stateful test chains operations (create, read, change, delete) so the use-after-free and resource
availability checks have something to check. Requests go in-process to the WSGI app, on SQLite only
(the PostgreSQL run would double a slow test without exercising different API code), authenticated
with an admin key. Generated connections are pointed at a HubSpot sandbox on loopback so refreshing
pipelines or reading properties never calls a real CRM. The number of requests sent is printed in
the terminal summary.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from cryptography.fernet import Fernet
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from adapters.sandbox.hubspot import HubSpotSandbox
from service import create_app
from service.config import Settings
from service.db import Base, make_engine
from service.migrate import upgrade
from service.models import ApiKey
from service.runtime import build_runtime
from service.secrets import new_api_key
from tests.api.conftest import GENERATED_CASES

OPENAPI = Path(__file__).resolve().parents[2] / "openapi.yaml"
TOKEN = "pat-schemathesis-token"
SECRET = "schemathesis-client-secret"
MAX_EXAMPLES = 60  # per operation and phase
STATEFUL_SCENARIOS = 60
GENERATED: dict[str, int] = {"cases": 0}


@pytest.fixture(scope="module")
def crm() -> Iterator[HubSpotSandbox]:
    """The CRM every generated connection talks to."""
    sandbox = HubSpotSandbox(client_secret=SECRET, access_token=TOKEN)
    sandbox.start()
    yield sandbox
    sandbox.stop()


# Default checks, all of them. One adjustment: these operations answer 422 to schema-valid bodies that
# break a rule JSON Schema cannot state (min <= max, a regex that compiles, constraints that fit the
# field type; a field key, pipeline, stage, persona or connection that must exist in the database; grade
# thresholds in order and criteria whose matcher fits the field's type; the values of an ad-hoc score
# naming configured fields; the secrets each CRM kind needs, and a base URL on one of that CRM's own
# domains; a template's stage mapping; a report period whose first day is after its last or that spans more than
# 731 days; a key's expiry in the past; a gate preview naming stages; ABC cut-offs adding up to 100, rates with a
# base currency, a name that is an RFM segment or an ABC x XYZ cell), so for them a 422 is
# an accepted answer to "positive" data. Every other expectation keeps schemathesis' defaults.
CONFIG = """
base-url = "http://localhost"

[[operations]]
include-name = [
  "POST /v1/fields", "PATCH /v1/fields/{field_id}", "POST /v1/gates", "PATCH /v1/gates/{gate_id}",
  "POST /v1/gate/check", "PUT /v1/connections/{connection_id}/mappings",
  "POST /v1/connections", "PATCH /v1/connections/{connection_id}",
  "POST /v1/personas", "PATCH /v1/personas/{persona_id}", "POST /v1/score", "POST /v1/personas/from-template",
  "GET /v1/reports/qualification", "GET /v1/reports/qualification/deals", "POST /v1/config",
  "POST /v1/keys", "POST /v1/gates/preview", "POST /v1/analytics/runs",
  "GET /v1/analytics/segments/{segment}/customers", "GET /v1/analytics/suggested-persona",
]
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", "401", "403", "404", "409", "422", "429", "5xx"]

# DELETE of a connection deactivates it and keeps it with its audit (PATCH active=true resumes it; ?purge=true
# erases it): reading it and its sync runs after a DELETE still answers 200 by design, which the use-after-free
# check would report.
[[operations]]
include-path-regex = "^/v1/connections/[{]connection_id[}]"
checks.use_after_free.enabled = false
"""
schema = schemathesis.openapi.from_path(str(OPENAPI), config=SchemathesisConfig.from_str(CONFIG))
# Schemathesis builds the coverage cases (and asks the auth provider) while collecting, before any fixture
# runs: the admin key is drawn here and stored (hashed) by the `app` fixture.
ADMIN_KEY, ADMIN_PREFIX, ADMIN_HASH = new_api_key()


@schema.auth()
class AdminKey:
    """Every generated request carries the admin key (security-less operations ignore it)."""

    def get(self, case: Any, context: Any) -> str:
        return ADMIN_KEY

    def set(self, case: Any, data: str, context: Any) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config) -> Iterator[Any]:
    """The app on a fresh, migrated SQLite database, with an admin key for the generated requests."""
    folder = tmp_path_factory.mktemp("schemathesis")
    url = f"sqlite:///{folder / 'qualify.db'}"
    engine = make_engine(url)
    upgrade(engine)
    # The failed-authentication throttle is off: schemathesis sends thousands of bad keys from one address
    # (tests/api/test_http_security.py tests the throttle). No worker runs, so /readyz expects no heartbeat (a
    # 503 is a server error to schemathesis; tests/api/test_readyz.py tests the check).
    config = Settings(instance_path=str(folder), secret_key=Fernet.generate_key().decode(), database_url=url,
                      allow_loopback_crm=True, auth_failures_per_minute=0, ready_heartbeat_seconds=0)
    runtime = build_runtime(config, engine=engine)
    with runtime.uow() as uow:
        uow.session.add(ApiKey(name="schemathesis", prefix=ADMIN_PREFIX, key_hash=ADMIN_HASH, role="admin"))
        uow.commit()
    yield create_app(config, runtime=runtime)
    pytestconfig.stash[GENERATED_CASES] = GENERATED["cases"]
    runtime.dispose()


def point_connections_at(case: Any, crm: HubSpotSandbox) -> None:
    """Make a valid connection body name the sandbox and its token, so no request leaves loopback."""
    if case.path not in ("/v1/connections", "/v1/connections/{connection_id}") or case.method not in ("POST", "PATCH"):
        return
    positive = case.meta is None or case.meta.generation.mode.is_positive
    if positive and isinstance(case.body, dict):
        if case.method == "POST":
            # The loopback CRM is HubSpot's sandbox; the other CRMs have their own end-to-end tests.
            case.body["kind"] = "hubspot"
            case.body.setdefault("client_secret", SECRET)
        if "base_url" in case.body or case.method == "POST":
            case.body["base_url"] = crm.base_url
        if "access_token" in case.body or case.method == "POST":
            case.body["access_token"] = TOKEN


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_openapi(case: Any, app: Any, crm: HubSpotSandbox) -> None:
    GENERATED["cases"] += 1
    point_connections_at(case, crm)
    # Operations were built at collection, before the app existed; the checks' probes use the same app.
    case.operation.app = case.operation.schema.app = app
    case.call_and_validate()


def test_stateful_workflows_conform_to_openapi(app: Any, crm: HubSpotSandbox) -> None:
    workflows = schemathesis.openapi.from_path(str(OPENAPI), config=SchemathesisConfig.from_str(CONFIG))
    workflows.app = app
    workflows.auth()(AdminKey)
    machine = workflows.as_state_machine()

    class Workflow(machine):  # type: ignore[misc, valid-type]
        def setup(self) -> None:
            # Each scenario starts from an empty database (the admin key stays): hypothesis replays and
            # shrinks scenarios, which only works when a scenario does not depend on the ones before it.
            # A scenario may also revoke keys (DELETE /v1/keys/{prefix} with a prefix GET /v1/keys listed), the admin
            # key among them: the others go and it is live again.
            runtime = app.extensions["qualify"]
            keys = ApiKey.__table__
            with runtime.engine.begin() as conn:
                for table in reversed(Base.metadata.sorted_tables):
                    if table.name != "api_keys":
                        conn.execute(table.delete())
                conn.execute(keys.delete().where(keys.c.prefix != ADMIN_PREFIX))
                conn.execute(keys.update().values(revoked_at=None, expires_at=None))
            runtime.cache.clear()

        def before_call(self, case: Any) -> None:
            GENERATED["cases"] += 1
            point_connections_at(case, crm)

    Workflow.run(settings=settings(max_examples=STATEFUL_SCENARIOS, stateful_step_count=10, deadline=None,
                                   suppress_health_check=list(HealthCheck)))

