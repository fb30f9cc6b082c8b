"""The per-CRM pieces of the sync benchmark (bench.sync): the sandbox and its seeding through the in-process
state, one page of the bare httpx fetch with exactly the query the adapter sends, the connection payload and
the rate-limited run's settings.

Seeded deals get modification times 0.1 s apart ending just before now (HubSpot: the real creation time), so
few deals share a second. HubSpot's search stops at 10,000 results, so its sync restarts the query at the
newest modification time seen after ~10,000 results (service.services.sync), re-reading the deals of that
instant, and the bare loop does the same; the other CRMs page to the end.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from adapters.amocrm import PAGE_MAX as AMO_PAGE_MAX
from adapters.amocrm import amocrm_limiter_buckets
from adapters.amocrm_mapping import unix_of
from adapters.bitrix24 import Bitrix24Adapter
from adapters.bitrix24_mapping import PAGE_SIZE as B24_PAGE_SIZE
from adapters.bitrix24_mapping import (
    batch_command,
    batch_section,
    chained_deal_lists,
    chained_results,
    deal_list_params,
    lists_wanted,
)
from adapters.hubspot import hubspot_limiter_buckets
from adapters.hubspot_mapping import props_of
from adapters.kind import Paging
from adapters.leaky_bucket import CLIENT_HEADROOM, STANDARD_PLAN
from adapters.pipedrive import PAGE_MAX as PD_PAGE_MAX
from adapters.pipedrive import pipedrive_limiter_buckets
from adapters.pipedrive_mapping import rfc3339_of
from adapters.sandbox.amocrm import AmoCRMSandbox
from adapters.sandbox.amocrm_state import USER_ANNA
from adapters.sandbox.base import SandboxBase
from adapters.sandbox.bitrix24 import Bitrix24Sandbox
from adapters.sandbox.bitrix24_state import PORTAL_TZ
from adapters.sandbox.hubspot import HubSpotSandbox
from adapters.sandbox.pipedrive import PipedriveSandbox
from adapters.sandbox.pipedrive_state import Actor, iso

SPACING = 0.1  # seconds between the seeded deals' modification times
HUGE = 1_000_000_000
PAGE_SIZE = Paging().page_size  # deals per page sync asks every CRM but Bitrix24 for (its registry entry's paging)


@dataclass(frozen=True)
class Page:
    """One fetched page: the raw records and the cursor of the next page (None on the last)."""

    records: list[dict[str, Any]]
    next_after: str | None


@dataclass(frozen=True)
class Limit:
    """The rate-limited run: the CRM's published limit (on in the sandbox) and Qualify's default cap.

    Rolling window: `requests` per `seconds`. Leaky bucket (Bitrix24): drains `requests` per `seconds`
    and holds `burst`.
    """

    deals: int  # enough for a ~20-40 s run at Qualify's cap
    requests: int
    seconds: float
    qualify: tuple[int, float]
    what: str
    burst: int = 0
    qualify_burst: int = 0  # Qualify's own bucket capacity (kept under the CRM's `burst`)


def seed_times(deals: int) -> list[float]:
    """Modification times (unix seconds) for `deals` deals, SPACING apart, the last one second ago."""
    end = time.time() - 1.0
    return [end - (deals - 1 - i) * SPACING for i in range(deals)]


class CRM(ABC):
    """What the benchmark needs of one CRM."""

    kind: str
    label: str
    limit: Limit

    @abstractmethod
    def sandbox(self, limited: bool) -> SandboxBase:
        """An unstarted sandbox, unlimited or with the published limit on."""

    @abstractmethod
    def seed(self, sandbox: Any, deals: int) -> None:
        """Create `deals` deals through the sandbox's in-process state (no HTTP, no webhooks)."""

    @abstractmethod
    def connection(self, sandbox: Any) -> dict[str, Any]:
        """The CRM-specific part of the create_connection payload for this sandbox (or its RemoteSandbox)."""

    @abstractmethod
    def client(self, sandbox: Any) -> httpx.Client:
        """A bare httpx client with the sandbox's base URL and auth."""

    @abstractmethod
    def fetch(self, client: httpx.Client, since: datetime, after: str | None) -> Page:
        """One page with the query search_deals_modified_since sends for (since, after, PAGE_SIZE)."""

    @abstractmethod
    def modified(self, record: dict[str, Any]) -> datetime:
        """A raw record's modification time."""

    @abstractmethod
    def page_calls(self, sandbox: Any) -> list[dict[str, Any]]:
        """The logged page requests of the deal search/list, oldest first."""

    @abstractmethod
    def request_of(self, call: dict[str, Any]) -> Any:
        """What identifies a logged page request (its query or body) to compare the two loops."""


