"""The labelling web app: people compare rendered clips (or LM responses) while a run trains.

Imports only the standard library, Starlette/Jinja2/uvicorn and :mod:`rlhf_robotics.preference`. A running loop
serves it and talks to it only through files in the run directory (:mod:`rlhf_robotics.preference.rundir`)::

    server = serve_in_background(run_dir)                     # 127.0.0.1, free port; server.url to print
    write_status(run_dir, "rendering", "rendering 3 clips", round=r)
    ids = store.add_queries([Query(a, b, selector="disagreement", score=s, priority=s,
                                   meta={"true_return_first": ra, "true_return_second": rb})])
    # ... render clips/<hash>.mp4, then register_clip(run_dir, item_id, "<hash>.mp4", fps=30) for each
    write_status(run_dir, "labelling", f"round {r}: {len(ids)} pairs", round=r)
    for row in store.judgments(after=cursor): ...             # labels arrive while training runs
    server.stop()

Gold questions are made by the app from the true returns; text pairs are stored as text items instead of clips.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rlhf_robotics.preference.rundir import RunPaths, register_clip, write_status
    from rlhf_robotics.ui.app import AppConfig, create_app
    from rlhf_robotics.ui.gold import make_gold_queries
    from rlhf_robotics.ui.queue import LabelQueue, QueueConfig
    from rlhf_robotics.ui.server import LabelServer, serve, serve_in_background

# Names resolve on first use (PEP 562): `rlhf_robotics.ui.quality` and the run-directory names (from
# `rlhf_robotics.preference.rundir`) import without the `ui` extra (Starlette, uvicorn), so
# `rlhf-robotics label export` and `label stats` work in a base install (issue 11).
_HOME = {
    "AppConfig": "app", "create_app": "app", "make_gold_queries": "gold", "LabelQueue": "queue",
    "QueueConfig": "queue", "RunPaths": "preference.rundir", "register_clip": "preference.rundir",
    "write_status": "preference.rundir",
    "LabelServer": "server", "serve": "server", "serve_in_background": "server",
}


def __getattr__(name: str) -> Any:
    if name in _HOME:
        home = _HOME[name]
        return getattr(importlib.import_module(f"rlhf_robotics.{home}" if "." in home else f"rlhf_robotics.ui.{home}"), name)
    raise AttributeError(f"module 'rlhf_robotics.ui' has no attribute {name!r}")


__all__ = [
    "AppConfig",
    "LabelQueue",
    "LabelServer",
    "QueueConfig",
    "RunPaths",
    "create_app",
    "make_gold_queries",
    "register_clip",
    "serve",
    "serve_in_background",
    "write_status",
]
