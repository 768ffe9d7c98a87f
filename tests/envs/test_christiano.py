"""``make_christiano``: fixed horizon, termination → penalty, no control cost (Christiano et al. 2017)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from rlhf_robotics.envs import make_christiano


def run_episode(env: gym.Env, seed: int = 0) -> tuple[int, list[float], list[dict]]:
    env.action_space.seed(seed)
    env.reset(seed=seed)
    steps, rewards, infos = 0, [], []
    while True:
        _, reward, terminated, truncated, info = env.step(env.action_space.sample())
        steps += 1
        rewards.append(float(reward))
        infos.append(info)
        if terminated or truncated:
            assert truncated and not terminated, "a Christiano-style episode only ends at its horizon"
            return steps, rewards, infos


def test_hopper_runs_its_full_horizon_with_a_penalty_per_fallen_step_and_no_ctrl_cost() -> None:
    env = make_christiano("Hopper-v5", termination_penalty=2.0)
    steps, rewards, infos = run_episode(env)
    assert steps == gym.spec("Hopper-v5").max_episode_steps
    assert all(i["reward_ctrl"] == 0 for i in infos)
    penalties = [i["reward_termination"] for i in infos]
    assert min(penalties) == -2.0, "random actions make the hopper fall, and each fallen step costs the penalty"
    for reward, info in zip(rewards, infos, strict=True):  # fallen steps: no survive bonus, minus the penalty
        assert reward == pytest.approx(info["reward_forward"] + info["reward_survive"] + info["reward_termination"])
    assert env.unwrapped._terminate_when_unhealthy is False


def test_a_task_without_a_health_switch_is_reset_in_place_and_charged_once_per_fall() -> None:
    env = make_christiano("InvertedPendulum-v5", horizon=200, termination_penalty=5.0)
    steps, rewards, infos = run_episode(env)
    assert steps == 200
    resets = [i for i in infos if i.get("christiano_reset")]
    assert resets, "random actions drop the pendulum, which would end a standard episode"
    assert all(i["reward_termination"] == -5.0 for i in resets)
    assert sum(r < 0 for r in rewards) == len(resets)


def test_reacher_control_weight_is_zeroed_and_explicit_kwargs_win() -> None:
    _, _, infos = run_episode(make_christiano("Reacher-v5"))
    assert all(i["reward_ctrl"] == 0 for i in infos)
    _, _, infos = run_episode(make_christiano("Reacher-v5", reward_control_weight=0.5))
    assert any(i["reward_ctrl"] < 0 for i in infos)


def test_suite_tasks_work_too_and_horizon_is_exact() -> None:
    env = make_christiano("rlhf_robotics/HopperBackflip-v3", horizon=37)
    steps, _, infos = run_episode(env)
    assert steps == 37 and all(i["reward_ctrl"] == 0 for i in infos)


def test_same_seed_same_episode() -> None:
    a = run_episode(make_christiano("InvertedPendulum-v5", horizon=100), seed=1)[1]
    b = run_episode(make_christiano("InvertedPendulum-v5", horizon=100), seed=1)[1]
    np.testing.assert_array_equal(a, b)


def test_negative_penalty_is_refused_with_the_fix() -> None:
    with pytest.raises(ValueError, match=">= 0"):
        make_christiano("Hopper-v5", termination_penalty=-1.0)
