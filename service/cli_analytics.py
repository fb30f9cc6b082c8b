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


def _bar() -> Any:
    """A rich progress display on stderr (stdout stays the command's parseable output): a description, a bar,
    done/total and the time elapsed per task."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=Console(stderr=True))


def _progress_bar(label: str) -> tuple[Any, Callable[[dict[str, Any]], None]]:
    bar = _bar()
    task = bar.add_task(label, total=None)

    def show(view: dict[str, Any]) -> None:
        bar.update(task, total=view["total"] or None, completed=view["done"])

    return bar, show


OPTIONS = {"abc_cutoffs": "--cutoffs"}  # a run parameter's option when it is not --<name with dashes>


def _messages(path: str, found: Any) -> list[str]:
    if isinstance(found, dict):
        return [m for key, inner in found.items() for m in _messages(f"{path}.{key}", inner)]
    return [f"{path}: {m}" for m in (found if isinstance(found, list) else [found])]


def run_params(args: argparse.Namespace) -> dict[str, Any]:
    """The run parameters the options give, checked by the API's RunParamsSchema (the same ranges and messages);
    InvalidInputError naming each bad option."""
    from marshmallow import ValidationError

    from schemas.analytics import RunParamsSchema
    from service.errors import InvalidInputError

    raw: dict[str, Any] = {k: v for k, v in {
        "as_of": args.as_of, "basis": args.basis, "xyz_mode": args.xyz_mode, "period_months": args.period_months,
        "horizon_months": args.horizon_months, "min_purchases": args.min_purchases,
        "min_periods": args.min_periods, "base": args.base, "hysteresis": args.hysteresis,
        "acquisition_cost": args.acquisition_cost}.items() if v is not None}
    problems: dict[str, list[str]] = {}
    if args.cutoffs:
        raw["abc_cutoffs"] = [part.strip() for part in args.cutoffs.split(",")]
    if args.rates:
        pairs = [part.strip() for part in args.rates.split(",") if part.strip()]
        bad = [p for p in pairs if "=" not in p]
        if bad:
            problems["--rates"] = [f"{p!r} is not CURRENCY=RATE" for p in bad]
        raw["rates"] = {c.strip(): r.strip() for c, _, r in (p.partition("=") for p in pairs if "=" in p)}
    try:
        params: dict[str, Any] = RunParamsSchema().load(raw)
    except ValidationError as exc:
        for name, found in dict(exc.messages).items():  # type: ignore[arg-type]
            option = OPTIONS.get(str(name), "--" + str(name).replace("_", "-"))
            for line in _messages(option, found):
                key, _, message = line.partition(": ")
                problems.setdefault(key, []).append(message)
        params = {}
    if problems:
        raise InvalidInputError("Invalid analytics parameters.", problems)
    return params


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    """Queue a portrait run with the given parameters and run it now, with a progress bar; exit 1 when it
    failed, 2 for bad parameters."""
    from service.services.analytics.runs import queue_run, run_portrait

    try:
        params = run_params(args)
    except ServiceError as exc:
        return _fail("run", exc)
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
    """Import a purchase log (CSV, or whitespace-separated with --delimiter whitespace) in one transaction, with
    progress bars over the rows parsed and then the purchases written; every bad row is listed and then nothing
    is imported (exit 2)."""
    from service.services.analytics.imports import PARSED, ImportSpec, import_purchases, parse_mapping

    try:
        text = Path(args.file).read_text(encoding=args.encoding)
    except (OSError, UnicodeDecodeError) as exc:
        print(f"qualify analytics import: cannot read {args.file}: {exc}", file=sys.stderr)
        return 2
    delimiter = {"tab": "\t", "\\t": "\t", "space": "whitespace"}.get(args.delimiter, args.delimiter)
    try:
        spec = ImportSpec(args.dataset, parse_mapping(args.map), args.currency, args.date_format, delimiter)
        runtime = _runtime(settings)
        bar = _bar()
        tasks = {PARSED: bar.add_task("rows parsed", total=None),
                 "written": bar.add_task("purchases written", total=None)}

        def show(phase: str, done: int, total: int) -> None:
            bar.update(tasks[phase], total=total, completed=done)

        with bar:
            found = import_purchases(runtime, text, spec, show)
    except ServiceError as exc:
        return _fail("import", exc)
    print(f"{args.file}: {found['rows']} rows, {found['added']} purchases added, {found['existing']} already "
          f"imported, {found['customers_added']} new customers (dataset {args.dataset})")
    return 0


def cmd_suggest(args: argparse.Namespace, settings: Settings) -> int:
    """Print the suggested persona of a segment (the draft, its evidence, how the current personas compare),
    with a progress bar over its phases; with --create, create it."""
    from service.services.analytics.suggest import PHASES, create_suggested_persona, suggested_persona

    runtime = _runtime(settings)
    bar = _bar()
    task = bar.add_task("suggesting", total=len(PHASES) + (1 if args.create else 0))

    def step(phase: str) -> None:
        bar.update(task, advance=1, description=phase)

    persona: dict[str, Any] | None = None
    refused: ServiceError | None = None
    try:
        with bar:
            found = suggested_persona(runtime, args.segment, args.anti, progress=step)
            if args.create:
                try:
                    persona = create_suggested_persona(runtime, args.segment, args.anti)
                except ServiceError as exc:
                    refused = exc
                step("persona created" if refused is None else "persona not created")
    except ServiceError as exc:
        return _fail("suggest", exc)
    if not found["enough"]:
        print(found["message"])
    for ev in found["evidence"]:
        print(f"{ev['kind']:<12} {ev['text']} -> weight {ev['weight']:g}")
    for c in found["comparison"]:
        print(("agrees:   " if c["agrees"] else "disagrees: ") + c["text"])
    print(json.dumps(found["draft"], ensure_ascii=False, indent=2))
    if refused is not None:
        return _fail("suggest", refused)
    if persona is not None:
        print(f"persona {persona['id']} created: {persona['name']}")
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
    run.add_argument("--period-months", type=int, help="XYZ period in months, 1-12 (1)")
    run.add_argument("--horizon-months", type=int, help="XYZ horizon in months, 2-120 (24)")
    run.add_argument("--min-purchases", type=int, help="purchases a customer needs for XYZ, 1-1000 (2)")
    run.add_argument("--min-periods", type=int, help="periods a customer needs for XYZ, 2-120 (6)")
    run.add_argument("--acquisition-cost", help="cost of acquiring a customer, for ROI (a positive number)")
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
