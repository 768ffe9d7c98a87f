"""The run directory: one layout for the loop and the app, the atomic status file, the locked clip index."""

from __future__ import annotations

import fcntl
import json
import multiprocessing
import threading
from pathlib import Path

import pytest

from rlhf_robotics.preference.rundir import (
    ClipIndex,
    RunPaths,
    add_clip,
    read_clip_index,
    read_rubric,
    read_status,
    register_clip,
    write_rubric,
    write_status,
)


def test_the_layout_is_the_one_the_docs_name(tmp_path: Path) -> None:
    paths = RunPaths(tmp_path)
    assert (paths.store.name, paths.app_db.name, paths.status.name, paths.rubric.name) == (
        "preferences.sqlite", "labelling.sqlite", "status.json", "rubric.json")
    assert paths.segments == tmp_path / "segments" and paths.clip_index == tmp_path / "clips" / "index.jsonl"
    assert RunPaths(str(tmp_path)) == paths  # type: ignore[arg-type]  # a str is accepted as well
    assert not any(tmp_path.iterdir()), "naming paths creates nothing"


def test_status_is_written_whole_and_read_back(tmp_path: Path) -> None:
    assert read_status(tmp_path) == {}
    write_status(tmp_path, "rendering", "rendering 3 clips", round=2)
    status = read_status(tmp_path)
    assert (status["state"], status["message"], status["round"]) == ("rendering", "rendering 3 clips", 2)
    assert status["time"] > 0
    assert [p.name for p in tmp_path.iterdir()] == ["status.json"], "the temporary file is renamed into place"
    RunPaths(tmp_path).status.write_text('{"state": "rend')  # a reader racing a non-atomic writer
    assert read_status(tmp_path) == {}
    with pytest.raises(ValueError, match="'paused' is not one of waiting_for_policy, rendering, labelling, done"):
        write_status(tmp_path, "paused")


def test_rubric_questions_round_trip(tmp_path: Path) -> None:
    assert read_rubric(tmp_path) == []
    write_rubric(tmp_path, [("height", "Which jumps higher?"), ("upright", "")])
    assert read_rubric(tmp_path) == [{"name": "height", "question": "Which jumps higher?"},
                                     {"name": "upright", "question": "upright"}]
    RunPaths(tmp_path).rubric.write_text('{"height": 1}')
    with pytest.raises(ValueError, match="must be a JSON list"):
        read_rubric(tmp_path)


def test_register_clip_needs_the_finished_file_and_a_plain_name(tmp_path: Path) -> None:
    clips = RunPaths(tmp_path).clips
    with pytest.raises(ValueError, match="write the file before registering it"):
        register_clip(tmp_path, "seg-0", "a.mp4")
    with pytest.raises(ValueError, match="one plain file name"):
        register_clip(tmp_path, "seg-0", "../preferences.sqlite")
    clips.mkdir()
    (clips / "a.mp4").write_bytes(b"x")
    assert register_clip(tmp_path, "seg-0", "a.mp4", fps=30) is True
    assert register_clip(tmp_path, "seg-0", "a.mp4", fps=30) is False, "the same line is never written twice"
    assert json.loads(RunPaths(tmp_path).clip_index.read_text()) == {"item": "seg-0", "file": "a.mp4", "fps": 30.0}


def test_the_follower_reads_only_whole_new_lines(tmp_path: Path) -> None:
    index = ClipIndex(tmp_path)
    assert index.refresh() == 0  # no index yet
    add_clip(RunPaths(tmp_path).clips, "seg-0", "a.mp4", fps=25)
    with open(RunPaths(tmp_path).clip_index, "a") as f:
        f.write('not json\n{"item": "seg-1", "file": "b.webm"}\n{"item": "seg-2", "fi')  # a writer mid-line
    assert index.refresh() == 2 and index.get("seg-0") == ("a.mp4", 25.0) and index.get("seg-1") == ("b.webm", None)
    assert index.get("seg-2") is None
    with open(RunPaths(tmp_path).clip_index, "a") as f:
        f.write('le": "c.mp4"}\n')
    assert index.refresh() == 1 and index.get("seg-2") == ("c.mp4", None)
    assert read_clip_index(RunPaths(tmp_path).clips) == {"seg-0": "a.mp4", "seg-1": "b.webm", "seg-2": "c.mp4"}


def _register_many(clips_dir: str, worker: int) -> None:
    for i in range(60):
        add_clip(clips_dir, f"seg-{i}", f"clip{i}.mp4", fps=30)  # every worker registers the same 60 clips
        add_clip(clips_dir, f"own-{worker}-{i}", f"own{worker}-{i}.mp4")


def test_processes_registering_at_once_leave_every_line_once(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    workers = [ctx.Process(target=_register_many, args=(str(tmp_path), w)) for w in range(4)]
    for p in workers:
        p.start()
    for p in workers:
        p.join(60)
        assert p.exitcode == 0
    lines = (tmp_path / "index.jsonl").read_text().splitlines()
    rows = [json.loads(line) for line in lines]  # no torn or interleaved line
    assert len(lines) == len(set(lines)) == 60 + 4 * 60
    assert {r["item"] for r in rows} == {f"seg-{i}" for i in range(60)} | {f"own-{w}-{i}" for w in range(4) for i in range(60)}


def test_a_writer_waits_while_another_holds_the_index_lock(tmp_path: Path) -> None:
    """Read-check-append is one critical section: without the lock two writers could both miss a line and
    both append it (the labelling app's old writer had no lock; the renderer's had one)."""
    index = tmp_path / "index.jsonl"
    with open(index, "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        writer = threading.Thread(target=add_clip, args=(tmp_path, "seg-0", "a.mp4"))
        writer.start()
        writer.join(0.3)
        assert writer.is_alive() and index.read_text() == "", "the writer waits for the lock"
        fcntl.flock(held, fcntl.LOCK_UN)
    writer.join(5)
    assert not writer.is_alive() and json.loads(index.read_text()) == {"item": "seg-0", "file": "a.mp4"}
