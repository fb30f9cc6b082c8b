"""`qualify analytics run|import|suggest`: the portrait analytics from the command line (registered by
service/cli.py; docs/analytics.md)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from service.config import Settings
from service.errors import ServiceError


def _runtime(settings: Settings):  # type: ignore[no-untyped-def]
    from service.runtime import build_runtime

    return build_runtime(settings)


def _fail(command: str, exc: ServiceError) -> int:
    print(f"qualify analytics {command}: {exc.detail}", file=sys.stderr)
    for path, messages in (exc.errors or {}).items():
        for message in messages:
            print(f"  {path}: {message}", file=sys.stderr)
    return 2


def _progress_bar(label: str) -> tuple[Any, Callable[[dict[str, Any]], None]]:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   console=Console(stderr=True))
    task = bar.add_task(label, total=None)

    def show(view: dict[str, Any]) -> None:
        bar.update(task, total=view["total"] or None, completed=view["done"])

    return bar, show


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    """Queue a portrait run with the given parameters and run it now, with a progress bar; exit 1 when it
    failed, 2 for bad parameters."""
    from service.services.analytics.runs import queue_run, run_portrait

    params: dict[str, Any] = {"as_of": args.as_of, "xyz_mode": args.xyz_mode, "period_months": args.period_months,
                              "min_purchases": args.min_purchases, "basis": args.basis,
                              "hysteresis": args.hysteresis, "base": args.base}
    if args.cutoffs:
        params["abc_cutoffs"] = [part.strip() for part in args.cutoffs.split(",")]
    if args.rates:
        params["rates"] = dict(part.split("=", 1) for part in args.rates.split(",") if "=" in part)
    runtime = _runtime(settings)
    try:
        queued = queue_run(runtime, params, trigger="cli")
    except ServiceError as exc:
        return _fail("run", exc)
    bar, show = _progress_bar("reading purchases")
    with bar:
        done = run_portrait(runtime, queued["id"], show)
    if done["status"] != "done":
        print(f"analytics run {done['id']} failed: {done['error']}", file=sys.stderr)
        return 1
    from service.services.analytics.views import latest_result

    for c in latest_result(runtime)["currencies"]:
        summary = c["message"] if not c["enough"] else \
            f"{c['customers']} customers; " + ", ".join(f"{r['name']} {r['customers']}" for r in c["abc"]["rows"])
        print(f"{c['currency'] or 'all'}: {summary}")
    print(f"analytics run {done['id']} done as of {done['as_of']}")
    return 0


def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    """Import a purchase log (CSV, or whitespace-separated with --delimiter whitespace) in one transaction; every
    bad row is listed and then nothing is imported (exit 2)."""
    from service.services.analytics.imports import ImportSpec, import_purchases, parse_mapping

    try:
        text = Path(args.file).read_text(encoding=args.encoding)
    except (OSError, UnicodeDecodeError) as exc:
        print(f"qualify analytics import: cannot read {args.file}: {exc}", file=sys.stderr)
        return 2
    delimiter = {"tab": "\t", "\\t": "\t", "space": "whitespace"}.get(args.delimiter, args.delimiter)
    try:
        spec = ImportSpec(args.dataset, parse_mapping(args.map), args.currency, args.date_format, delimiter)
        found = import_purchases(_runtime(settings), text, spec)
    except ServiceError as exc:
        return _fail("import", exc)
    print(f"{args.file}: {found['rows']} rows, {found['added']} purchases added, {found['existing']} already "
          f"imported, {found['customers_added']} new customers (dataset {args.dataset})")
    return 0


def cmd_suggest(args: argparse.Namespace, settings: Settings) -> int:
    """Print the suggested persona of a segment (the draft, its evidence, how the current personas compare);
    with --create, create it."""
    from service.services.analytics.suggest import create_suggested_persona, suggested_persona

    runtime = _runtime(settings)
    try:
        found = suggested_persona(runtime, args.segment, args.anti)
        if not found["enough"]:
            print(found["message"])
        for ev in found["evidence"]:
            print(f"{ev['kind']:<12} {ev['text']} -> weight {ev['weight']:g}")
        for c in found["comparison"]:
            print(("agrees:   " if c["agrees"] else "disagrees: ") + c["text"])
        print(json.dumps(found["draft"], ensure_ascii=False, indent=2))
        if args.create:
            persona = create_suggested_persona(runtime, args.segment, args.anti)
            print(f"persona {persona['id']} created: {persona['name']}")
    except ServiceError as exc:
        return _fail("suggest", exc)
    return 0


def register(sub: Any) -> None:
    """Add `analytics run|import|suggest` to the `qualify` subcommands."""
    analytics = sub.add_parser("analytics", help="the portrait from the purchase history: ABC-XYZ, RFM, "
                               "suggested personas").add_subparsers(dest="analytics_command", required=True)
    run = analytics.add_parser("run", help="compute ABC-XYZ and RFM now, with a progress bar")
    run.add_argument("--as-of", help="the day the analysis is for, YYYY-MM-DD (default: today)")
    run.add_argument("--cutoffs", help="ABC cut-offs in percent, e.g. 80,15,5")
    run.add_argument("--basis", choices=("revenue", "margin"))
    run.add_argument("--xyz-mode", choices=("adaptive", "textbook"))
    run.add_argument("--period-months", type=int)
    run.add_argument("--min-purchases", type=int)
    run.add_argument("--rates", help="units of --base per unit of each currency, e.g. EUR=1.08,RUB=0.011")
    run.add_argument("--base", help="the currency --rates convert into")
    run.add_argument("--hysteresis", type=float, help="score points past a border before a segment changes (0.5)")
    run.set_defaults(func=cmd_run)
    imp = analytics.add_parser("import", help="import a purchase log (CSV or whitespace-separated) in one go")
    imp.add_argument("file")
    imp.add_argument("--dataset", required=True, help="its name; customers get the source import:NAME")
    imp.add_argument("--map", required=True,
                     help="customer=COL,date=COL,amount=COL[,currency=COL,margin=COL,id=COL] (header names)")
    imp.add_argument("--currency", help="the currency of every row without a currency column")
    imp.add_argument("--date-format", help="strptime format, e.g. %%Y%%m%%d (default YYYY-MM-DD)")
    imp.add_argument("--delimiter", default=",", help="one character, tab, or whitespace (default ,)")
    imp.add_argument("--encoding", default="utf-8-sig")
    imp.set_defaults(func=cmd_import)
    suggest = analytics.add_parser("suggest", help="the persona the data suggest for a segment")
    suggest.add_argument("segment", help="an RFM segment (Champions) or an ABC x XYZ cell (AX)")
    suggest.add_argument("--anti", help="the worst segment for disqualifiers (default Lost, or CZ)")
    suggest.add_argument("--create", action="store_true", help="create the persona from the draft")
    suggest.set_defaults(func=cmd_suggest)
