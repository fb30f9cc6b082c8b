"""Benchmark POST /v1/gate/check under gunicorn against a bare Flask JSON endpoint served the same way.

Run: ``python -m bench.gate_check``. Prints both request rates and their ratio (target >= 0.6).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from bench.common import bench_settings, configured_runtime, gunicorn, load, settings_env

SECONDS = 5.0


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
        with gunicorn("bench.apps:bare_app()", env) as base:
            bare, _ = load(f"{base}/v1/gate/check", headers=headers, body=body, seconds=SECONDS)
        with gunicorn("bench.apps:qualify_app()", env) as base:
            qualify, errors = load(f"{base}/v1/gate/check", headers=headers, body=body, seconds=SECONDS)
    print(f"gate/check: qualify {qualify:.0f} req/s, bare flask {bare:.0f} req/s, "
          f"ratio {qualify / bare:.2f} (target >= 0.6); non-2xx answers: {errors}")


if __name__ == "__main__":
    main()