class HubSpot(CRM):
    """POST /crm/v3/objects/deals/search, offset cursor `after`, 5 searches/s."""

    kind, label, token = "hubspot", "HubSpot", "pat-bench"
    limit = Limit(24_000, 5, 1.0, hubspot_limiter_buckets()["search"], "HubSpot's 5/s search limit")

    def sandbox(self, limited: bool) -> HubSpotSandbox:
        return HubSpotSandbox(access_token=self.token, rate_limit=(100, 10.0) if limited else (HUGE, 1.0),
                              search_rate_limit=(5, 1.0) if limited else (HUGE, 1.0))

    def seed(self, sandbox: HubSpotSandbox, deals: int) -> None:
        for i in range(deals):  # no webhook target is set: nothing is sent
            sandbox.ui_create_deal({"dealname": f"D{i}", "dealstage": "appointmentscheduled", "pipeline": "default",
                                    "amount": str(i)})

    def connection(self, sandbox: Any) -> dict[str, Any]:
        return {"base_url": sandbox.base_url, "access_token": self.token, "client_secret": "s"}

    def client(self, sandbox: Any) -> httpx.Client:
        return httpx.Client(base_url=sandbox.base_url, headers={"Authorization": f"Bearer {self.token}"})

    def fetch(self, client: httpx.Client, since: datetime, after: str | None) -> Page:
        body = {"filterGroups": [{"filters": [{"propertyName": "hs_lastmodifieddate", "operator": "GTE",
                                               "value": str(int(since.timestamp() * 1000))}]}],
                "sorts": [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}],
                "properties": props_of([]), "limit": PAGE_SIZE, **({"after": after} if after else {})}
        payload = client.post("/crm/v3/objects/deals/search", json=body).json()
        return Page(payload.get("results") or [], ((payload.get("paging") or {}).get("next") or {}).get("after"))

    def modified(self, record: dict[str, Any]) -> datetime:
        return datetime.fromisoformat(record["properties"]["hs_lastmodifieddate"].replace("Z", "+00:00"))

    def page_calls(self, sandbox: Any) -> list[dict[str, Any]]:
        return sandbox.api_calls("POST", "/crm/v3/objects/deals/search")

    def request_of(self, call: dict[str, Any]) -> Any:
        return call["json"]


class Pipedrive(CRM):
    """GET /api/v2/deals?updated_since=&sort_by=update_time, opaque `cursor`, 2-second burst window."""

    kind, label, token = "pipedrive", "Pipedrive", "sandbox-token"
    limit = Limit(48_000, 20, 2.0, pipedrive_limiter_buckets()["default"],
                  "Pipedrive's 20 per 2 s burst limit (Essential, the smallest plan)")

    def sandbox(self, limited: bool) -> PipedriveSandbox:
        burst = (self.limit.requests, self.limit.seconds) if limited else (HUGE, 1.0)
        return PipedriveSandbox(api_token=self.token, rate_limit=burst, daily_budget=HUGE)

    def seed(self, sandbox: PipedriveSandbox, deals: int) -> None:
        with sandbox.lock:
            company = sandbox.company
            listener, company.listener = company.listener, None
            try:
                for i, at in enumerate(seed_times(deals)):
                    deal = company.create_deal({"title": f"D{i}", "stage_id": 1, "value": i}, Actor("app", 1))
                    ms = int(at * 1000)
                    deal["_update_ms"], deal["update_time"], deal["add_time"] = ms, iso(ms), iso(ms)
            finally:
                company.listener = listener

    def connection(self, sandbox: Any) -> dict[str, Any]:
        return {"base_url": sandbox.base_url, "access_token": self.token, "webhook_username": "hook",
                "webhook_password": "secret"}

    def client(self, sandbox: Any) -> httpx.Client:
        return httpx.Client(base_url=sandbox.base_url, headers={"x-api-token": self.token})

    def fetch(self, client: httpx.Client, since: datetime, after: str | None) -> Page:
        params: dict[str, Any] = {"updated_since": rfc3339_of(since), "sort_by": "update_time",
                                  "sort_direction": "asc", "limit": min(PAGE_SIZE, PD_PAGE_MAX)}
        if after:
            params["cursor"] = after
        payload = client.get("/api/v2/deals", params=params).json()
        return Page(payload.get("data") or [], (payload.get("additional_data") or {}).get("next_cursor") or None)

    def modified(self, record: dict[str, Any]) -> datetime:
        return datetime.fromisoformat(record["update_time"])

    def page_calls(self, sandbox: Any) -> list[dict[str, Any]]:
        return [c for c in sandbox.api_calls("GET", "/api/v2/deals") if c["path"] == "/api/v2/deals"]

    def request_of(self, call: dict[str, Any]) -> Any:
        return call["query"]


