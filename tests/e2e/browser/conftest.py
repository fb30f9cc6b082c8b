"""The browser tier: Debian's Chromium driven by Playwright against Qualify served on a loopback port.

One browser and one service (SQLite: the pages add no queries of their own, the use cases behind them are
tested on both backends) for the whole session, because starting them is what is slow; each test gets a
fresh browser context (its own cookies) and its own keys. `make test` installs Chromium when missing; it is
never downloaded by Playwright.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from adapters.sandbox.hubspot import HubSpotSandbox
from service import create_app
from service.config import Settings
from service.harness import LiveService
from service.runtime import Runtime
from tests.conftest import TEST_FERNET_KEY, make_key
from tests.e2e.browser.team import Team, seed_team

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SCREENSHOTS = Path(__file__).resolve().parents[1] / "screenshots"


@dataclass
class Web:
    """The running service the browser talks to."""

    service: LiveService

    @property
    def runtime(self) -> Runtime:
        """The service's runtime (to create keys and check what changed)."""
        return self.service.runtime

    @property
    def base_url(self) -> str:
        """http://127.0.0.1:<port>"""
        return self.service.base_url

    def key(self, role: str) -> str:
        """A new key with `role`."""
        return make_key(self.runtime, role)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Chromium, launched once per test session."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@contextmanager
def served(folder: Path, *, loopback_crm: bool = False, with_worker: bool = False) -> Iterator[Web]:
    """Qualify on a loopback port over its own migrated SQLite database in `folder`; `loopback_crm` lets it call
    CRMs on loopback (the sandboxes), `with_worker` runs its worker too (so moves are acted on)."""
    settings = Settings(instance_path=str(folder / "instance"), secret_key=TEST_FERNET_KEY,
                        database_url=f"sqlite:///{folder / 'qualify.db'}", auth_failures_per_minute=0,
                        allow_loopback_crm=loopback_crm, worker_poll_seconds=0.05).resolved()
    service = LiveService(settings, with_worker=with_worker)
    service.start()
    try:
        yield Web(service)
    finally:
        service.stop()
        service.runtime.dispose()


@contextmanager
def hubspot_sandbox(client_secret: str, access_token: str) -> Iterator[HubSpotSandbox]:
    """The HubSpot sandbox on a loopback port, seeded with its pipelines and the portrait properties."""
    crm = HubSpotSandbox(client_secret=client_secret, access_token=access_token)
    crm.start()
    try:
        yield crm
    finally:
        crm.stop()


@pytest.fixture(scope="session")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Web]:
    """Qualify on a loopback port over a migrated SQLite database, without a worker (pages need none)."""
    with served(tmp_path_factory.mktemp("web")) as running:
        yield running


def new_page(browser: Any, web: Web, locale: str = "en-US") -> Any:
    """A page in a fresh browser context (its own cookies) whose Accept-Language is `locale`."""
    context = browser.new_context(base_url=web.base_url, locale=locale, viewport={"width": 1200, "height": 800})
    return context.new_page()


@pytest.fixture(scope="session")
def _shared_page(browser: Any, web: Web) -> Iterator[Any]:
    tab = new_page(browser, web)
    yield tab
    tab.context.close()


@pytest.fixture
def page(_shared_page: Any) -> Any:
    """A page of an English-speaking browser with no cookies (one context reused: a new one costs more than
    the test)."""
    _shared_page.context.clear_cookies()
    return _shared_page


def shot(page: Any, name: str, *, full_page: bool = False) -> None:
    """Save a screenshot to tests/e2e/screenshots/<name>.png for a person to look at (the window, or the
    whole page when it may be longer than the window)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)


def sign_in(page: Any, key: str) -> Any:
    """Sign in through the form; returns the answer to the form's POST."""
    page.goto("/signin")
    page.get_by_label(re.compile("API key|API-ключ")).fill(key)
    with page.expect_response(lambda r: r.url.endswith("/signin") and r.request.method == "POST") as posted:
        page.locator("main form button[type=submit]").click()
    page.wait_for_load_state()
    return posted.value


@pytest.fixture(scope="session")
def team(web: Web) -> Team:
    """A small sales team's deals and moves in the service's database, for the report pages (once per
    session: the pages only read it)."""
    return seed_team(web.runtime)


@pytest.fixture(scope="module")
def web_app(web: Web) -> Any:
    """An app over the browser tier's runtime (same database and seeded team), for checks over Flask's test
    client (no browser)."""
    application = create_app(web.runtime.settings, runtime=web.runtime)
    application.testing = True
    return application


@pytest.fixture
def web_admin(web_app: Any, web: Web) -> Any:
    """A test client of `web_app` signed in as an admin."""
    from tests.e2e.browser.test_pages_http import signed_in_client

    return signed_in_client(web_app, make_key(web.runtime, "admin"))
