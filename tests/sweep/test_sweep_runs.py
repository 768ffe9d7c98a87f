"""Tiny sweeps end to end: the joblib launcher (with a failing cell the sweep must get past) and a local Ray
instance, each followed by ``rlhf-robotics report``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# Small enough for a few seconds per job: InvertedPendulum, 2000 steps, 10 labels in one round, 5-step segments.
TINY = ["+sweep=smoke", "total_steps=2000", "labels.total=10", "labels.rounds=1", "labels.initial_steps=500",
        "env=inverted_pendulum", "env.segment_steps=5", "eval_episodes=1", "teacher=oracle"]


def _cli(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "MUJOCO_GL": "egl", "HYDRA_FULL_ERROR": "1"}
    return subprocess.run([sys.executable, "-m", "rlhf_robotics.cli.main", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


def _check_jobs(sweep: Path, expected: dict[str, str]) -> None:
    """``expected``: job folder → done | failed; every job records overrides, seed and commit."""
    for name, state in expected.items():
        job = sweep / name
        info = json.loads((job / "run_info.json").read_text())
        assert info["commit"] != "unknown" and len(info["commit"]) == 40
        assert isinstance(info["seed"], int) and info["overrides"]
        if any(o.startswith("seed=") for o in info["overrides"]):
            assert f"seed={info['seed']}" in info["overrides"]
        assert (job / ".hydra" / "overrides.yaml").read_text().splitlines() == [f"- {o}" for o in info["overrides"]]
        assert (job / ("summary.json" if state == "done" else "failed.json")).exists(), (name, state)


@pytest.mark.slow
def test_tiny_sweep_on_joblib_goes_past_a_failed_job_and_reports(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    # a label budget of 0 is refused when the job builds its config: those two jobs fail, the others run
    r = _cli("-m", *TINY, "labels.total=10,0", "seed=0,1", f"hydra.sweep.dir={sweep}", cwd=tmp_path)
    log = r.stdout + r.stderr
    assert r.returncode == 0, log[-4000:]
    assert "Joblib.Parallel(n_jobs=2" in log
    plan = json.loads((sweep / "sweep.json").read_text())
    assert len(plan["jobs"]) == 4 and plan["commit"]
    done = {p.parent.name for p in sweep.glob("*/summary.json")}
    failed = {p.parent.name for p in sweep.glob("*/failed.json")}
    assert len(done) == 2 and len(failed) == 2, (done, failed, log[-3000:])
    _check_jobs(sweep, {**{n: "done" for n in done}, **{n: "failed" for n in failed}})
    assert "sweep progress: 2 done, 2 failed of 4 jobs" in log

    r = _cli("report", str(sweep), "reps=300", cwd=tmp_path, timeout=120)
    assert r.returncode == 0, r.stderr
    md = (sweep / "report" / "report.md").read_text()
    assert "| `labels.total=10` | 2 | 0 |" in md and "| `labels.total=0` | 0 | 2 |" in md
    assert md.count("ConfigError: labels.total must be a positive number of comparisons, got 0") == 2, md
    assert (sweep / "report" / "learning_curves.png").stat().st_size > 1000
    assert (sweep / "report" / "final_return.png").stat().st_size > 1000
    r = _cli("report", str(sweep), "watch=0.1", cwd=tmp_path, timeout=120)
    assert r.returncode == 0 and "2 done, 2 failed of 4 jobs" in r.stdout


@pytest.mark.slow
def test_tiny_sweep_on_a_local_ray_instance(tmp_path: Path) -> None:
    pytest.importorskip("hydra_plugins.hydra_ray_launcher", reason="pip install -e '.[sweep]'")
    sweep = tmp_path / "sweep"
    r = _cli("-m", *TINY, "seed=0,1", "hydra/launcher=ray_local", f"hydra.sweep.dir={sweep}", cwd=tmp_path)
    log = r.stdout + r.stderr
    assert r.returncode == 0, log[-4000:]
    assert "Ray Launcher is launching 2 jobs" in log and "Started a local Ray instance" in log
    _check_jobs(sweep, {"0": "done", "1": "done"})
    infos = [json.loads((sweep / n / "run_info.json").read_text()) for n in ("0", "1")]
    assert infos[0]["pid"] != os.getpid()  # ran in Ray workers, not the driver
    r = _cli("report", str(sweep), "reps=200", cwd=tmp_path, timeout=120)
    assert r.returncode == 0 and "| `all` | 2 | 0 |" in r.stdout, r.stdout + r.stderr


@pytest.mark.slow
def test_tiny_optuna_study_maximises_the_returned_score(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    tiny = [o for o in TINY if o != "+sweep=smoke"]
    r = _cli("-m", "+sweep=optuna_reward_model", *tiny, "baseline=true", "hydra.sweeper.n_trials=2",
             f"hydra.sweep.dir={sweep}", cwd=tmp_path)
    log = r.stdout + r.stderr
    assert r.returncode == 0, log[-4000:]
    results = (sweep / "optimization_results.yaml").read_text()
    assert "best_params" in results and "reward_model.trainer.lr" in results
    summaries = [json.loads(p.read_text()) for p in sweep.glob("*/summary.json")]
    assert len(summaries) == 2 and all(s["normalized_score"] is not None for s in summaries)
    _check_jobs(sweep, {"0": "done", "1": "done"})
