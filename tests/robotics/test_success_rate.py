"""Verifier success rates (issue 15): counted on each episode's last step, null with a reason for a task without
a verifier, and the rate in ``summary.json`` equal to the verifier's reading of the same evaluation episodes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

from rlhf_robotics.robotics.evaluation import SuccessRate, evaluate_policy, success_rate
from rlhf_robotics.robotics.summary import Summary, success_metrics, success_text, summary_table


class _Scripted(gym.Env):
    """4-step episodes; ``is_success`` is true on step 2 of every episode and on the last step of even episodes."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
    action_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)

    def __init__(self, verifier: bool = True) -> None:
        self.verifier, self.episode, self.t = verifier, -1, 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.episode, self.t = self.episode + 1, 0
        return np.zeros(1, np.float32), {}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        self.t += 1
        info = {"is_success": self.t == 2 or (self.t == 4 and self.episode % 2 == 0)} if self.verifier else {}
        return np.zeros(1, np.float32), 1.0, False, self.t == 4, info


def test_success_is_read_on_the_last_step_of_each_episode() -> None:
    record: list[list[dict]] = []
    ev = evaluate_policy(None, _Scripted, episodes=5, seed=0, record=record)
    # episodes 0, 2, 4 end in success; 1 and 3 passed the check on step 2 but not at the end → 3 of 5
    assert ev.success == SuccessRate(0.6, 3, 5)
    assert ev.returns.mean == 4.0 and ev.returns.episodes == 5
    assert [len(steps) for steps in record] == [4] * 5
    assert [steps[-1]["is_success"] for steps in record] == [True, False, True, False, True]
    assert all(steps[1]["is_success"] for steps in record)


def test_a_task_without_a_verifier_reports_null_with_a_reason_never_0() -> None:
    ev = evaluate_policy(None, lambda: _Scripted(verifier=False), episodes=2, seed=0)
    assert ev.success.rate is None and ev.success.successes is None and ev.success.episodes == 2
    assert "no info['is_success']" in (ev.success.reason or "")
    assert success_text(ev.success) == "n/a (no verifier)"


def test_episodes_that_disagree_on_reporting_the_verifier_are_an_error() -> None:
    with pytest.raises(ValueError, match="only 1 of 2 episodes report"):
        success_rate([{"is_success": True}, {}], "rlhf_robotics/X-v0")


def _tiny(run_dir: Path, env_id: str, **env_kwargs: Any):
    from rlhf_robotics.preference.trainer import RewardTrainerConfig
    from rlhf_robotics.robotics.config import (
        EnvConfig,
        ExperimentConfig,
        LabelsConfig,
        PPOConfig,
        RewardModelConfig,
    )

    return ExperimentConfig(
        env=EnvConfig(id=env_id, n_envs=2, segment_steps=5, kwargs=env_kwargs),
        labels=LabelsConfig(total=12, rounds=2, initial_steps=200, buffer_steps=400),
        reward_model=RewardModelConfig(ensemble_size=2, trainer=RewardTrainerConfig(epochs=3)),
        ppo=PPOConfig(n_steps=64, batch_size=64, n_epochs=2),
        total_steps=256, seed=0, run_dir=str(run_dir), baseline=True, eval_episodes=12, video=False,
    )


def test_summary_success_rates_match_the_verifier_on_the_recorded_evaluation_episodes(tmp_path: Path) -> None:
    from rlhf_robotics.robotics.loop import run_experiment
    from rlhf_robotics.robotics.physics import env_factory
    from rlhf_robotics.robotics.saved_run import load_obs_rms, load_policy

    # a looser target than the default 2 cm, so that short runs pass it in some episodes and fail it in others
    distance, jerk = 0.1, 1e9
    config = _tiny(tmp_path / "run", "rlhf_robotics/ReacherSmooth-v1", success_distance=distance, success_mean_jerk=jerk)
    run_experiment(config, progress=False)
    data = json.loads((tmp_path / "run" / "summary.json").read_text())
    summary = Summary.from_json(data)

    # replay the final evaluation (same policy, statistics and seed: the loop evaluates at seed + 10,000) and
    # recompute the verifier from the recorded physics of each episode's last step
    make_env = env_factory(config.env.id, config.env.kwargs, None)
    recomputed = {}
    for name, policy, rms in (("policy_success", load_policy(tmp_path / "run"), load_obs_rms(tmp_path / "run")),
                              ("random_success", None, None)):
        episodes: list[list[dict]] = []
        evaluate_policy(policy, make_env, config.eval_episodes, config.seed + 10_000, rms, record=episodes)
        passed = [steps[-1]["distance"] <= distance and np.mean([s["tip_jerk"] for s in steps]) <= jerk for steps in episodes]
        assert [steps[-1]["is_success"] for steps in episodes] == passed  # the env's verifier says the same
        recomputed[name] = sum(passed) / len(passed)
        assert data[name] == {"rate": recomputed[name], "successes": sum(passed), "episodes": 12, "reason": None}
    assert 0 < recomputed["random_success"] < 1  # a mixed outcome: the count is not trivially all or nothing
    for name in ("initial_policy_success", "baseline_success"):
        rate = getattr(summary, name)
        assert rate is not None and rate.episodes == 12 and rate.rate is not None and 0 <= rate.rate <= 1

    # the metrics file (and TensorBoard, from the same row) carries them under policy/, random/, baseline/ keys
    final = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[-1])
    assert final["policy/success_rate_final"] == recomputed["policy_success"]
    assert final["random/success_rate"] == recomputed["random_success"]
    assert final["baseline/success_rate"] == summary.baseline_success.rate  # type: ignore[union-attr]
    assert "success/reason" not in final
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    tb = EventAccumulator(str(next((tmp_path / "run" / "tb").rglob("events.out.tfevents.*")).parent)).Reload()
    assert [e.value for e in tb.Scalars("random/success_rate")] == [pytest.approx(recomputed["random_success"])]
    assert [e.value for e in tb.Scalars("policy/success_rate_final")] == [pytest.approx(recomputed["policy_success"])]
    assert f"learned-reward PPO {success_text(summary.policy_success)}," in summary_table(summary)


def test_a_run_on_a_task_without_a_verifier_reports_null_and_the_reason(tmp_path: Path) -> None:
    from rlhf_robotics.robotics.loop import run_experiment

    config = _tiny(tmp_path / "run", "InvertedPendulum-v5")
    config.baseline, config.eval_episodes = False, 2
    run_experiment(config, progress=False)
    data = json.loads((tmp_path / "run" / "summary.json").read_text())
    for name in ("policy_success", "initial_policy_success", "random_success"):
        assert data[name]["rate"] is None and data[name]["successes"] is None
        assert data[name]["reason"] == "InvertedPendulum-v5 reports no info['is_success'] (the task has no verifier)"
    assert data["baseline_success"] is None  # not run
    final = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[-1])
    assert final["policy/success_rate_final"] is None and "no verifier" in final["success/reason"]
    assert "baseline/success_rate" not in final
    assert success_metrics(Summary.from_json(data))["random/success_rate"] is None
    assert "random n/a (no verifier)" in summary_table(Summary.from_json(data))
