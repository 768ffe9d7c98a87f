"""``rlhf-robotics label [token|export|stats] key=value ...``: the labelling app over a run directory.

Four Hydra apps over ``conf/label/<command>.yaml``, typed at the edge like ``train``:

- ``label run=<dir> [port=0 ...]`` serves the app (the ``ui`` extra); the port is bound before anything is
  written, so a busy port leaves the run directory as it was, and the URL printed names the real port;
- ``label token run=<dir> name=<annotator>`` adds an annotator and prints their sign-in link;
- ``label export run=<dir> out=<file.jsonl> [format=store|trl|datasets]`` and ``label stats run=<dir>`` only
  read the run (no web server, no extra needed) and create nothing but ``out``;
- ``label import run=<new dir> file=<export.jsonl>`` loads a ``format=store`` export into a run directory that
  holds no labels yet (ids kept, so exporting it again gives the same file).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from omegaconf import DictConfig, OmegaConf

from rlhf_robotics.cli.app import App, UsageError, require_extra, run_app, typed
from rlhf_robotics.preference.rundir import RunPaths
from rlhf_robotics.typed_config import ConfigError


@dataclass
class ServeConfig:
    """``conf/label/serve.yaml``."""

    run: str | None = None
    """The run directory (holding ``preferences.sqlite``)."""
    host: str = "127.0.0.1"
    """Address to bind; anything but loopback turns annotator tokens on."""
    port: int = 8000
    """TCP port; 0 for a free one."""
    require_token: bool = False
    """Annotators sign in with a token from ``label token``."""
    min_watch_s: float = 1.0
    """Seconds a pair is on screen before an answer (other than skip) is accepted."""
    prefetch: int = 3
    """Pairs the page loads ahead."""
    overlap: int = 1
    """Annotators per query."""
    lease_s: float = 120.0
    """Seconds a served pair stays reserved for its annotator."""
    gold_rate: float = 0.1
    """Share of served pairs that are gold questions."""
    repeat_rate: float = 0.05
    """Share of served pairs that repeat an earlier one mirrored."""
    seed: int = 0
    """Seed of the queue's choices."""
    instruction: str | None = None
    """What to judge, shown above the clips; None = the run's ``instruction.txt`` (the task's ``env.instruction``)."""
    instruction_file: str | None = None
    """A UTF-8 text file holding the instruction instead."""
    briefing_file: str | None = None
    """A briefing/consent page (markdown or plain text) each annotator agrees to before the first pair."""
    practice_pairs: int = 0
    """Gold pairs each annotator answers first, with feedback; kept out of the preference store."""
    trusted_hosts: list[str] | None = None
    """Host names the app answers to, e.g. ``[labels.example.org]`` behind a proxy; None = loopback names without
    tokens, any with tokens."""
    forwarded_allow_ips: str | None = None
    """Proxies whose ``X-Forwarded-*`` headers are trusted (None: uvicorn's default, 127.0.0.1)."""
    ssl_keyfile: str | None = None
    """PEM key: serve HTTPS directly (with ``ssl_certfile``)."""
    ssl_certfile: str | None = None
    """PEM certificate for ``ssl_keyfile``."""


@dataclass
class TokenConfig:
    """``conf/label/token.yaml``."""

    run: str | None = None
    """The run directory."""
    name: str | None = None
    """The annotator's name."""
    host: str = "127.0.0.1"
    """Host of the printed link."""
    port: int = 8000
    """Port of the printed link."""
    url: str | None = None
    """The study's public address (``https://labels.example.org/`` behind a proxy): the link printed is this
    one with ``?token=...``, instead of ``http://host:port/``."""


@dataclass
class ExportConfig:
    """``conf/label/export.yaml``."""

    run: str | None = None
    """The run directory (holding ``preferences.sqlite``)."""
    out: str | None = None
    """The JSONL file to write; its folder must exist."""
    format: Literal["store", "trl", "datasets"] = "store"
    """``store``: the whole store, lossless; ``trl``: prompt/chosen/rejected of decided text pairs; ``datasets``:
    one row per comparison with both items inline (texts, or a robot segment's obs/action/true-reward arrays)
    and its target, for ``datasets.load_dataset("json", data_files=...)``."""


@dataclass
class ImportConfig:
    """``conf/label/import.yaml``."""

    run: str | None = None
    """The run directory to load into; created when missing, and it must hold no labels yet."""
    file: str | None = None
    """A ``format=store`` export (JSONL)."""


