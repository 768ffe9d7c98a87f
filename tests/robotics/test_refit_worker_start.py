"""The refit worker process starts inside a process whose default start method the standard library does not know:
a job of Hydra's joblib launcher runs in a loky worker, whose default is loky's own ``"loky"``, and a ``spawn``
child sets its parent's method first ("cannot find context for 'loky'"; every refit of the job failed). Here a
registered ``"foreign"`` context stands in for loky's, in a subprocess so this test's own process is left as it was;
``tests/sweep/test_sweep_runs.py`` runs the real launcher (slow)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = '''
import contextlib, multiprocessing, multiprocessing.context as ctx, sys
from concurrent.futures import ProcessPoolExecutor
from rlhf_robotics.robotics.start_method import spawnable_start_method

class Foreign(ctx.SpawnContext):
    _name = "foreign"

if __name__ == "__main__":
    ctx._concrete_contexts["foreign"] = Foreign()  # as loky registers "loky" where it runs jobs
    multiprocessing.set_start_method("foreign", force=True)
    pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
    with spawnable_start_method() if sys.argv[1] == "guarded" else contextlib.nullcontext():
        future = pool.submit(abs, -3)
    try:
        print("result", future.result(timeout=60))
    except Exception as err:
        print("failed", type(err).__name__)
    print("method", multiprocessing.get_start_method())
'''


@pytest.mark.parametrize("mode, expected", [("guarded", "result 3"), ("plain", "failed BrokenProcessPool")])
def test_a_spawned_worker_starts_under_a_foreign_default_start_method(tmp_path: Path, mode: str, expected: str) -> None:
    script = tmp_path / "foreign.py"
    script.write_text(SCRIPT)
    out = subprocess.run([sys.executable, str(script), mode], capture_output=True, text=True, timeout=120).stdout
    # guarded, the worker runs; unguarded (the bug), it dies before running anything; either way the parent keeps
    # its own default start method
    assert out.splitlines() == [expected, "method foreign"], out


CLIP_SCRIPT = '''
import multiprocessing, multiprocessing.context as ctx, sys
import numpy as np
from rlhf_robotics.robotics.render_pool import ClipPool
from rlhf_robotics.robotics.rendering import RenderConfig
from rlhf_robotics.robotics.segments import Segments

class Foreign(ctx.SpawnContext):
    _name = "foreign"

if __name__ == "__main__":
    ctx._concrete_contexts["foreign"] = Foreign()
    multiprocessing.set_start_method("foreign", force=True)
    steps = 4
    segs = Segments(ids=["s"], obs=np.zeros((1, steps, 1), np.float32), act=np.zeros((1, steps, 1), np.float32),
                    reward=np.zeros((1, steps), np.float32), qpos=np.tile([0.0, 1.25, 0, 0, 0, 0], (1, steps, 1)),
                    qvel=np.zeros((1, steps, 6)), env_id="Hopper-v5", dt=0.008)
    with ClipPool(sys.argv[1], RenderConfig(width=64, height=64, fps=None), workers=1) as pool:
        (future,) = pool.request(segs).values()
        try:
            print("clip", future.result(timeout=120).suffix)
        except Exception as err:
            print("failed", type(err).__name__)
    print("method", multiprocessing.get_start_method())
'''


@pytest.mark.render
def test_the_clip_pool_s_workers_start_under_a_foreign_default_start_method(tmp_path: Path) -> None:
    """The labelling app's render workers (``labels.source=human``) are spawned the same way, on a later submit."""
    script = tmp_path / "foreign_clips.py"
    script.write_text(CLIP_SCRIPT)
    out = subprocess.run([sys.executable, str(script), str(tmp_path / "clips")], capture_output=True, text=True,
                         timeout=300).stdout
    assert out.splitlines() == ["clip .mp4", "method foreign"], out


SIGINT_SCRIPT = '''
import contextlib, os, signal, sys, types
from rlhf_robotics.robotics import reward_fit, start_method

if __name__ == "__main__":
    # Ctrl-C as a terminal delivers it, whatever this process inherited: a parent that ignores SIGINT (a test run
    # started in the background of a non-interactive shell) would hand the ignore on to the unguarded worker too,
    # which then lived (twice in this stop's fresh-clone CI runs, never when the test ran alone)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    if sys.argv[1] == "plain":  # the refit worker as it started before the fix: SIGINT still at its default
        start_method.children_ignore_sigint = contextlib.nullcontext
    pool = reward_fit.RewardFitter.warm_worker(types.SimpleNamespace(_process_pool=None))  # type: ignore[arg-type]
    (pid,) = pool._processes
    os.kill(pid, signal.SIGINT)  # Ctrl-C while the worker is still starting: it takes seconds to import torch
    try:
        print("worker", pool.submit(abs, -2).result(timeout=120))
    except Exception as err:
        print("failed", type(err).__name__)
    pool.shutdown()
'''


@pytest.mark.parametrize("mode, expected", [("guarded", "worker 2"), ("plain", "failed BrokenProcessPool")])
def test_the_refit_worker_ignores_ctrl_c_while_it_is_still_starting(tmp_path: Path, mode: str, expected: str) -> None:
    """Ctrl-C reaches the terminal's whole process group, the refit worker included. It ignored SIGINT only once its
    initializer ran, so one that arrived while the worker was still importing printed a KeyboardInterrupt traceback
    beside the run's "stopped by SIGINT" (CI caught it in ``test_stop_signals.py``). The worker now starts with SIGINT
    ignored, and the run alone decides when it stops."""
    script = tmp_path / "sigint.py"
    script.write_text(SIGINT_SCRIPT)
    done = subprocess.run([sys.executable, str(script), mode], capture_output=True, text=True, timeout=180)
    assert done.stdout.splitlines() == [expected], done.stdout + done.stderr
    if mode == "guarded":
        assert "Traceback" not in done.stderr and "KeyboardInterrupt" not in done.stderr, done.stderr
