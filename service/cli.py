"""The `qualify` command: migrate, bootstrap, serve, worker, scheduler, keys, config, sandbox, demo, analytics."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence

from service.config import Settings, SettingsError
from service.logs import configure_logging


def _runtime(settings: Settings):  # type: ignore[no-untyped-def]
    from service.runtime import build_runtime

    return build_runtime(settings)


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    """Apply every migration to the configured database, then move secrets older versions stored in plain
    text into the encrypted secrets."""
    from service.migrate import upgrade
    from service.services.secret_upgrades import move_base_url_secrets

    runtime = _runtime(settings)
    upgrade(runtime.engine)
    moved = move_base_url_secrets(runtime)
    print(f"database migrated: {runtime.engine.url.render_as_string(hide_password=True)}"
          + (f"; the secret part of {moved} connections' base URLs is now encrypted" if moved else ""))
    return 0


def cmd_bootstrap(args: argparse.Namespace, settings: Settings) -> int:
    """Print a one-time admin key if the database has none."""
    from service.services.keys import bootstrap_admin_key

    key = bootstrap_admin_key(_runtime(settings))
    if key:
        print("=" * 72)
        print("Bootstrap admin API key (shown once, stored hashed; keep it safe):")
        print(f"    {key}")
        print("Use it as:  Authorization: Bearer <key>")
        print("=" * 72)
    else:
        print("an admin key exists already; make more with `qualify keys create --role admin`")
    return 0


def cmd_keys_create(args: argparse.Namespace, settings: Settings) -> int:
    """Create an API key with a role (and optionally an expiry) and print it once."""
    from service.services.keys import create_key

    try:
        key = create_key(_runtime(settings), args.role, args.name or args.role, expires_in_days=args.expires_in_days)
    except ValueError as exc:
        print(f"qualify keys create: {exc}", file=sys.stderr)
        return 2
    print(key)
    return 0


def cmd_keys_list(args: argparse.Namespace, settings: Settings) -> int:
    """List the API keys (prefix, role, state, last used, expiry, name; times in UTC); secrets are never shown."""
    from service.services.keys import list_keys

    for key in list_keys(_runtime(settings)):
        state = f"revoked {key['revoked_at']:%Y-%m-%d %H:%M}" if key["revoked_at"] else key["state"]
        used = f"used {key['last_used_at']:%Y-%m-%d %H:%M}" if key["last_used_at"] else "never used"
        expires = f"expires {key['expires_at']:%Y-%m-%d %H:%M}" if key["expires_at"] else "no expiry"
        print(f"{key['prefix']}  {key['role']:<7}  {state:<24}  {used:<21}  {expires:<24}  {key['name']}")
    return 0


def cmd_keys_revoke(args: argparse.Namespace, settings: Settings) -> int:
    """Revoke a key by its prefix; it stops working at once. Exit 1 when no live key has that prefix."""
    from service.services.keys import revoke_key

    if revoke_key(_runtime(settings), args.prefix):
        print(f"key {args.prefix} revoked")
        return 0
    print(f"qualify keys revoke: no live key with prefix {args.prefix!r} (see `qualify keys list`)", file=sys.stderr)
    return 1


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    """Serve the API (and, embedded, the worker and scheduler)."""
    from service.serve import serve

    serve(settings, args.host, args.port, workers=args.workers)
    return 0


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    """Run the event/outbox worker alone until SIGTERM/SIGINT (its metrics on QUALIFY_METRICS_PORT when set), or
    until nothing is left to do."""
    from service.jobs.worker import Worker
    from service.metrics_export import serve_metrics

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    if not args.until_idle:
        serve_metrics(settings, "worker")
    worker = Worker(_runtime(settings), stop)
    if args.until_idle:
        worker.run_until_idle()
    else:
        worker.run_forever()
    return 0


def cmd_scheduler(args: argparse.Namespace, settings: Settings) -> int:
    """Run the periodic jobs alone until SIGTERM/SIGINT, its metrics on QUALIFY_METRICS_PORT when set (a standby's
    too)."""
    from service.jobs.scheduler import run_scheduler
    from service.metrics_export import serve_metrics

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    serve_metrics(settings, "scheduler")
    run_scheduler(_runtime(settings), stop)  # leads while it holds the scheduler lock, waits otherwise
    return 0


def cmd_sync(args: argparse.Namespace, settings: Settings) -> int:
    """Sync one connection now, showing progress; exit 1 when the run failed."""
    from service.errors import ServiceError
    from service.services.sync_runs import sync_now

    def show(progress: object) -> None:
        print(f"\rpage {getattr(progress, 'pages', 0)}: {getattr(progress, 'fetched', 0)} deals read, "
              f"{getattr(progress, 'moves', 0)} moves checked", end="", file=sys.stderr, flush=True)

    try:
        result = sync_now(_runtime(settings), args.connection, full=args.full, trigger="cli", progress=show)
    except ServiceError as exc:
        print(f"qualify sync: {exc.detail}", file=sys.stderr)
        return 2
    print(file=sys.stderr)
    print(f"sync run {result['id']}: {result['status']}; {result['fetched']} deals in {result['pages']} pages, "
          f"{result['created']} new, {result['moves']} moves checked"
          + (f"; error: {result['last_error']}" if result["last_error"] else ""))
    return 0 if result["status"] == "done" else 1


def cmd_retention(args: argparse.Namespace, settings: Settings) -> int:
    """Delete now what is past its retention period (the scheduler does it nightly); prints the rows deleted."""
    from service.services.retention import purge_expired

    purged = purge_expired(_runtime(settings))
    print(", ".join(f"{table}: {count}" for table, count in purged.items()))
    return 0


def cmd_rescore(args: argparse.Namespace, settings: Settings) -> int:
    """Rescore every open record for one persona (or all), showing progress; exit 1 when it failed."""
    from service.errors import ServiceError
    from service.services.rescore import rescore_now

    def show(progress: object) -> None:
        done, total = getattr(progress, "done", 0), getattr(progress, "total", 0) or 1
        print(f"\rscored {done}/{total} records ({100 * done / total:.0f}%)", end="", file=sys.stderr, flush=True)

    try:
        result = rescore_now(_runtime(settings), args.persona, show)
    except ServiceError as exc:
        print(f"qualify rescore: {exc.detail}", file=sys.stderr)
        return 2
    print(file=sys.stderr)
    print(f"rescore run {result['id']}: {result['status']}; {result['done']} records scored"
          + (f"; error: {result['last_error']}" if result["last_error"] else ""))
    return 0 if result["status"] == "done" else 1


def cmd_report(args: argparse.Namespace, settings: Settings) -> int:
    """Write the qualification report for a period as json, csv or xlsx (to a file, or json to stdout)."""
    import json
    from datetime import date

    from service.services.reports.exports import ReportFile, report_for
    from service.services.reports.filters import report_filter

    if args.format != "json" and not args.output:
        print("qualify report: csv and xlsx need -o FILE", file=sys.stderr)
        return 2
    runtime = _runtime(settings)
    try:
        period = {"from_": date.fromisoformat(args.start) if args.start else None,
                  "to": date.fromisoformat(args.end) if args.end else None}
    except ValueError as exc:
        print(f"qualify report: {exc} (dates are YYYY-MM-DD)", file=sys.stderr)
        return 2
    if period["from_"] and period["to"] and period["from_"] > period["to"]:
        print("qualify report: --from is after --to", file=sys.stderr)
        return 2
    found = report_for(runtime, report_filter({**period, "connection_id": args.connection, "owner": args.owner,
                                               "pipeline": args.pipeline}, runtime.clock().date()),
                       args.language, args.format)
    content = found.content if isinstance(found, ReportFile) else \
        json.dumps(found, default=lambda v: v.isoformat() if hasattr(v, "isoformat") else str(v),
                   ensure_ascii=False, indent=2).encode()
    if args.output:
        with open(args.output, "wb") as out:
            out.write(content)
        print(f"report written to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(content.decode() + "\n")
    return 0


def cmd_sandbox(args: argparse.Namespace, settings: Settings) -> int:
    """Run a CRM simulator alone (the registry names its module)."""
    from importlib import import_module

    from adapters.registry import kind_of

    options = dict(option.split("=", 1) for option in args.set)
    options.update({name: value for name, value in (("client_secret", args.client_secret),
                                                    ("access_token", args.access_token)) if value is not None})
    import_module(kind_of(args.crm).sandbox).run_forever(args.host, args.port, args.webhook_url, **options)
    return 0


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    """Play the qualification story against a CRM's sandbox and narrate it."""
    if args.crm is None:
        # The full story (five fields, two gates, the task read back), on the HubSpot sandbox; --crm plays the
        # short story every CRM's sandbox supports (its demo_scenario()).
        from service.demo import run_demo

        return run_demo(verbose=args.verbose, keep=args.keep)
    from service.demo_crms import run_crm_demo

    return run_crm_demo(args.crm)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `qualify`."""
    from adapters.registry import REGISTRY

    parser = argparse.ArgumentParser(prog="qualify", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="apply database migrations").set_defaults(func=cmd_migrate)
    sub.add_parser("bootstrap", help="print a one-time admin key if none exists").set_defaults(func=cmd_bootstrap)
    serve = sub.add_parser("serve", help="serve the API (worker embedded unless QUALIFY_EMBEDDED_WORKER=0)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=None, help="gunicorn processes")
    serve.set_defaults(func=cmd_serve)
    worker = sub.add_parser("worker", help="process events and deliver CRM actions")
    worker.add_argument("--until-idle", action="store_true", help="stop when nothing is left to do")
    worker.set_defaults(func=cmd_worker)
    sub.add_parser("scheduler", help="run the periodic jobs").set_defaults(func=cmd_scheduler)
    keys = sub.add_parser("keys", help="API keys").add_subparsers(dest="keys_command", required=True)
    create = keys.add_parser("create", help="create a key and print it once")
    create.add_argument("--role", choices=("admin", "manager"), required=True)
    create.add_argument("--name", default=None)
    create.add_argument("--expires-in-days", type=int, default=None, metavar="N",
                        help="the key stops working N days from now (default: never)")
    create.set_defaults(func=cmd_keys_create)
    keys.add_parser("list", help="list keys (prefix, role, state, last use, expiry, name; never the secret)"
                    ).set_defaults(func=cmd_keys_list)
    revoke = keys.add_parser("revoke", help="revoke a key at once, by the prefix `keys list` shows")
    revoke.add_argument("prefix", help="the 8 characters after qk_")
    revoke.set_defaults(func=cmd_keys_revoke)
    sync = sub.add_parser("sync", help="sync one connection now (incremental, or --full)")
    sync.add_argument("connection", type=int, help="connection id")
    sync.add_argument("--full", action="store_true", help="read every deal, not only those changed since last time")
    sync.set_defaults(func=cmd_sync)
    sub.add_parser("retention", help="delete now what is past QUALIFY_RETENTION_DAYS / "
                   "QUALIFY_TRANSITION_RETENTION_DAYS (nightly by the scheduler)").set_defaults(func=cmd_retention)
    rescore = sub.add_parser("rescore", help="score every open record against the personas now")
    rescore.add_argument("--persona", help="persona id or name (default: every persona)")
    rescore.set_defaults(func=cmd_rescore)
    report = sub.add_parser("report", help="the qualification report for a period (json, csv, xlsx)")
    report.add_argument("--from", dest="start", help="first day, YYYY-MM-DD (default: 30 days before --to)")
    report.add_argument("--to", dest="end", help="last day, included, YYYY-MM-DD (default: today, UTC)")
    report.add_argument("--connection", type=int, help="one connection's id")
    report.add_argument("--pipeline", help="one pipeline's CRM id")
    report.add_argument("--owner", help="one owner's CRM id")
    report.add_argument("--format", choices=("json", "csv", "xlsx"), default="json")
    report.add_argument("--language", choices=("en", "ru"), default="en", help="of the rules next to the numbers")
    report.add_argument("-o", "--output", help="the file to write (json: stdout when not given)")
    report.set_defaults(func=cmd_report)
    sandbox = sub.add_parser("sandbox", help="run a CRM simulator on loopback")
    sandbox.add_argument("crm", choices=tuple(REGISTRY))
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--port", type=int, default=8100)
    sandbox.add_argument("--webhook-url", default=None)
    sandbox.add_argument("--client-secret", default=None, help="the secret signing its webhooks, where the CRM signs")
    sandbox.add_argument("--access-token", default=None, help="the token the simulator accepts")
    sandbox.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                         help="any other option of the simulator (repeatable)")
    sandbox.set_defaults(func=cmd_sandbox)
    demo = sub.add_parser("demo", help="play a manager moving deals against the sandbox")
    demo.add_argument("-v", "--verbose", action="store_true",
                      help="show the logs (on stderr) at QUALIFY_LOG_LEVEL, not only warnings")
    demo.add_argument("--keep", action="store_true", help="keep the service up after the story, to open its pages")
    demo.add_argument("--crm", choices=tuple(REGISTRY), default=None,
                      help="play the short story on this CRM's sandbox (default: the full story on HubSpot's)")
    demo.set_defaults(func=cmd_demo)
    from service import cli_analytics, cli_config

    cli_config.register(sub)
    cli_analytics.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `qualify` console script."""
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
        settings.check_deployment()
    except SettingsError as exc:
        print(f"qualify: {exc}", file=sys.stderr)
        return 2
    # Logs go to stderr, so a command's own output on stdout stays clean. The demo's stdout is its
    # narration: there the logs are quiet (warnings and errors only) unless -v/--verbose.
    configure_logging(settings.log_level, quiet=args.command == "demo" and not args.verbose, fmt=settings.log_format)
    result: int = args.func(args, settings)
    return result


if __name__ == "__main__":
    sys.exit(main())
