"""Benchmark POST /v1/gate/check under gunicorn against a bare Flask JSON endpoint served the same way.

Run: ``python -m bench.gate_check``. Prints both request rates and their ratio (target >= 0.6).
"""

from __future__ import annotations

import json
import statistics
import tempfile
from pathlib import Path

from bench.common import bench_settings, configured_runtime, gunicorn, load, settings_env

ROUNDS = 5
SECONDS = 2.0


def main() -> None:
    """Measure and print."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = bench_settings(Path(tmp))
        runtime, cid, key = configured_runtime(settings)
        runtime.dispose()
        body = json.dumps({"connection_id": cid, "pipeline": "default", "from_stage": "appointmentscheduled",
                           "to_stage": "qualifiedtobuy",
                           "values": {f"f{i:02d}": ("yes" if i == 0 else "x" if i % 2 else "filled value")
                                      for i in range(30)}}).encode()
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
        env = settings_env(settings)
        with gunicorn("bench.apps:bare_app()", env) as bare_url, gunicorn("bench.apps:qualify_app()", env) as q_url:
            # Interleaved rounds after a warm-up, medians reported: one noisy round does not decide.
            for url in (bare_url, q_url):
                load(f"{url}/v1/gate/check", headers=headers, body=body, seconds=1.0)
            bare_rates, qualify_rates, errors = [], [], 0
            for _ in range(ROUNDS):
                bare_rates.append(load(f"{bare_url}/v1/gate/check", headers=headers, body=body, seconds=SECONDS)[0])
                rate, bad = load(f"{q_url}/v1/gate/check", headers=headers, body=body, seconds=SECONDS)
                qualify_rates.append(rate)
                errors += bad
    bare, qualify = statistics.median(bare_rates), statistics.median(qualify_rates)
    print(f"gate/check (median of {ROUNDS} interleaved rounds): qualify {qualify:.0f} req/s, "
          f"bare flask {bare:.0f} req/s, ratio {qualify / bare:.2f} (target >= 0.6); non-2xx answers: {errors}")


if __name__ == "__main__":
    main()
