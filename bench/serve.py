"""The servers of bench/webhook_load.py, each exactly as `qualify serve` serves Qualify: the same gunicorn
application (gthread, processes, threads, hooks), its access log and logging set-up, prometheus-client's
multiprocess folder. `--app bare` answers from bench.apps:bare_app instead; `--profile` has every request
profiled (cProfile of each thread's CPU time, from gunicorn's pre_request to its post_request hook, so the access
log is in), each web process writing its threads' profiles to BENCH_PROFILE_DIR when it exits.

Run: ``python -m bench.serve --app qualify|bare --port N [--workers 2] [--threads 8] [--profile]`` with the
QUALIFY_* environment.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import threading
import time
from pathlib import Path
from typing import Any

from service.config import Settings
from service.logs import configure_logging
from service.metrics_export import prepare_multiprocess
from service.serve import QualifyServer, _pre_request

_local = threading.local()
_profiles: list[cProfile.Profile] = []


def _profile() -> cProfile.Profile:
    profile = getattr(_local, "profile", None)
    if profile is None:
        # CPU time of this thread: waits for the database or a lock do not count, what the request computes does
        profile = _local.profile = cProfile.Profile(time.thread_time)
        _profiles.append(profile)
    return profile


def _start(worker: Any, request: Any) -> None:
    _profile().enable()
    _pre_request(worker, request)


def _stop(worker: Any, request: Any, environ: Any, response: Any) -> None:
    _profile().disable()


def _dump(worker: Any) -> None:
    folder = Path(os.environ["BENCH_PROFILE_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    for n, profile in enumerate(_profiles):
        profile.dump_stats(folder / f"{os.getpid()}-{n}.prof")


class BenchServer(QualifyServer):
    """`qualify serve`'s gunicorn application, serving Qualify or the bare baseline, profiled or not."""

    def __init__(self, settings: Settings, host: str, port: int, workers: int, threads: int, *, bare: bool,
                 profile: bool) -> None:
        self.bare, self.profile = bare, profile
        super().__init__(settings, host, port, workers, threads)

    def load_config(self) -> None:
        super().load_config()
        if self.profile:
            self.cfg.set("pre_request", _start)
            self.cfg.set("post_request", _stop)
            self.cfg.set("worker_exit", lambda server, worker: _dump(worker))

    def load(self) -> Any:
        if not self.bare:
            return super().load()
        from bench.apps import bare_app

        return bare_app()


def print_profiles(folder: Path, top: int = 30) -> None:
    """The merged profiles in `folder`: the `top` functions by own time, then by cumulative time."""
    files = sorted(str(p) for p in folder.glob("*.prof"))
    if not files:
        print("  no profiles written")
        return
    for order in ("tottime", "cumulative"):
        out = io.StringIO()
        pstats.Stats(*files, stream=out).strip_dirs().sort_stats(order).print_stats(top)
        for line in out.getvalue().splitlines():
            if line.strip():
                print(f"  profile[{order}] {line}")


def main() -> None:
    """Serve until terminated."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--app", choices=("qualify", "bare"), default="qualify")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    settings = Settings.from_env()
    configure_logging(settings.log_level, fmt=settings.log_format)
    prepare_multiprocess(settings)
    BenchServer(settings, args.host, args.port, args.workers, args.threads, bare=args.app == "bare",
                profile=args.profile).run()


if __name__ == "__main__":
    main()