@dataclass
class StatsConfig:
    """``conf/label/stats.yaml``."""

    run: str | None = None
    """The run directory (holding ``preferences.sqlite``)."""


def _run_dir(run: str | None, command: str) -> Path:
    if run is None:
        raise ConfigError(f"run=...: missing; give the run directory, e.g. rlhf-robotics {command} run=runs/<date>/<time>")
    path = Path(run)
    if not path.is_dir():
        raise ConfigError(f"run={run!r}: no such folder; give a run directory (the folder holding preferences.sqlite)")
    return path


def _store(run: Path) -> Path:
    """The run's store, which must exist: a read-only command never creates one."""

    store = RunPaths(run).store
    if not store.is_file():
        raise ConfigError(f"run={str(run)!r}: holds no {store.name}; give the folder of a run that asked for labels")
    return store


def _check_port(port: int) -> None:
    if not 0 <= port <= 65535:
        raise ConfigError(f"port={port}: expected a TCP port from 1 to 65535, or 0 for a free one")


def serve_task(cfg: DictConfig) -> None:
    c: ServeConfig = typed(ServeConfig, cfg)
    run = _run_dir(c.run, "label")
    _check_port(c.port)
    require_extra("ui", "rlhf-robotics label (the web app)")
    from rlhf_robotics.cli.train import read_text_setting, study_instruction
    from rlhf_robotics.ui.app import AppConfig
    from rlhf_robotics.ui.queue import QueueConfig
    from rlhf_robotics.ui.server import serve

    instruction = study_instruction(OmegaConf.create({"instruction": c.instruction,
                                                      "instruction_file": c.instruction_file}), prefix="")
    briefing = read_text_setting("briefing_file", c.briefing_file, "the briefing shown before the first pair")
    for key in ("ssl_keyfile", "ssl_certfile"):
        if getattr(c, key) is not None and not Path(getattr(c, key)).is_file():
            raise ConfigError(f"{key}={getattr(c, key)!r}: no such file; give a PEM file, or leave it unset")
    try:
        queue = QueueConfig(overlap=c.overlap, lease_s=c.lease_s, gold_rate=c.gold_rate, repeat_rate=c.repeat_rate,
                            practice_pairs=c.practice_pairs, seed=c.seed)
        app = AppConfig(queue=queue, min_watch_s=c.min_watch_s, require_token=c.require_token, prefetch=c.prefetch,
                        instruction=instruction, briefing=briefing,
                        trusted_hosts=tuple(c.trusted_hosts) if c.trusted_hosts is not None else None,
                        forwarded_allow_ips=c.forwarded_allow_ips, ssl_keyfile=c.ssl_keyfile,
                        ssl_certfile=c.ssl_certfile)
    except ValueError as err:
        raise ConfigError(str(err)) from None
    ready = False

    def announce(url: str) -> None:
        nonlocal ready
        ready = True
        print(f"labelling {run} at {url} (Ctrl-C to stop)", flush=True)

    try:
        serve(run, c.host, c.port, app, on_ready=announce)
    except ValueError as err:
        if ready:
            raise
        raise UsageError(str(err)) from None  # the port or host: nothing was written


def token_task(cfg: DictConfig) -> None:
    c: TokenConfig = typed(TokenConfig, cfg)
    run = _run_dir(c.run, "label token")
    if not c.name:
        raise ConfigError("name=...: missing; give the annotator's name, e.g. name=alice")
    _check_port(c.port)
    from rlhf_robotics.ui.queue import add_annotator

    try:
        token = add_annotator(RunPaths(run).app_db, c.name)
    except ValueError as err:
        raise ConfigError(f"name={c.name!r}: {err}") from None
    base = c.url if c.url is not None else f"http://{c.host}:{c.port}/"
    print(f"{base if base.endswith('/') else base + '/'}?token={token}")


