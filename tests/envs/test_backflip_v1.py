"""HopperBackflip-v1 (issue 15): its hidden objective is a function of what the policy and a reward net see —
the rotation term is computed here from consecutive observations alone — and v0 still reproduces."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
import rlhf_robotics.envs  # noqa: F401  (registers the suite)

DT = 0.008


def _rollout(env_id: str, seed: int, steps: int = 300) -> tuple[np.ndarray, list[dict]]:
    """Launch with a backward spin, then rocking torques: in the air, rotating back and forth, landing."""
    env = gym.make(env_id)
    obs, _ = env.reset(seed=seed)
    u = env.unwrapped
    qvel = u.data.qvel.copy()
    qvel[1], qvel[2] = 3.0, -5.0
    u.set_state(u.data.qpos.copy(), qvel)
    observations, infos = [u._get_obs()], []
    for t in range(steps):
        action = np.sin(2 * math.pi * 3.0 * t * DT + np.array([0.0, 1.0, 2.0]))
        obs, _, _, _, info = env.step(action.astype(np.float32))
        observations.append(obs)
        infos.append(info)
    env.close()
    return np.array(observations), infos


@pytest.mark.parametrize("seed", [0, 1])
def test_rotation_reward_is_a_function_of_consecutive_observations(seed: int) -> None:
    obs, infos = _rollout("rlhf_robotics/HopperBackflip-v1", seed)
    assert obs.shape[1] == 13
    paid = np.array([i["reward_rotation"] for i in infos])
    regain, airborne = obs[:-1, 11], obs[:-1, 12]
    turned_back = -(obs[1:, 1] - obs[:-1, 1])  # torso angle index 1: negative is backward
    expected = np.maximum(0.0, turned_back - regain) / DT * airborne
    np.testing.assert_allclose(paid, expected, atol=1e-6)
    # the rollout exercises both conditions: rotation behind the frontier, and backward turns started on the floor
    behind = (turned_back > 1e-3) & (regain > turned_back) & (airborne == 1)
    on_floor = (turned_back > 1e-3) & (airborne == 0)
    assert paid.sum() > 10 and behind.any() and on_floor.any()
    # indices 11 and 12 are the episode state the info reports after each step
    furthest = np.maximum.accumulate([i["backward_rotation"] for i in infos])
    np.testing.assert_allclose(obs[1:, 11], np.maximum(0, furthest - [i["backward_rotation"] for i in infos]), atol=1e-9)
    np.testing.assert_array_equal(obs[1:, 12], [i["airborne"] for i in infos])


def test_v0_is_still_registered_with_its_observation_and_timing() -> None:
    with pytest.warns(DeprecationWarning, match="out of date"):  # Gymnasium points users to the newest version
        obs0, infos0 = _rollout("rlhf_robotics/HopperBackflip-v0", 0)
    obs1, infos1 = _rollout("rlhf_robotics/HopperBackflip-v1", 0)
    assert obs0.shape[1] == 11
    np.testing.assert_allclose(obs0, obs1[:, :11])  # the same physics
    paid0 = np.array([i["reward_rotation"] for i in infos0])
    air_after = np.array([i["airborne"] for i in infos0])
    assert (paid0[air_after == 0] == 0).all()  # v0 pays on steps that end in the air
    assert not np.allclose(paid0, [i["reward_rotation"] for i in infos1])  # v1 on steps that start there
