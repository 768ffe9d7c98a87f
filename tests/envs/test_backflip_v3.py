"""HopperBackflip-v3 (issue 15, "taught by preferences"): turning past a full turn without landing costs what it
would have earned, so a person's "extra turns are worse" is in the objective; v2 still reproduces, bit for bit.

``fingerprints/backflip_v2.json`` was recorded from v2's code (before v3 existed) on the rollouts of
``ROLLOUTS``; re-record only for a meant change to v2, with ``RECORD_FINGERPRINTS=1 pytest
tests/envs/test_backflip_v3.py``, and say why in the commit.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import fingerprinting
import gymnasium as gym
import numpy as np
import pytest
from test_backflip_v2 import POSES, _launch, _rocking, _still, episode_return, scripted

FINGERPRINT = Path(__file__).parent / "fingerprints" / "backflip_v2.json"
V2 = "rlhf_robotics/HopperBackflip-v2"
DT = 0.008


def launched(vz: float, spin: float, then: Callable[[int], np.ndarray]) -> Callable[[Any, int], np.ndarray]:
    """v2's test launch (``vz`` m/s up, ``spin`` rad/s, negative is backward) set before the first step, then act
    ``then(t)``: the fingerprint helper's ``act(u, t)`` form."""
    prepare = _launch(vz, spin)

    def act(u: Any, t: int) -> np.ndarray:
        if t == 0:
            prepare(u)
        return then(t)

    return act


ROLLOUTS: dict[str, tuple[int, Callable[[Any, int], np.ndarray] | None]] = {
    "random": (0, None),  # (seed, action at step t or None for seeded random actions)
    "random_seed1": (1, None),
    "flip_landed": (0, launched(5.0, -6.0, _still)),  # one flip, landed at step 127, then a fall
    "over_rotation": (0, launched(5.0, -9.0, _rocking)),  # past the full turn in the air, never landed
}


def test_record() -> None:
    fingerprinting.record(FINGERPRINT, V2, ROLLOUTS)


@pytest.mark.parametrize("name", sorted(ROLLOUTS))
def test_v2_reproduces_its_recorded_rollouts_bit_for_bit(name: str) -> None:
    fingerprinting.assert_reproduces(FINGERPRINT, V2, ROLLOUTS, name)


# --- v3's objective ---------------------------------------------------------------------------------------------

V3 = "rlhf_robotics/HopperBackflip-v3"
TAU = 2 * math.pi


def test_turning_past_the_flip_costs_what_it_would_have_earned_and_a_landing_reopens_the_allowance() -> None:
    # POSES: 0.5 … 6.0 rad in the air, 6.5, 7.0, 6.5, landed at 2π, …
    _, infos = scripted(POSES, V3)
    paid = [i["reward_rotation"] for i in infos]
    cost = [i["reward_over_rotation"] for i in infos]
    np.testing.assert_allclose(paid[2:13], 0.5 / DT)  # as v2: 1.0 … 6.0 rad paid
    assert paid[13] == pytest.approx((TAU - 6.0) / DT) and cost[13] == pytest.approx(-(6.5 - TAU) / DT)
    assert paid[14] == 0.0 and cost[14] == pytest.approx(-0.5 / DT)  # 7.0 rad: all of the step is past the turn
    assert cost[15] == 0.0  # back to 6.5: not new rotation
    assert infos[16]["reward_landing"] == 400.0 and infos[-1]["is_success"]  # upright on the foot at 2π
    assert cost[16:] == [0.0, 0.0, 0.0] and paid[18] == pytest.approx(0.5 / DT)  # the landing opened the next flip
    # v2 has no cost term and pays the same rotation: the cost is the only change
    _, infos2 = scripted(POSES, V2)
    assert "reward_over_rotation" not in infos2[0]
    np.testing.assert_array_equal(paid, [i["reward_rotation"] for i in infos2])


