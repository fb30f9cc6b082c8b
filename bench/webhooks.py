"""Benchmark webhook intake and webhook-to-revert latency.

Run: ``python -m bench.webhooks``. Prints
- intake events/s on SQLite with one gunicorn process, single-event deliveries, against the
  same server answering from a bare Flask endpoint (ratio), plus events/s with 100-event batches;
- webhook-to-revert latency p50/p95 against the HubSpot sandbox (target p95 <= 1 s).
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from multiprocessing import Pool
from pathlib import Path

import httpx

from adapters.hubspot_webhooks import sign_v3
from bench.common import CLIENT_SECRET, bench_settings, configured_runtime, gunicorn, settings_env

SECONDS = 2.0
ROUNDS = 3
CLIENTS = 4


def _events(prefix: str, start: int, n: int) -> bytes:
    now = int(time.time() * 1000)
    return json.dumps([{
        "eventId": start + i, "subscriptionId": 7, "portalId": 1, "appId": 1, "occurredAt": now,
        "subscriptionType": "deal.propertyChange", "attemptNumber": 0, "objectId": 1000 + (start + i) % 500,
        "propertyName": "dealstage", "propertyValue": "qualifiedtobuy", "changeSource": prefix, "sourceId": "userId:1",
    } for i in range(n)]).encode()


def _client(args: tuple[str, int, int, float]) -> int:
    url, index, batch, seconds = args
    sent = 0
    deadline = time.monotonic() + seconds
    with httpx.Client(timeout=10) as client:
        while time.monotonic() < deadline:
            body = _events(f"CRM_UI{index}", index * 10_000_000 + sent, batch)
            ts = int(time.time() * 1000)
            headers = {"Content-Type": "application/json", "X-HubSpot-Request-Timestamp": str(ts),
                       "X-HubSpot-Signature-v3": sign_v3(CLIENT_SECRET, "POST", url, body, ts)}
            if client.post(url, content=body, headers=headers).status_code == 200:
                sent += batch
    return sent


def intake_rate(url: str, batch: int) -> float:
    """Events stored per second by CLIENTS concurrent senders."""
    with Pool(CLIENTS) as pool:
        counts = pool.map(_client, [(url, i, batch, SECONDS) for i in range(CLIENTS)])
    return sum(counts) / SECONDS


def measure_intake() -> None:
    """Qualify vs bare Flask, both under one gunicorn process."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = bench_settings(Path(tmp))
        runtime, cid, _ = configured_runtime(settings, n_fields=5)
        runtime.dispose()
        env = settings_env(settings)
        bare_rates, single_rates, batched_rates = [], [], []
        with gunicorn("bench.apps:bare_app()", env, workers=1, threads=4) as bare_url, \
                gunicorn("bench.apps:qualify_app()", env, workers=1, threads=4) as q_url:
            for _ in range(ROUNDS):  # interleaved, medians reported
                bare_rates.append(intake_rate(f"{bare_url}/v1/webhooks/{cid}", 1))
                single_rates.append(intake_rate(f"{q_url}/v1/webhooks/{cid}", 1))
                batched_rates.append(intake_rate(f"{q_url}/v1/webhooks/{cid}", 100))
    bare, single, batched = (statistics.median(r) for r in (bare_rates, single_rates, batched_rates))
    print(f"webhook intake (SQLite, 1 process, median of {ROUNDS}): {single:.0f} events/s single-event deliveries "
          f"(bare flask {bare:.0f} req/s, ratio {single / bare:.2f}); {batched:.0f} events/s in 100-event batches "
          f"(target >= 500/s)")


def measure_latency(moves: int = 40) -> None:
    """Time from a manager's move in the sandbox to Qualify's revert being visible there."""
    from adapters.sandbox.hubspot import HubSpotSandbox
    from service.demo import CLIENT_SECRET as DEMO_SECRET
    from service.demo import TOKEN, configure
    from service.harness import LiveService
    from service.services.keys import create_key

    with tempfile.TemporaryDirectory() as tmp:
        sandbox = HubSpotSandbox(client_secret=DEMO_SECRET, access_token=TOKEN, rate_limit=(10_000, 10.0))
        sandbox_url = sandbox.start()
        service = LiveService(bench_settings(Path(tmp)))
        base = service.start()
        try:
            key = create_key(service.runtime, "admin", "bench")
            with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}) as api:
                cid = configure(api, sandbox_url, str(sandbox.portal_id))
            httpx.post(f"{sandbox_url}/_sandbox/config", json={"webhook_url": f"{base}/v1/webhooks/{cid}"})
            samples = []
            for i in range(moves):
                deal = sandbox.ui_create_deal({"dealname": f"D{i}", "dealstage": "appointmentscheduled",
                                               "pipeline": "default", "hubspot_owner_id": "101"})
                sandbox.wait_webhooks_idle()
                time.sleep(0.05)
                started = time.monotonic()
                sandbox.ui_move_deal(deal, "qualifiedtobuy")
                while sandbox.deal(deal)["properties"]["dealstage"] != "appointmentscheduled":
                    if time.monotonic() - started > 10:
                        raise TimeoutError("no revert within 10 s")
                    time.sleep(0.002)
                samples.append(time.monotonic() - started)
        finally:
            service.stop()
            sandbox.stop()
    samples.sort()
    p50 = statistics.median(samples)
    p95 = samples[int(0.95 * (len(samples) - 1))]
    print(f"webhook-to-revert latency over {moves} moves: p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms "
          f"(target p95 <= 1000 ms; includes the sandbox's 50 ms batching window)")


if __name__ == "__main__":
    measure_intake()
    measure_latency()
