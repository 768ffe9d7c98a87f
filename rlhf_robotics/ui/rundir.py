"""The files a running experiment shares with the labelling app, and how the app reads them.

A run directory holds:

- ``preferences.sqlite`` — the :class:`~rlhf_robotics.preference.store.PreferenceStore` (queries in, judgments out);
- ``clips/<name>.mp4`` — rendered clips, and ``clips/index.jsonl`` with one line
  ``{"item": <item id>, "file": <file name in clips/>}`` appended when a clip is complete (optionally ``"fps"``);
- ``status.json`` — ``{"state": ..., "message": ..., "round": ...}`` written by the loop, shown when the queue is
  empty;
- ``rubric.json`` (optional) — ``[{"name": ..., "question": ...}, ...]``, the per-criterion questions;
- ``labelling.sqlite`` — the app's own state (annotators, sessions, assignments), never read by the trainer.

:func:`write_status` and :func:`register_clip` write the loop's side atomically; a loop may also write the files
itself in these formats.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STORE_FILE = "preferences.sqlite"
APP_DB_FILE = "labelling.sqlite"
CLIPS_DIR = "clips"
CLIP_INDEX = "index.jsonl"
STATUS_FILE = "status.json"
RUBRIC_FILE = "rubric.json"

CLIP_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,200}\.(mp4|webm)$")
"""Clip file names the app serves: one path component, no leading dot, mp4 or webm."""

STATES = ("waiting_for_policy", "rendering", "labelling", "done")


@dataclass(frozen=True)
class RunPaths:
    """Paths inside one run directory."""

    root: Path

    @property
    def store(self) -> Path:
        return self.root / STORE_FILE

    @property
    def app_db(self) -> Path:
        return self.root / APP_DB_FILE

    @property
    def clips(self) -> Path:
        return self.root / CLIPS_DIR

    @property
    def clip_index(self) -> Path:
        return self.root / CLIPS_DIR / CLIP_INDEX

    @property
    def status(self) -> Path:
        return self.root / STATUS_FILE

    @property
    def rubric(self) -> Path:
        return self.root / RUBRIC_FILE


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def write_status(run_dir: str | Path, state: str, message: str = "", round: int | None = None) -> None:
    """Write ``status.json`` atomically (the app shows ``message`` while it has nothing to serve).

    Args:
        run_dir: the run directory.
        state: one of ``waiting_for_policy``, ``rendering``, ``labelling``, ``done``.
        message: a sentence for people, e.g. ``"rendering 3 clips"``.
        round: the loop's round number, if it has rounds.
    """
    if state not in STATES:
        raise ValueError(f"status state {state!r} is not one of {', '.join(STATES)}")
    _atomic_write(RunPaths(Path(run_dir)).status, json.dumps({"state": state, "message": message, "round": round}))


def register_clip(run_dir: str | Path, item: str, file: str, fps: float | None = None) -> None:
    """Append ``{"item", "file"}`` to ``clips/index.jsonl`` once ``clips/<file>`` is completely written."""
    paths = RunPaths(Path(run_dir))
    if not CLIP_NAME.match(file):
        raise ValueError(f"clip file name {file!r} must be one plain file name ending in .mp4 or .webm")
    if not (paths.clips / file).is_file():
        raise ValueError(f"clip {file!r} is not in {paths.clips}; write the file before registering it")
    line: dict[str, Any] = {"item": str(item), "file": file}
    if fps is not None:
        line["fps"] = float(fps)
    with open(paths.clip_index, "a", encoding="utf-8") as f:
        f.write(json.dumps(line) + "\n")


def read_status(run_dir: str | Path) -> dict[str, Any]:
    """The loop's last ``status.json``, or a default when it is missing or half-written."""
    try:
        data = json.loads(RunPaths(Path(run_dir)).status.read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def read_rubric(run_dir: str | Path) -> list[dict[str, str]]:
    """The rubric questions from ``rubric.json`` (``[]`` when there is none)."""
    path = RunPaths(Path(run_dir)).rubric
    if not path.exists():
        return []
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, list) or not all(isinstance(c, dict) and isinstance(c.get("name"), str) for c in data):
        raise ValueError(f"{path} must be a JSON list of {{'name': ..., 'question': ...}} objects")
    return [{"name": c["name"], "question": str(c.get("question") or c["name"])} for c in data]


class ClipIndex:
    """Follows ``clips/index.jsonl`` as the renderer appends to it: item id → (file name, fps)."""

    def __init__(self, run_dir: str | Path) -> None:
        self.path = RunPaths(Path(run_dir)).clip_index
        self.clips: dict[str, tuple[str, float | None]] = {}
        self._offset = 0

    def refresh(self) -> int:
        """Read lines appended since the last call (a partial last line waits). Returns how many were new."""
        try:
            with open(self.path, "rb") as f:
                f.seek(self._offset)
                data = f.read()
        except FileNotFoundError:
            return 0
        end = data.rfind(b"\n") + 1
        new = 0
        for raw in data[:end].splitlines():
            try:
                row = json.loads(raw)
                file = str(row["file"])
            except (ValueError, KeyError, TypeError):
                continue  # a malformed line is skipped rather than stopping the queue
            if CLIP_NAME.match(file):
                fps = row.get("fps")
                self.clips[str(row["item"])] = (file, float(fps) if isinstance(fps, (int, float)) else None)
                new += 1
        self._offset += end
        return new

    def get(self, item: str) -> tuple[str, float | None] | None:
        return self.clips.get(item)