def export_task(cfg: DictConfig) -> None:
    c: ExportConfig = typed(ExportConfig, cfg)
    store_path = _store(_run_dir(c.run, "label export"))
    if not c.out:
        raise ConfigError("out=...: missing; give the JSONL file to write, e.g. out=labels.jsonl")
    out = Path(c.out)
    if not out.parent.is_dir():
        raise ConfigError(f"out={c.out!r}: folder {str(out.parent)!r} does not exist; create it or write elsewhere")
    if out.is_dir():
        raise ConfigError(f"out={c.out!r}: is a folder; give a file name, e.g. out={out / 'labels.jsonl'}")
    from rlhf_robotics.preference.export import export_run
    from rlhf_robotics.robotics.segments import SegmentStore

    segments = RunPaths(store_path.parent).segments
    items = SegmentStore(segments) if segments.is_dir() else None  # robot segments' arrays for format=datasets
    try:
        n = export_run(store_path.parent, out, c.format, items)
    except (ValueError, FileNotFoundError) as err:
        out.unlink(missing_ok=True)
        raise ConfigError(f"format={c.format}: {err}") from None
    print(f"wrote {n} lines to {out}")


def import_task(cfg: DictConfig) -> None:
    c: ImportConfig = typed(ImportConfig, cfg)
    if c.run is None:
        raise ConfigError("run=...: missing; give the run directory to load the labels into (a new one)")
    if c.file is None:
        raise ConfigError("file=...: missing; give a format=store export, e.g. file=labels.jsonl")
    if not Path(c.file).is_file():
        raise ConfigError(f"file={c.file!r}: no such file; write one with `rlhf-robotics label export ... format=store`")
    store = RunPaths(Path(c.run)).store
    if store.is_file():
        from rlhf_robotics.preference.store import PreferenceStore

        with PreferenceStore(store) as s:
            if s.count_queries() or s.count_judgments() or s.count_items():
                raise ConfigError(f"run={c.run!r}: already holds labels ({s.count_judgments()} judgments); import "
                                  "into a new run directory so nothing stored is overwritten")
    from rlhf_robotics.preference.export import import_jsonl

    created = not Path(c.run).exists()
    try:
        n = import_jsonl(c.run, c.file)
    except (ValueError, KeyError) as err:
        if created:
            import shutil

            shutil.rmtree(c.run, ignore_errors=True)
        raise ConfigError(f"file={c.file!r}: {err}") from None
    print(f"imported {n} judgments into {store}")


def stats_task(cfg: DictConfig) -> None:
    c: StatsConfig = typed(StatsConfig, cfg)
    store_path = _store(_run_dir(c.run, "label stats"))
    from rlhf_robotics.preference.store import PreferenceStore
    from rlhf_robotics.ui.quality import quality_report

    with PreferenceStore(store_path) as store:
        report = quality_report(store.judgments(), {sq.id: sq.query for sq in store.queries()})
    print(json.dumps(report.to_json(), indent=2))


_SUBCOMMANDS = "label (serve), label token, label export, label import, label stats"


def _app(name: str, task: Callable[[DictConfig], None], summary: str, usage: str) -> App:
    return App(command="label" if name == "serve" else f"label {name}", config_name=name, task=task,
               summary=summary, usage=usage + f"\n# the label commands: {_SUBCOMMANDS}", conf_subdir="label")


APPS: dict[str, App] = {
    "serve": _app("serve", serve_task, "serve the labelling app over a run directory (the 'ui' extra)",
                  "rlhf-robotics label run=<dir> [host=127.0.0.1] [port=8000] [overlap=1] [require_token=false]\n"
                  "rlhf-robotics label run=<dir> port=0        # a free port; the printed URL names it"),
    "token": _app("token", token_task, "add an annotator and print their sign-in link",
                  "rlhf-robotics label token run=<dir> name=<annotator> [host=...] [port=...]"),
    "export": _app("export", export_task, "write a run's labels as JSONL (reads the run only)",
                   "rlhf-robotics label export run=<dir> out=<file.jsonl> [format=store|trl|datasets]"),
    "import": _app("import", import_task, "load a format=store export into a new run directory",
                   "rlhf-robotics label import run=<new dir> file=<export.jsonl>"),
    "stats": _app("stats", stats_task, "the dashboard's numbers as JSON (reads the run only)",
                  "rlhf-robotics label stats run=<dir>"),
}
"""``label`` command → its Hydra app; ``serve`` when no command is named."""


def main(argv: list[str]) -> int:
    """Dispatch ``label [token|export|stats] key=value ...``; without a command, serve."""
    name = argv[0] if argv and argv[0] in APPS else "serve"
    return run_app(APPS[name], argv[1:] if argv and argv[0] in APPS else argv)
