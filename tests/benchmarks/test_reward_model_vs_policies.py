"""``benchmarks/reward_model_vs_policies.py`` (issue 15): a policy's actions replayed in a reward model's task give
that task's features on the same trajectory, and a replay that leaves the trajectory says so."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import rlhf_robotics.envs  # noqa: F401  (registers the suite)
from bench_scripts import load_script


def _episode(env_id: str, seed: int, steps: int) -> dict[str, Any]:
    """Seeded random actions in ``env_id``, recorded as ``play`` records a policy's episode."""
    env = gym.make(env_id, max_episode_steps=steps)
    env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    actions, qpos = [], []
    for _ in range(steps):
        action = rng.uniform(-1, 1, env.action_space.shape)
        env.step(action)
        actions.append(action)
        qpos.append(np.array(env.unwrapped.data.qpos))
    env.close()
    return {"seed": seed, "actions": np.array(actions), "rewards": np.zeros(steps), "qpos": np.array(qpos)}


def test_an_earlier_versions_episode_replays_exactly_in_the_current_task() -> None:
    compare = load_script("reward_model_vs_policies")
    episode = _episode("rlhf_robotics/HalfCheetahOneLeg-v1", 3, 120)
    features, error = compare.replay("rlhf_robotics/HalfCheetahOneLeg-v3", {}, False, episode)
    assert error == 0.0  # same dynamics and reset: the very trajectory
    assert features.shape == (120, 18 + 6)
    np.testing.assert_allclose(features[:, 18:], episode["actions"], rtol=1e-6)
    first = gym.make("rlhf_robotics/HalfCheetahOneLeg-v3").reset(seed=3)[0]
    np.testing.assert_allclose(features[0, :18], first, rtol=1e-6)  # observation before the step, in v3's form


def test_a_replay_that_leaves_the_trajectory_reports_how_far() -> None:
    compare = load_script("reward_model_vs_policies")
    episode = _episode("rlhf_robotics/HalfCheetahOneLeg-v3", 3, 60)
    _, error = compare.replay("rlhf_robotics/HalfCheetahOneLeg-v3", {"reset_noise_scale": 0.3}, False, episode)
    assert error > 1e-3


def test_a_policy_of_another_task_is_refused_by_name() -> None:
    compare = load_script("reward_model_vs_policies")
    episode = _episode("rlhf_robotics/ReacherSmooth-v3", 0, 10)
    with pytest.raises(ValueError, match="takes actions of shape \\(6,\\), the policy gave \\(2,\\)"):
        compare.replay("rlhf_robotics/HalfCheetahOneLeg-v3", {}, False, episode)


def test_bad_arguments_name_the_value(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    compare = load_script("reward_model_vs_policies")
    for argv, said in ((["--models", str(tmp_path), "--policies", str(tmp_path), "--episodes", "0"], "at least 1"),
                       (["--models", str(tmp_path), "--policies", str(tmp_path)], "not a run directory")):
        with pytest.raises(SystemExit):
            compare.main(argv)
        assert said in capsys.readouterr().err
