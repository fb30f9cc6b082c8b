"""`qualify demo`: the qualification story, played against the HubSpot sandbox and narrated."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from typing import Any

import httpx
from cryptography.fernet import Fernet

from adapters.sandbox.hubspot import HubSpotSandbox
from service.config import Settings
from service.harness import LiveService
from service.services.keys import create_key

CLIENT_SECRET = "demo-client-secret"
TOKEN = "pat-demo-token"
MANAGER = 45678

FIELDS: list[dict[str, Any]] = [
    {"key": "industry", "label": "Industry", "label_ru": "Отрасль", "type": "enum", "group": "firmographic",
     "constraints": {"options": ["retail", "manufacturing", "it", "finance", "other"]}},
    {"key": "company_size", "label": "Company size", "label_ru": "Размер компании", "type": "integer",
     "group": "firmographic", "constraints": {"min": 1}},
    {"key": "decision_maker", "label": "Talking to the decision maker", "type": "boolean", "group": "firmographic"},
    {"key": "budget", "label": "Budget", "label_ru": "Бюджет", "type": "money", "group": "behavioural",
     "constraints": {"min": 1000}},
    {"key": "pain_points", "label": "Pain points", "label_ru": "Боли", "type": "text", "group": "pains",
     "constraints": {"min_length": 10}},
]
MAPPINGS = [{"property": f["key"], "field": f["key"]} for f in FIELDS]
GATES: list[dict[str, Any]] = [
    {"stage": "qualifiedtobuy", "requirements": [{"field": "industry"}, {"field": "company_size"},
                                                 {"field": "decision_maker"}]},
    {"stage": "presentationscheduled", "requirements": [
        {"field": "pain_points"},
        {"field": "budget", "required_if": {"field": "industry", "op": "ne", "value": "other"}}]},
]


class Narrator:
    """Prints the story on stdout, one timeline line per step with the time since the story began.

    Nothing else of the demo goes to stdout: logs go to stderr (see `service.cli.main`).
    """

    def __init__(self) -> None:
        self.t0 = time.monotonic()

    def say(self, text: str) -> None:
        """One line of the timeline."""
        print(f"[{time.monotonic() - self.t0:6.2f}s] {text}", flush=True)

    def more(self, text: str) -> None:
        """A continuation of the previous timeline line (a quoted text), indented under it."""
        print(f"{'':10} | {text}", flush=True)


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Poll until `predicate()` is truthy; raises TimeoutError."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise TimeoutError("the expected change did not happen in time")


def configure(api: httpx.Client, sandbox_url: str, portal_id: str) -> int:
    """Set up fields, the HubSpot connection, mappings and gates through the REST API."""
    for field in FIELDS:
        api.post("/v1/fields", json=field).raise_for_status()
    connection = api.post("/v1/connections", json={
        "name": "Demo HubSpot", "kind": "hubspot", "base_url": sandbox_url, "access_token": TOKEN,
        "client_secret": CLIENT_SECRET, "account_id": portal_id}).raise_for_status().json()
    cid = int(connection["id"])
    api.post(f"/v1/connections/{cid}/pipelines/refresh").raise_for_status()
    api.put(f"/v1/connections/{cid}/mappings", json={"mappings": MAPPINGS}).raise_for_status()
    for gate in GATES:
        api.post("/v1/gates", json={"connection_id": cid, "pipeline": "default", "mode": "enforce", **gate}
                 ).raise_for_status()
    return cid


def run_demo(verbose: bool = False, keep: bool = False) -> int:
    """Play the story; 0 when every step happened as expected.

    `verbose` is accepted for the command line's sake: how much is logged (on stderr) is set by the
    caller's logging configuration; the narration on stdout is the same either way. With `keep` the
    service stays up after the story (its pages signed in to with the demo's admin key) until Ctrl-C.
    """
    narrator = Narrator()
    say = narrator.say
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(instance_path=tmp, secret_key=Fernet.generate_key().decode(),
                            allow_loopback_crm=True, worker_poll_seconds=0.05).resolved()
        sandbox = HubSpotSandbox(client_secret=CLIENT_SECRET, access_token=TOKEN)
        sandbox_url = sandbox.start()
        service = LiveService(settings)
        try:
            base = service.start()
            say(f"HubSpot sandbox on {sandbox_url}, Qualify on {base}")
            key = create_key(service.runtime, "admin", "demo")
            with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=10) as api:
                cid = configure(api, sandbox_url, str(sandbox.portal_id))
                hook = f"{base}/v1/webhooks/{cid}"
                httpx.post(f"{sandbox_url}/_sandbox/config", json={"webhook_url": hook}).raise_for_status()
                say("admin: 5 portrait fields, gates on 'Qualified To Buy' and 'Presentation Scheduled'")
                outcome = _story(narrator, sandbox, api)
                if keep:
                    say(f"serving until Ctrl-C; sign in at {base}/signin with the admin key {key}")
                    _wait_for_interrupt()
                return outcome
        finally:
            service.stop()
            sandbox.stop()


def _story(narrator: Narrator, sandbox: HubSpotSandbox, api: httpx.Client) -> int:
    say = narrator.say
    deal = sandbox.ui_create_deal({"dealname": "Acme Retail", "dealstage": "appointmentscheduled",
                                   "pipeline": "default", "amount": "12000", "hubspot_owner_id": "101"},
                                  user_id=MANAGER)
    say(f"manager creates deal {deal} 'Acme Retail' in 'Appointment Scheduled'")
    wait_for(lambda: api.get("/v1/transitions").json()["total"])  # Qualify has seen the new deal
    sandbox.ui_move_deal(deal, "presentationscheduled", user_id=MANAGER)
    say("manager drags it to 'Presentation Scheduled', skipping a stage, portrait empty")
    wait_for(lambda: sandbox.deal(deal)["properties"]["dealstage"] == "appointmentscheduled")
    say("BLOCKED: Qualify moved the deal back to 'Appointment Scheduled'")
    tasks = wait_for(lambda: sandbox.tasks_for_deal(deal))
    task = tasks[0]["properties"]
    say(f"task for owner {task.get('hubspot_owner_id')}: {task['hs_task_subject']}")
    for line in task["hs_task_body"].splitlines():
        if line.strip() and "qualify-ref" not in line:
            narrator.more(line)
    sandbox.ui_update_deal(deal, {"industry": "retail", "company_size": "120", "decision_maker": "true",
                                  "budget": "25000", "pain_points": "Manual order entry loses 10% of orders"},
                           user_id=MANAGER)
    say("manager fills industry, company size, decision maker, budget and pain points")
    sandbox.ui_move_deal(deal, "presentationscheduled", user_id=MANAGER)
    say("manager moves it to 'Presentation Scheduled' again")
    allowed = wait_for(lambda: _last_decision(api, "allowed"))
    time.sleep(0.5)
    stage = sandbox.deal(deal)["properties"]["dealstage"]
    ok = stage == "presentationscheduled" and len(sandbox.tasks_for_deal(deal)) == 1
    say(f"ALLOWED: decision '{allowed['decision']}', deal stays in '{stage}', no new task")
    report = api.get("/v1/reports/qualification").raise_for_status().json()
    say(f"report: {api.base_url.join('/reports')} (`qualify demo --keep` keeps it open to sign in)")
    for line in report_summary(report):
        narrator.more(line)
    say("demo finished: " + ("every step happened as expected" if ok else "UNEXPECTED OUTCOME"))
    return 0 if ok else 1


def _wait_for_interrupt() -> None:
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.0f}%"


def report_summary(report: dict[str, Any]) -> list[str]:
    """Three lines of the qualification report: the gates' ledger, the portrait and the personas, the wins."""
    rows = report["compliance"]["rows"]
    moves, blocked = sum(r["moves"] for r in rows), sum(r["blocked"] for r in rows)
    passed = sum(r["passed_after_block"] for r in rows)
    team, pays = report["owners"]["team"], report["pays"]
    win = pays["win_rate"]
    won = f"win rate {_percent(win['value'])}" if win["enough"] else f"not enough data for a win rate (n={win['n']})"
    return [f"{moves} moves into gated stages, {blocked} blocked ({_percent(team['blocked_share'])}), "
            f"{passed} passed after filling the portrait",
            f"portrait complete at entry: {_percent(team['completeness'])}; deals matching no persona: "
            f"{_percent(report['persona_mix']['no_persona']['share'])}",
            f"{pays['closed']} deals closed in the last 30 days: {won}"]


def _last_decision(api: httpx.Client, decision: str) -> dict[str, Any] | None:
    items = api.get("/v1/transitions", params={"decision": decision}).json()["items"]
    return next((t for t in items if t["to_stage"] == "presentationscheduled"), None)
