"""A ``labels.source=human`` run stopped by SIGTERM (``kill``, job schedulers) or SIGINT (Ctrl-C) ends cleanly:
its clip-render workers are terminated, its labelling server stops, and it exits non-zero saying how to resume
(issue 16: SIGTERM used to leave the render workers running, orphaned). A real subprocess; its descendants are
found by scanning ``/proc``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest


def children_of(pids: set[int]) -> set[int]:
    """Every live (non-zombie) process whose parent is in ``pids``, recursively."""
    parent: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) ": state, ppid, ...
        if fields[0] != "Z":
            parent[int(entry.name)] = int(fields[1])
    found: set[int] = set()
    frontier = set(pids)
    while frontier:
        frontier = {pid for pid, ppid in parent.items() if ppid in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return state[state.rindex(")") + 2] != "Z"


def status(run: Path) -> dict:
    try:
        return json.loads((run / "status.json").read_text())
    except (OSError, ValueError):
        return {}


@pytest.mark.slow
@pytest.mark.render
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_stopped_human_run_leaves_no_process_behind(tmp_path: Path, signum: int) -> None:
    run = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "rlhf_robotics.cli.main", "env=inverted_pendulum", f"run_dir={run}", "labels.source=human",
         "labels.total=12", "labels.rounds=2", "labels.initial_steps=400", "labels.human_min_initial=3",
         "labels.human_timeout_s=600", "labels.render_workers=2", "total_steps=512", "env.n_envs=2",
         "ppo.n_steps=128", "ppo.batch_size=128", "ppo.n_epochs=1", "baseline=false", "video=false", "eval_episodes=1",
         "ui.port=0", "quiet=true"],
        cwd=tmp_path, env={**os.environ, "MUJOCO_GL": "egl"}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,  # its own process group: a signal reaches the run only, as `kill <pid>` does
    )
    try:
        # Wait until the run has asked its first pairs (so the render workers exist) and waits for people.
        deadline = time.monotonic() + 240
        while "waiting for the first answers" not in str(status(run).get("message")):
            assert proc.poll() is None, f"the run ended early: {proc.communicate()[1][-2000:]}"
            assert time.monotonic() < deadline, "the run never started waiting for people"
            time.sleep(0.2)
        instruction = (run / "instruction.txt").read_text(encoding="utf-8")
        assert instruction.startswith("The pole on the cart should stay balanced upright"), "env.instruction, for the app"
        descendants = children_of({proc.pid})
        assert descendants, "the run has render worker processes while it waits for people"
        if signum == signal.SIGINT:
            os.killpg(proc.pid, signum)  # Ctrl-C in a terminal: the whole process group, render workers included
        else:
            proc.send_signal(signum)  # `kill <pid>`: the run's main process only
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    name = signal.Signals(signum).name
    assert proc.returncode == 128 + signum, stderr[-2000:]
    assert f"stopped by {name}" in stderr and f"resume={run}" in stderr
    assert "Traceback" not in stderr, stderr
    deadline = time.monotonic() + 15  # workers exit within the pool's terminate/join timeouts
    while time.monotonic() < deadline and any(alive(pid) for pid in descendants):
        time.sleep(0.2)
    left = sorted(pid for pid in descendants if alive(pid))
    assert not left, f"processes of the run still running after {name}: {left}"
    assert not (run / "summary.json").exists()


@pytest.mark.render
def test_closing_the_clip_pool_with_terminate_ends_a_render_in_progress(tmp_path: Path) -> None:
    import numpy as np

    from rlhf_robotics.robotics.render_pool import ClipPool
    from rlhf_robotics.robotics.rendering import RenderConfig
    from rlhf_robotics.robotics.segments import Segments

    before = children_of({os.getpid()})
    steps = 3000  # 24 s of Hopper at one frame per step: far longer than the test waits
    qpos = np.tile(np.array([0.0, 1.25, 0, 0, 0, 0]), (1, steps, 1))
    segs = Segments(ids=["long"], obs=np.zeros((1, steps, 1), np.float32), act=np.zeros((1, steps, 1), np.float32),
                    reward=np.zeros((1, steps), np.float32), qpos=qpos, qvel=np.zeros((1, steps, 6)),
                    env_id="Hopper-v5", dt=0.008)
    pool = ClipPool(tmp_path, RenderConfig(width=64, height=64, fps=None), workers=1)
    (future,) = pool.request(segs).values()
    # the spawned workers (not the resource tracker, which lives as long as this interpreter)
    workers = {pid for pid in children_of({os.getpid()}) - before
               if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()}
    assert workers, "the pool started a worker process"
    time.sleep(3)  # let it start rendering
    assert not future.done()
    start = time.monotonic()
    pool.close(wait=False, terminate=True)
    assert time.monotonic() - start < 15
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(alive(pid) for pid in workers):
        time.sleep(0.1)
    assert not any(alive(pid) for pid in workers), "terminate ends the render in progress"
    assert not list(tmp_path.glob("*.mp4")), "no clip is registered half-written"