class AmoCRM(CRM):
    """GET /api/v4/leads?filter[updated_at][from]=&order[updated_at]=asc, page numbers, 7 requests/s."""

    kind, label = "amocrm", "amoCRM"
    limit = Limit(36_000, 7, 1.0, amocrm_limiter_buckets()["default"], "amoCRM's 7/s limit")

    def sandbox(self, limited: bool) -> AmoCRMSandbox:
        return AmoCRMSandbox(rate_limit=(self.limit.requests, self.limit.seconds) if limited else (HUGE, 1.0))

    def seed(self, sandbox: AmoCRMSandbox, deals: int) -> None:
        with sandbox.lock:
            account = sandbox.account
            listener, account.listener = account.listener, None
            try:
                for i, at in enumerate(seed_times(deals)):
                    account.create_lead({"name": f"D{i}", "price": i}, USER_ANNA, at=int(at))
            finally:
                account.listener = listener

    def connection(self, sandbox: Any) -> dict[str, Any]:
        return {"base_url": sandbox.base_url, "access_token": sandbox.access_token,
                "account_id": str(sandbox.account_id)}

    def client(self, sandbox: Any) -> httpx.Client:
        return httpx.Client(base_url=sandbox.base_url, headers={"Authorization": f"Bearer {sandbox.access_token}"})

    def fetch(self, client: httpx.Client, since: datetime, after: str | None) -> Page:
        page = int(after) if after else 1
        params = {"filter[updated_at][from]": str(unix_of(since)), "order[updated_at]": "asc", "page": str(page),
                  "limit": str(min(PAGE_SIZE, AMO_PAGE_MAX)), "with": "contacts"}
        response = client.get("/api/v4/leads", params=params)
        payload = response.json() if response.status_code != 204 else {}
        leads = (payload.get("_embedded") or {}).get("leads") or []
        following = leads and ((payload.get("_links") or {}).get("next") or {}).get("href")
        return Page(leads, str(page + 1) if following else None)

    def modified(self, record: dict[str, Any]) -> datetime:
        return datetime.fromtimestamp(int(record["updated_at"]), UTC)

    def page_calls(self, sandbox: Any) -> list[dict[str, Any]]:
        return [c for c in sandbox.api_calls("GET", "/api/v4/leads") if c["path"] == "/api/v4/leads"]

    def request_of(self, call: dict[str, Any]) -> Any:
        return call["query"]


class Bitrix24(CRM):
    """crm.deal.list with a >ID cursor and start=-1, 50 per list; the lists of a sync page chained in one
    `batch` call (the first page asks for one list first, as the adapter does); leaky bucket 2/s, burst 50."""

    kind, label = "bitrix24", "Bitrix24"
    limit = Limit(55_000, 2, 1.0, (2, 1.0), "Bitrix24's leaky bucket (2/s drain)", burst=STANDARD_PLAN[1],
                  qualify_burst=STANDARD_PLAN[1] - CLIENT_HEADROOM)
    page_size = Bitrix24Adapter.paging.page_size

    def sandbox(self, limited: bool) -> Bitrix24Sandbox:
        bucket = (self.limit.requests / self.limit.seconds, self.limit.burst) if limited else (float(HUGE), HUGE)
        return Bitrix24Sandbox(leaky_bucket=bucket)

    def seed(self, sandbox: Bitrix24Sandbox, deals: int) -> None:
        with sandbox.lock:
            portal = sandbox.portal
            listener, portal.listener = portal.listener, None
            try:
                for i, at in enumerate(seed_times(deals)):
                    deal = portal.deals[portal.create_deal({"TITLE": f"D{i}", "OPPORTUNITY": i}, 1)]
                    text = datetime.fromtimestamp(int(at), PORTAL_TZ).isoformat()
                    deal["DATE_CREATE"] = deal["DATE_MODIFY"] = text
            finally:
                portal.listener = listener

    def connection(self, sandbox: Any) -> dict[str, Any]:
        return {"base_url": sandbox.incoming_webhook_url, "application_token": "apptoken",
                "account_id": "sandbox-member"}

    def client(self, sandbox: Any) -> httpx.Client:
        return httpx.Client(base_url=sandbox.incoming_webhook_url)

    def fetch(self, client: httpx.Client, since: datetime, after: str | None) -> Page:
        last_id = int(after) if after else 0
        records: list[dict[str, Any]] = []
        while True:
            wanted = lists_wanted(self.page_size, len(records), fresh=after is None)
            for found in self._lists(client, since, last_id, wanted):
                records.extend(found)
                if len(found) < B24_PAGE_SIZE:
                    return Page(records, None)
                last_id = max(int(r["ID"]) for r in found)
                if len(records) >= self.page_size:
                    return Page(records, str(last_id))

    @staticmethod
    def _lists(client: httpx.Client, since: datetime, last_id: int, count: int) -> list[list[dict[str, Any]]]:
        """What Bitrix24Adapter._deal_lists asks: one crm.deal.list, or `count` chained in one batch."""
        if count == 1:
            return [client.post("crm.deal.list.json", json=deal_list_params(since, [], last_id)).json()["result"]]
        commands = {name: batch_command(*command)
                    for name, command in chained_deal_lists(since, [], last_id, count).items()}
        answer = client.post("batch.json", json={"halt": 1, "cmd": commands}).json()["result"]
        return chained_results(batch_section(answer["result"]), batch_section(answer["result_error"]), count)

    def modified(self, record: dict[str, Any]) -> datetime:
        return datetime.fromisoformat(record["DATE_MODIFY"])

    def page_calls(self, sandbox: Any) -> list[dict[str, Any]]:
        return [c for c in sandbox.api_calls() if c["method"] in ("crm.deal.list", "batch")]

    def request_of(self, call: dict[str, Any]) -> Any:
        return call["method"], call["params"]


CRMS: dict[str, CRM] = {crm.kind: crm for crm in (HubSpot(), Pipedrive(), AmoCRM(), Bitrix24())}
