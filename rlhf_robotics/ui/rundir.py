"""The run directory as the app reads it: re-exported from :mod:`rlhf_robotics.preference.rundir`, where the
layout, the status file and the clip index are defined once for both tracks."""

from __future__ import annotations

from rlhf_robotics.preference.rundir import (
    APP_DB_FILE,
    CLIP_INDEX,
    CLIP_NAME,
    CLIPS_DIR,
    RUBRIC_FILE,
    STATES,
    STATUS_FILE,
    STORE_FILE,
    ClipIndex,
    RunPaths,
    read_rubric,
    read_status,
    register_clip,
    write_status,
)

__all__ = [
    "APP_DB_FILE",
    "CLIPS_DIR",
    "CLIP_INDEX",
    "CLIP_NAME",
    "RUBRIC_FILE",
    "STATES",
    "STATUS_FILE",
    "STORE_FILE",
    "ClipIndex",
    "RunPaths",
    "read_rubric",
    "read_status",
    "register_clip",
    "write_status",
]
