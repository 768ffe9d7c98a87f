"""HalfCheetahOneLeg-v2 and -v3 (issue 15, "taught by preferences"): v2 observes the pitch as its cosine (index 1)
and sine (index 17) instead of the unwrapped angle; v3 charges being upside down. v1 and v2 still reproduce."""

from __future__ import annotations

import warnings

import fingerprinting
import gymnasium as gym
import numpy as np
import pytest
from test_half_cheetah_one_leg_v1 import ROLLOUTS, STEPS

V1, V2 = "rlhf_robotics/HalfCheetahOneLeg-v1", "rlhf_robotics/HalfCheetahOneLeg-v2"


@pytest.mark.parametrize("name", sorted(ROLLOUTS))
def test_v2_differs_from_v1_only_in_how_the_pitch_is_observed(name: str) -> None:
    obs1, rewards1, infos1 = fingerprinting.rollout(V1, *ROLLOUTS[name], STEPS)
    obs2, rewards2, infos2 = fingerprinting.rollout(V2, *ROLLOUTS[name], STEPS)
    assert obs1.shape[1] == 17 and obs2.shape[1] == 18
    np.testing.assert_array_equal(np.delete(obs2[:, :17], 1, axis=1), np.delete(obs1, 1, axis=1))
    np.testing.assert_allclose(obs2[:, 1], np.cos(obs1[:, 1]), atol=1e-12)
    np.testing.assert_allclose(obs2[:, 17], np.sin(obs1[:, 1]), atol=1e-12)
    np.testing.assert_array_equal(obs1[1:, 1], [i["pitch"] for i in infos1])  # index 1 was the pitch itself
    assert rewards1 == rewards2 and infos1 == infos2


def _observe_after_turns(env_id: str, turns: int) -> np.ndarray:
    """The observation of one pose with the body turned ``turns`` full times backwards (the physics is the same)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        env = gym.make(env_id)
    env.reset(seed=0)
    u = env.unwrapped
    qpos, qvel = u.data.qpos.copy(), u.data.qvel.copy()
    qpos[2] = 0.3 - 2 * np.pi * turns
    u.set_state(qpos, qvel)
    observation = np.asarray(u._get_obs())
    env.close()
    return observation


def test_a_pose_reads_the_same_after_any_number_of_turns() -> None:
    """What the reward net sees of a pose must not grow with every backward turn: on v1 the loop's learned reward
    kept paying more the further a tumbling cheetah had turned (the version history's figures)."""
    level, turned = _observe_after_turns(V3, 0), _observe_after_turns(V3, 3)
    np.testing.assert_allclose(turned, level, atol=1e-9)
    assert level[1] == pytest.approx(np.cos(0.3)) and level[17] == pytest.approx(np.sin(0.3))
    assert not np.allclose(_observe_after_turns(V1, 3), _observe_after_turns(V1, 0))  # v1: the angle itself


def test_pitch_cos_sin_needs_the_x_position_left_out() -> None:
    with pytest.raises(ValueError, match="exclude_current_positions_from_observation=False pass pitch_cos_sin=False"):
        gym.make(V2, exclude_current_positions_from_observation=False)


V3 = "rlhf_robotics/HalfCheetahOneLeg-v3"


@pytest.mark.parametrize("name", sorted(ROLLOUTS))
def test_v3_differs_from_v2_only_in_the_upside_down_cost(name: str) -> None:
    obs2, rewards2, infos2 = fingerprinting.rollout(V2, *ROLLOUTS[name], STEPS)
    obs3, rewards3, infos3 = fingerprinting.rollout(V3, *ROLLOUTS[name], STEPS)
    np.testing.assert_array_equal(obs2, obs3)
    assert all(i["reward_upside_down"] == 0.0 for i in infos2)
    np.testing.assert_allclose(np.subtract(rewards3, rewards2), [-5.0 * i["upside_down"] for i in infos3], atol=1e-12)
    assert [{k: v for k, v in i.items() if k != "reward_upside_down"} for i in infos2] == \
           [{k: v for k, v in i.items() if k != "reward_upside_down"} for i in infos3]


@pytest.mark.parametrize(("pitch", "upside_down"), [(0.0, False), (-1.4, False), (1.4, False), (np.pi, True),
                                                     (-2.0, True), (-2 * np.pi, False)])
def test_v3_charges_a_torso_turned_more_than_90_degrees(pitch: float, upside_down: bool) -> None:
    env = gym.make(V3)
    env.reset(seed=0)
    u = env.unwrapped
    qpos = u.data.qpos.copy()
    qpos[1], qpos[2] = 2.0, pitch  # high in the air: no contact, so only this term can charge
    u.set_state(qpos, np.zeros_like(u.data.qvel))
    _, _, _, _, info = env.step(np.zeros(6))
    assert info["upside_down"] == float(upside_down)
    assert info["reward_upside_down"] == (-5.0 if upside_down else 0.0)
    assert info["front_leg_contact"] == info["body_contact"] == 0.0


def test_a_negative_upside_down_cost_is_refused() -> None:
    with pytest.raises(ValueError, match="upside_down_cost=-1.0 would pay for being upside down"):
        gym.make(V3, upside_down_cost=-1.0)
