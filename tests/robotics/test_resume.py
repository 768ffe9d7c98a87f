"""A run killed with SIGKILL in any phase — a label round past its checkpoint, the final evaluation, the
baseline, the video — resumes to a summary with every judgment kept; a finished run resumes to nothing."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rlhf_robotics.robotics.config import (
    EnvConfig,
    ExperimentConfig,
    LabelsConfig,
    PPOConfig,
    RewardModelConfig,
)
from rlhf_robotics.robotics.loop import run_experiment
from rlhf_robotics.robotics.saved_run import (
    evaluate_run,
    load_obs_rms,
    load_reward_function,
    load_reward_model,
)
from rlhf_robotics.robotics.schedule import label_schedule

DRIVER = """
import json, sys
from rlhf_robotics.robotics.config import load_config
from rlhf_robotics.robotics.loop import run_experiment
config_dir, resume = sys.argv[1], sys.argv[2] == "resume"
summary = run_experiment(load_config(config_dir), resume=resume, progress=False)
print(json.dumps({"labels_used": summary.labels_used}))
"""


def config(run_dir: Path, algo: str = "ppo", refit: str = "sync") -> ExperimentConfig:
    """``refit``: ``sync`` (the refit these phases were written for: the reward is fitted between the policy's
    chunks, under its own status) or ``default`` (the package's: under PPO a background refit in a worker process)."""
    from test_loop import synchronous

    from rlhf_robotics.preference.trainer import RewardTrainerConfig
    from rlhf_robotics.robotics.config import OffPolicyConfig, PretrainConfig

    reward_model = RewardModelConfig(ensemble_size=2, trainer=RewardTrainerConfig(epochs=60))

    off_policy = OffPolicyConfig(buffer_size=4000, learning_starts=50, batch_size=32, net_arch=[32, 32])
    return ExperimentConfig(
        algo=algo,  # type: ignore[arg-type]
        off_policy=off_policy,
        pretrain=PretrainConfig(steps=200, reset_updates=5) if algo == "sac" else PretrainConfig(),
        env=EnvConfig(id="InvertedPendulum-v5", n_envs=2, segment_steps=5),
        labels=LabelsConfig(total=24, rounds=3, initial_steps=200, buffer_steps=400),
        ppo=PPOConfig(n_steps=64, batch_size=64, n_epochs=2),
        reward_model=synchronous(reward_model) if refit == "sync" else reward_model,
        total_steps=1536, seed=0, run_dir=str(run_dir), baseline=True, eval_episodes=3, video=True,
        video_dir=str(run_dir.parent / "videos"),
    )


def _judgments(run_dir: Path) -> list[tuple]:
    with sqlite3.connect(run_dir / "preferences.sqlite") as c:
        return c.execute("SELECT id, query_id, label, annotator FROM judgments ORDER BY id").fetchall()


def _status_message(run_dir: Path) -> str:
    try:
        return str(json.loads((run_dir / "status.json").read_text())["message"])
    except (OSError, ValueError, KeyError):
        return ""


def _driver(run_dir: Path, mode: str, algo: str = "ppo", refit: str = "sync") -> subprocess.Popen:
    """A process running (``fresh``) or resuming the run; no MUJOCO_GL and no display, as on a headless server."""
    config_dir = run_dir.parent / "config"
    if not config_dir.exists():
        config_dir.mkdir()
        (config_dir / "config.json").write_text(json.dumps(dataclasses.asdict(config(run_dir, algo, refit))))
    env = {k: v for k, v in os.environ.items() if k not in ("MUJOCO_GL", "DISPLAY")}
    return subprocess.Popen([sys.executable, "-c", DRIVER, str(config_dir), mode], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _kill_when(run_dir: Path, proc: subprocess.Popen, phase: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while phase not in _status_message(run_dir):
        if proc.poll() is not None:
            pytest.fail(f"the run ended before reaching {phase!r}:\n{proc.stdout.read() if proc.stdout else ''}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"no {phase!r} within {timeout} s")
        time.sleep(0.002)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


PHASES = {
    # status message seen → a check that the kill landed inside that phase (its result not yet saved)
    "round 2: fitting the reward model": lambda d: json.loads((d / "checkpoints" / "latest.json").read_text())["round"] == 1,
    "final evaluation": lambda d: "evaluation" not in _final(d),
    "baseline PPO": lambda d: "evaluation" in _final(d) and "baseline" not in _final(d),
    "recording the policy video": lambda d: "baseline" in _final(d) and "video" not in _final(d),
}


def _final(run_dir: Path) -> dict:
    path = run_dir / "checkpoints" / "final.json"
    return json.loads(path.read_text()) if path.exists() else {}


@pytest.mark.slow
@pytest.mark.parametrize("phase", list(PHASES))
def test_sigkill_in_each_phase_resumes_to_a_summary_keeping_every_judgment(tmp_path: Path, phase: str) -> None:
    run_dir = tmp_path / "run"
    _kill_when(run_dir, _driver(run_dir, "fresh"), phase)
    assert PHASES[phase](run_dir), f"the kill did not land inside {phase!r}"
    assert not (run_dir / "summary.json").exists()
    before = _judgments(run_dir)
    if phase.startswith("round 2"):  # the hard case: judgments newer than the last checkpoint exist
        c = config(run_dir)
        due_by_round_1 = sum(label_schedule(24, c.labels.initial_fraction, 3, c.total_steps, c.labels.schedule_timescale)[:2])
        assert len(before) > due_by_round_1

    proc = _driver(run_dir, "resume")
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, out
    summary = json.loads((run_dir / "summary.json").read_text())
    after = _judgments(run_dir)
    assert after[: len(before)] == before  # nothing lost or rewritten
    assert summary["labels_used"] == 24 and len({q for _, q, _, _ in after}) == 24
    assert summary["baseline_return_true"] is not None and summary["fraction_of_true_reward_ppo"] is not None
    assert Path(summary["files"]["video"]).stat().st_size > 0
    assert Path(summary["files"]["video"]).parent == run_dir


def test_resuming_a_finished_run_changes_nothing(tmp_path: Path) -> None:
    from dataclasses import replace

    c = replace(config(tmp_path / "run"), total_steps=384, baseline=False, video=False, eval_episodes=1)
    first = run_experiment(c, progress=False)
    snapshot = {p: (p.stat().st_size, p.stat().st_mtime_ns) for p in (tmp_path / "run").rglob("*") if p.is_file()}
    again = run_experiment(c, resume=True, progress=False)
    assert json.dumps(again.to_json(), sort_keys=True) == json.dumps(first.to_json(), sort_keys=True)
    assert {p: (p.stat().st_size, p.stat().st_mtime_ns) for p in (tmp_path / "run").rglob("*") if p.is_file()} == snapshot

    # the saved run loads back: reward function, statistics, policy evaluation (the loop's own numbers)
    ensemble = load_reward_model(tmp_path / "run")
    fn = load_reward_function(tmp_path / "run")
    import numpy as np
    import torch

    x = np.random.default_rng(0).normal(size=(7, int(ensemble.members[0].input_mean.shape[0]))).astype(np.float32)  # type: ignore[index]
    with torch.no_grad():
        assert np.allclose(fn(x), ensemble.reward(torch.as_tensor(x)).numpy(), atol=1e-4)
    assert load_obs_rms(tmp_path / "run") is not None  # the default PPO settings normalise observations
    ev = evaluate_run(tmp_path / "run", episodes=1, seed=c.seed + 10_000, video=False)
    assert ev.policy_return_true == first.policy_return_true  # same policy, statistics and seed as the final evaluation


@pytest.mark.slow
def test_sigkill_of_a_pebble_run_mid_round_resumes_keeping_every_judgment(tmp_path: Path) -> None:
    """SAC with PEBBLE's pre-training, killed while fitting round 2's reward: the resumed run (the replay buffer is
    not checkpointed) keeps every judgment and ends with a summary."""
    run_dir = tmp_path / "run"
    _kill_when(run_dir, _driver(run_dir, "fresh", "sac"), "round 2: fitting the reward model")
    assert PHASES["round 2: fitting the reward model"](run_dir)
    before = _judgments(run_dir)
    proc = _driver(run_dir, "resume", "sac")
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, out
    assert _judgments(run_dir)[: len(before)] == before
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["labels_used"] == 24 and summary["baseline_return_true"] is not None


@pytest.mark.slow
def test_sigkill_mid_round_of_the_default_background_refit_resumes_keeping_every_judgment(tmp_path: Path) -> None:
    """The package's default under PPO: round 2 asks its pairs and hands them to the refit worker, then the policy
    trains while the worker fits; killed then, the run has judgments newer than its last checkpoint and a worker
    process mid-fit. The resumed run keeps every judgment and ends with a summary."""
    run_dir = tmp_path / "run"
    c = config(run_dir, refit="default")
    assert c.reward_model.async_training and c.reward_model.async_relabel  # what this test is about
    _kill_when(run_dir, _driver(run_dir, "fresh", refit="default"), "round 2: training the policy")
    assert json.loads((run_dir / "checkpoints" / "latest.json").read_text())["round"] == 1
    before = _judgments(run_dir)
    due_by_round_1 = sum(label_schedule(24, c.labels.initial_fraction, 3, c.total_steps, c.labels.schedule_timescale)[:2])
    assert len(before) > due_by_round_1  # round 2's pairs were asked and answered before the kill
    proc = _driver(run_dir, "resume", refit="default")
    out, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, out
    after = _judgments(run_dir)
    assert after[: len(before)] == before  # nothing lost or rewritten
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["labels_used"] == 24 and len({q for _, q, _, _ in after}) == 24
    assert "reward_training_background" in summary["wall_seconds"]  # the resumed rounds refitted in the background