def test_the_cost_is_a_function_of_consecutive_observations() -> None:
    obs, _, infos = fingerprinting.rollout(V3, *ROLLOUTS["over_rotation"])
    cost = np.array([i["reward_over_rotation"] for i in infos])
    regain, complete = obs[:-1, 11], obs[:-1, 13]
    angle = np.arctan2(obs[:, 14], obs[:, 1])  # the torso angle from its sine and cosine (negative is backward)
    turned_back = -(np.remainder(angle[1:] - angle[:-1] + np.pi, 2 * np.pi) - np.pi)
    new = np.maximum(0.0, turned_back - regain)
    np.testing.assert_allclose(cost, -(new - np.minimum(new, np.maximum(0.0, complete))) / DT, atol=1e-6)
    assert cost.sum() < -100  # the rollout turns well past a full turn


def test_the_docstrings_table_and_extra_turns_rank_below_partial_ones() -> None:
    fall, infos = episode_return(V3, 5.0, -6.0)
    landing = next(t for t, i in enumerate(infos) if i["reward_landing"] > 0)
    stand = sum(sum(v for k, v in i.items() if k.startswith("reward_")) for i in infos[:landing + 1])
    stand += 1.25 * (len(infos) - landing - 1)  # idealised: upright on the foot for the rest of the episode
    one, _ = episode_return(V3, 5.0, -8.0)  # 1.33 turns, not landed
    two, _ = episode_return(V3, 6.0, -12.0)  # 2.36 turns, not landed
    np.testing.assert_allclose([stand, fall, one, two], [1550, 1394, 759, 67], atol=1.0)
    assert stand > fall > one > two


@pytest.mark.parametrize("kwargs, match", [
    ({"over_rotation_cost_weight": -1.0}, "over_rotation_cost_weight=-1.0 would pay"),
    ({"flip_allowance": False}, "for v1 or v0 pass over_rotation_cost_weight=0 and torso_angle_cos_sin=False"),
])
def test_bad_cost_settings_name_the_fix(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        gym.make(V3, **kwargs)


def test_the_torso_angle_is_observed_as_cosine_and_sine_so_standing_after_a_flip_looks_like_standing_before_it(
) -> None:
    obs3, infos = scripted(POSES, V3)
    obs2, _ = scripted(POSES, V2)
    rotation = np.array([0.0] + [r for _, r in POSES])
    np.testing.assert_allclose(obs2[:, 1], obs2[0, 1] - rotation, atol=1e-9)  # v2: unwrapped, -2π after a flip
    assert obs3.shape[1] == 15
    np.testing.assert_allclose(obs3[:, 1], np.cos(obs2[:, 1]), atol=1e-9)  # index 1: cosine (1 upright, -1 upside down)
    np.testing.assert_allclose(obs3[:, 14], np.sin(obs2[:, 1]), atol=1e-9)  # index 14: sine
    landed = 1 + next(t for t, i in enumerate(infos) if i["reward_landing"] > 0)  # upright on the foot at 2π
    np.testing.assert_allclose(obs3[landed, :11], obs3[1, :11], atol=1e-9)  # as on the foot before the flip
    np.testing.assert_array_equal(np.delete(obs3[:, :14], 1, axis=1), np.delete(obs2, 1, axis=1))  # nothing else moved


def test_the_angle_follows_an_observed_x_position() -> None:
    env = gym.make(V3, exclude_current_positions_from_observation=False)
    env.reset(seed=0)
    u = env.unwrapped
    qpos = u.data.qpos.copy()
    qpos[2] = -2 * math.pi - 0.1  # a flip and a bit
    u.set_state(qpos, u.data.qvel.copy())
    obs = u._get_obs()
    assert obs.shape == (16,) and obs[1] == pytest.approx(qpos[1])  # x position, then torso height
    assert obs[2] == pytest.approx(math.cos(0.1)) and obs[15] == pytest.approx(-math.sin(0.1))
    env.close()
