"""The run directory: the one definition of its layout, the status file and the clip index (DESIGN §3).

Both tracks write it and the labelling app reads it; nothing else spells these file names. A run directory holds:

- ``preferences.sqlite`` — the :class:`~rlhf_robotics.preference.store.PreferenceStore`: queries in, judgments
  out, and the LM track's text items (:mod:`rlhf_robotics.preference.items`);
- ``segments/`` — the robotics track's npz segment store (``<batch>.npz`` + ``index.jsonl``);
- ``clips/<name>.mp4`` — rendered clips, and ``clips/index.jsonl`` with one line
  ``{"item": <item id>, "file": <file name in clips/>, "fps": <frame rate, optional>}`` appended when a clip is
  complete (under an exclusive ``flock``, never twice the same line);
- ``status.json`` — ``{"state", "message", "round", "time"}`` written atomically by the loop, shown by the app
  when its queue is empty;
- ``rubric.json`` (optional) — ``[{"name": ..., "question": ...}, ...]``, the per-criterion questions;
- ``instruction.txt`` (optional) — what a good episode looks like, for people: shown above every pair;
- ``labelling.sqlite`` — the app's own state (annotators, sessions, assignments), never read by the trainer.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

STORE_FILE = "preferences.sqlite"
APP_DB_FILE = "labelling.sqlite"
SEGMENTS_DIR = "segments"
CLIPS_DIR = "clips"
CLIP_INDEX = "index.jsonl"
STATUS_FILE = "status.json"
RUBRIC_FILE = "rubric.json"
INSTRUCTION_FILE = "instruction.txt"
METRICS_FILE = "metrics.jsonl"

CLIP_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,200}\.(mp4|webm)$")
"""Clip file names the app serves: one path component, no leading dot, mp4 or webm."""

State = Literal["waiting_for_policy", "rendering", "labelling", "done"]
"""What the loop is doing, as the labelling app tells people."""
STATES: tuple[str, ...] = get_args(State)


@dataclass(frozen=True)
class RunPaths:
    """Paths inside one run directory (nothing is created by naming it)."""

    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    @property
    def store(self) -> Path:
        """The preference store (queries, judgments, text items)."""
        return self.root / STORE_FILE

    @property
    def app_db(self) -> Path:
        """The labelling app's own database."""
        return self.root / APP_DB_FILE

    @property
    def segments(self) -> Path:
        """The robotics segment store's folder."""
        return self.root / SEGMENTS_DIR

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

    @property
    def instruction(self) -> Path:
        """The instruction for people (plain text)."""
        return self.root / INSTRUCTION_FILE

    @property
    def metrics(self) -> Path:
        """One JSON row per label round (``metrics.jsonl``): the loop writes it, the dashboard plots it."""
        return self.root / METRICS_FILE


def atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename, so a reader never sees it half-written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


# -- status ------------------------------------------------------------------------------------------------
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
    row = {"state": state, "message": message, "round": round, "time": time.time()}
    atomic_write(RunPaths(Path(run_dir)).status, json.dumps(row))


def read_status(run_dir: str | Path) -> dict[str, Any]:
    """The loop's last ``status.json``, or ``{}`` when it is missing or not a JSON object."""
    try:
        data = json.loads(RunPaths(Path(run_dir)).status.read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


# -- rubric ------------------------------------------------------------------------------------------------
def write_rubric(run_dir: str | Path, questions: Sequence[tuple[str, str]]) -> None:
    """Write ``rubric.json`` from ``(criterion name, question)`` pairs (an empty question asks by name)."""
    rows = [{"name": name, "question": question or name} for name, question in questions]
    atomic_write(RunPaths(Path(run_dir)).rubric, json.dumps(rows, indent=1))


def read_rubric(run_dir: str | Path) -> list[dict[str, str]]:
    """The rubric questions from ``rubric.json`` (``[]`` when there is none)."""
    path = RunPaths(Path(run_dir)).rubric
    if not path.exists():
        return []
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, list) or not all(isinstance(c, dict) and isinstance(c.get("name"), str) for c in data):
        raise ValueError(f"{path} must be a JSON list of {{'name': ..., 'question': ...}} objects")
    return [{"name": c["name"], "question": str(c.get("question") or c["name"])} for c in data]


# -- instruction -------------------------------------------------------------------------------------------
def write_instruction(run_dir: str | Path, text: str) -> None:
    """Write ``instruction.txt`` (what a good episode looks like); an empty text removes it."""
    path = RunPaths(Path(run_dir)).instruction
    if text.strip():
        atomic_write(path, text.strip() + "\n")
    else:
        path.unlink(missing_ok=True)


