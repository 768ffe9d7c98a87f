"""``rlhf-robotics label``: serve the labelling app over a run directory, hand out tokens, export labels.

Usage (``key=value`` arguments, like Hydra overrides)::

    rlhf-robotics label run=<dir> [host=127.0.0.1] [port=8000] [overlap=1] [lease_s=120] [min_watch_s=1]
                                  [gold_rate=0.1] [repeat_rate=0.05] [require_token=false] [seed=0]
    rlhf-robotics label token run=<dir> name=<annotator> [host=...] [port=...]   # prints the sign-in link
    rlhf-robotics label export run=<dir> out=<file.jsonl> [format=store|trl|datasets]
    rlhf-robotics label stats run=<dir>                                          # the dashboard's numbers as JSON

Binding anything but a loopback address turns annotator tokens on.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

USAGE = __doc__.split("Usage (")[1].split("::", 1)[1].rsplit("Binding", 1)[0] if __doc__ else ""


def parse(argv: list[str], allowed: dict[str, Callable[[str], Any]], required: tuple[str, ...]) -> dict[str, Any]:
    """Parse ``key=value`` arguments into typed values; errors name the bad argument and the accepted keys."""
    out: dict[str, Any] = {}
    for arg in argv:
        key, sep, value = arg.partition("=")
        if not sep:
            raise SystemExit(f"argument {arg!r} is not key=value; accepted keys: {', '.join(allowed)}\n{USAGE}")
        if key not in allowed:
            raise SystemExit(f"unknown argument {key!r}; accepted keys: {', '.join(allowed)}")
        try:
            out[key] = allowed[key](value)
        except ValueError as err:
            raise SystemExit(f"{key}={value!r}: {err}") from None
    missing = [k for k in required if k not in out]
    if missing:
        raise SystemExit(f"missing {', '.join(k + '=...' for k in missing)}\n{USAGE}")
    return out


def _bool(text: str) -> bool:
    if text.lower() in ("1", "true", "yes", "on"):
        return True
    if text.lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError("expected true or false")


def _run_dir(text: str) -> Path:
    path = Path(text)
    if not path.is_dir():
        raise ValueError(f"no run directory at {path}; pass the folder holding preferences.sqlite")
    return path


SERVE_KEYS: dict[str, Callable[[str], Any]] = {
    "run": _run_dir, "host": str, "port": int, "overlap": int, "lease_s": float, "min_watch_s": float,
    "gold_rate": float, "repeat_rate": float, "require_token": _bool, "seed": int, "prefetch": int,
}


def serve_command(argv: list[str]) -> int:
    from rlhf_robotics.ui.app import AppConfig
    from rlhf_robotics.ui.queue import QueueConfig
    from rlhf_robotics.ui.server import serve

    args = parse(argv, SERVE_KEYS, ("run",))
    queue_keys = ("overlap", "lease_s", "gold_rate", "repeat_rate", "seed")
    try:
        queue = QueueConfig(**{k: args[k] for k in queue_keys if k in args})
        config = AppConfig(queue=queue, **{k: args[k] for k in ("min_watch_s", "require_token", "prefetch") if k in args})
    except ValueError as err:
        raise SystemExit(str(err)) from None
    host, port = args.get("host", "127.0.0.1"), args.get("port", 8000)
    print(f"labelling {args['run']} at http://{host}:{port}/ (Ctrl-C to stop)", file=sys.stderr)
    serve(args["run"], host, port, config)
    return 0


def token_command(argv: list[str]) -> int:
    from rlhf_robotics.ui.queue import add_annotator
    from rlhf_robotics.ui.rundir import RunPaths

    args = parse(argv, {"run": _run_dir, "name": str, "host": str, "port": int}, ("run", "name"))
    try:
        token = add_annotator(RunPaths(args["run"]).app_db, args["name"])
    except ValueError as err:
        raise SystemExit(str(err)) from None
    print(f"http://{args.get('host', '127.0.0.1')}:{args.get('port', 8000)}/?token={token}")
    return 0


def export_command(argv: list[str]) -> int:
    from rlhf_robotics.preference.export import export_run
    from rlhf_robotics.preference.rundir import RunPaths
    from rlhf_robotics.robotics.segments import SegmentStore

    args = parse(argv, {"run": _run_dir, "out": Path, "format": str}, ("run", "out"))
    segments = RunPaths(args["run"]).segments
    items = SegmentStore(segments) if segments.is_dir() else None  # robot segments' arrays for format=datasets
    try:
        n = export_run(args["run"], args["out"], args.get("format", "store"), items)
    except (ValueError, FileNotFoundError) as err:
        raise SystemExit(str(err)) from None
    print(f"wrote {n} lines to {args['out']}", file=sys.stderr)
    return 0


def stats_command(argv: list[str]) -> int:
    from rlhf_robotics.preference.store import PreferenceStore
    from rlhf_robotics.ui.quality import quality_report
    from rlhf_robotics.ui.rundir import RunPaths

    args = parse(argv, {"run": _run_dir}, ("run",))
    with PreferenceStore(RunPaths(args["run"]).store) as store:
        report = quality_report(store.judgments(), {sq.id: sq.query for sq in store.queries()})
    print(json.dumps(report.to_json(), indent=2))
    return 0


COMMANDS: dict[str, Callable[[list[str]], int]] = {
    "token": token_command,
    "export": export_command,
    "stats": stats_command,
}


def main(argv: list[str]) -> int:
    """Dispatch ``label [token|export|stats] key=value ...``; without a sub-command, serve."""
    if argv and argv[0] in ("-h", "--help", "help"):
        print(USAGE)
        return 0
    if argv and argv[0] in COMMANDS:
        return COMMANDS[argv[0]](argv[1:])
    return serve_command(argv)
