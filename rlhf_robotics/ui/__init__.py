"""The labelling web app: people compare rendered clips (or LM responses) while a run trains.

Imports only the standard library, Starlette/Jinja2/uvicorn and :mod:`rlhf_robotics.preference`. A running loop
calls :func:`serve_in_background`, posts queries to the run's store, writes clips, ``clips/index.jsonl`` and
``status.json`` (:func:`write_status`, :func:`register_clip`), and reads judgments by cursor.
"""

from rlhf_robotics.ui.app import AppConfig, create_app
from rlhf_robotics.ui.gold import make_gold_queries
from rlhf_robotics.ui.queue import LabelQueue, QueueConfig
from rlhf_robotics.ui.rundir import RunPaths, register_clip, write_status
from rlhf_robotics.ui.server import LabelServer, serve, serve_in_background

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