def read_instruction(run_dir: str | Path) -> str:
    """The instruction for people from ``instruction.txt`` (``""`` when there is none)."""
    try:
        return RunPaths(Path(run_dir)).instruction.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return ""


# -- clip index --------------------------------------------------------------------------------------------
def add_clip(
    clips_dir: str | Path, item: str, file: str, fps: float | None = None, rate: float = 1.0,
    scored: tuple[float, float] | None = None,
) -> bool:
    """Append ``{"item", "file", "fps"}`` to ``clips_dir/index.jsonl`` unless that very line is there already.

    Safe across threads and processes: read-check-append runs under an exclusive ``flock`` on the index, so
    render workers and the loop may register clips at the same time. ``fps`` (the clip's frame rate, used by
    the app to step frames) is left out when None; ``rate`` (simulated seconds per second of video) is written
    only when the clip is slowed down (< 1), and the app states it on the page; ``scored`` = (start, end) in
    seconds of video is the part the reward model scores when the clip shows context around it (the app marks
    it on the timeline).

    Returns:
        Whether a line was added.

    Raises:
        ValueError: ``file`` is not one plain ``.mp4``/``.webm`` file name.
    """
    if not CLIP_NAME.match(file):
        raise ValueError(f"clip file name {file!r} must be one plain file name ending in .mp4 or .webm")
    path = Path(clips_dir) / CLIP_INDEX
    path.parent.mkdir(parents=True, exist_ok=True)
    row: dict[str, Any] = {"item": str(item), "file": file}
    if fps is not None:
        row["fps"] = round(float(fps), 6)
    if rate != 1.0:
        row["rate"] = round(float(rate), 6)
    if scored is not None:
        row["scored"] = [round(float(scored[0]), 6), round(float(scored[1]), 6)]
    line = json.dumps(row)
    with open(path, "a+", encoding="utf-8") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            f.seek(0)
            if line in f.read().splitlines():
                return False
            f.write(line + "\n")
            f.flush()
            return True
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def register_clip(run_dir: str | Path, item: str, file: str, fps: float | None = None) -> bool:
    """Record that ``clips/<file>`` of the run, completely written, shows ``item`` (see :func:`add_clip`).

    Raises:
        ValueError: the file name is not a plain clip name, or the file is not in the run's ``clips/`` yet.
    """
    clips = RunPaths(Path(run_dir)).clips
    if CLIP_NAME.match(file) and not (clips / file).is_file():
        raise ValueError(f"clip {file!r} is not in {clips}; write the file before registering it")
    return add_clip(clips, item, file, fps)


def read_clip_index(clips_dir: str | Path) -> dict[str, str]:
    """Item id → clip file name from ``clips_dir/index.jsonl`` (the last line for an id wins)."""
    index = ClipIndex.at(Path(clips_dir) / CLIP_INDEX)
    index.refresh()
    return {item: file for item, (file, _) in index.clips.items()}


class ClipIndex:
    """Follows a run's ``clips/index.jsonl`` as renderers append to it: item id → (file name, fps).

    Args:
        run_dir: the run directory.
    """

    def __init__(self, run_dir: str | Path) -> None:
        self.path = RunPaths(Path(run_dir)).clip_index
        self.clips: dict[str, tuple[str, float | None]] = {}
        self.rates: dict[str, float] = {}
        """Item id → playback rate of its clip, for slowed-down clips only."""
        self.scored: dict[str, tuple[float, float]] = {}
        """Item id → (start, end) seconds of its clip that the reward model scores, for clips with context."""
        self._offset = 0

    @classmethod
    def at(cls, index_file: str | Path) -> ClipIndex:
        """A follower of an index file anywhere (a clip folder outside a run directory)."""
        index = cls.__new__(cls)
        index.path, index.clips, index.rates, index.scored, index._offset = Path(index_file), {}, {}, {}, 0
        return index

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
                rate = row.get("rate")
                if isinstance(rate, (int, float)) and 0 < rate < 1:
                    self.rates[str(row["item"])] = float(rate)
                else:
                    self.rates.pop(str(row["item"]), None)
                scored = row.get("scored")
                if (isinstance(scored, list) and len(scored) == 2 and all(isinstance(x, (int, float)) for x in scored)
                        and 0 <= scored[0] < scored[1]):
                    self.scored[str(row["item"])] = (float(scored[0]), float(scored[1]))
                else:
                    self.scored.pop(str(row["item"]), None)
                new += 1
        self._offset += end
        return new

    def get(self, item: str) -> tuple[str, float | None] | None:
        return self.clips.get(item)

    def rate(self, item: str) -> float:
        """Playback rate of ``item``'s clip: 1 for real time, less for a slowed-down one."""
        return self.rates.get(item, 1.0)
