"""`qualify config export|apply`: configuration as code from the command line (registered by service/cli.py)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from service.config import Settings


def cmd_config_export(args: argparse.Namespace, settings: Settings) -> int:
    """Write the configuration (fields, mappings, gates, personas, connection settings; never secrets) as YAML or
    JSON, to stdout or -o FILE; exit 1 when it cannot be exported (two connections with one name)."""
    import json

    from service.errors import ServiceError
    from service.runtime import build_runtime
    from service.services.config_io.export import export_config, export_yaml

    runtime = build_runtime(settings)
    try:
        text = export_yaml(runtime) if args.format == "yaml" else \
            json.dumps(export_config(runtime), ensure_ascii=False, indent=2) + "\n"
    except ServiceError as exc:
        print(f"qualify config export: {exc.detail}", file=sys.stderr)
        return 1
    if args.output:
        with open(args.output, "w", encoding="utf-8") as out:
            out.write(text)
        print(f"configuration written to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def _replay_days(text: str) -> int:
    """--replay-days: a whole number of days, 1 to 730."""
    if not text.isdigit() or not 1 <= int(text) <= 730:
        raise argparse.ArgumentTypeError(f"give 1 to 730 days, not {text!r}")
    return int(text)


def cmd_config_apply(args: argparse.Namespace, settings: Settings) -> int:
    """Print the plan of a configuration file, with the impact of the gates it changes (replaying --replay-days of
    moves), and apply it in one transaction (with --dry-run, only plan). Exit 1 listing every error (file:line:
    path: what is wrong) when it cannot be applied; nothing is changed then."""
    from service.errors import ServiceError
    from service.runtime import build_runtime
    from service.services.config_io.apply import apply_config
    from service.services.config_io.document import ConfigFileError

    try:
        if args.file == "-":
            content = sys.stdin.buffer.read()
        else:
            with open(args.file, "rb") as source:
                content = source.read()
    except OSError as exc:
        print(f"qualify config apply: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 2
    name = "<stdin>" if args.file == "-" else args.file
    try:
        plan = apply_config(build_runtime(settings), content, source=name, as_json=name.endswith(".json"),
                            dry_run=args.dry_run, replay_days=args.replay_days)
    except ConfigFileError as exc:
        print("\n".join([*exc.messages(), f"qualify config apply: {exc.detail}"]), file=sys.stderr)
        return 1
    except ServiceError as exc:
        print(f"qualify config apply: {exc.detail}", file=sys.stderr)
        return 1
    print("\n".join(plan["lines"]))
    return 0


def register(sub: Any) -> None:
    """Add `config export|apply` to the `qualify` subcommands."""
    config = sub.add_parser("config", help="configuration as code: export and apply one YAML file").add_subparsers(
        dest="config_command", required=True)
    export = config.add_parser("export", help="write fields, mappings, gates, personas and connection settings "
                               "(never secrets)")
    export.add_argument("--format", choices=("yaml", "json"), default="yaml")
    export.add_argument("-o", "--output", help="the file to write (default: stdout)")
    export.set_defaults(func=cmd_config_export)
    apply = config.add_parser("apply", help="plan a configuration file and apply it in one transaction")
    apply.add_argument("file", help="the YAML (or .json) file; - reads stdin")
    apply.add_argument("--dry-run", action="store_true", help="only print the plan; change nothing")
    apply.add_argument("--replay-days", type=_replay_days, default=90, metavar="N",
                       help="days of recorded moves the gates' impact replays (1 to 730, default 90)")
    apply.set_defaults(func=cmd_config_apply)
