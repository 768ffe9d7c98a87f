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
import numpy as np
import pytest

FINGERPRINT = Path(__file__).parent / "fingerprints" / "backflip_v2.json"
V2 = "rlhf_robotics/HopperBackflip-v2"
DT = 0.008


def launched(vz: float, spin: float, then: Callable[[int], np.ndarray]) -> Callable[[Any, int], np.ndarray]:
    """Set a jump (``vz`` m/s up, ``spin`` rad/s, negative is backward) into the state before the first step, then
    act ``then(t)``."""

    def act(u: Any, t: int) -> np.ndarray:
        if t == 0:
            qvel = u.data.qvel.copy()
            qvel[1], qvel[2] = vz, spin
            u.set_state(u.data.qpos.copy(), qvel)
        return then(t)

    return act


def still(t: int) -> np.ndarray:
    return np.zeros(3)


def rocking(t: int) -> np.ndarray:
    return np.sin(2 * math.pi * 3.0 * t * DT + np.array([0.0, 1.0, 2.0]))


ROLLOUTS: dict[str, tuple[int, Callable[[Any, int], np.ndarray] | None]] = {
    "random": (0, None),  # (seed, action at step t or None for seeded random actions)
    "random_seed1": (1, None),
    "flip_landed": (0, launched(5.0, -6.0, still)),  # one flip, landed at step 127, then a fall
    "over_rotation": (0, launched(5.0, -9.0, rocking)),  # past the full turn in the air, never landed
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
    # poses: 0.5 … 6.0 rad in the air, 6.5, 7.0, 6.5, landed at 2π, …
    from test_backflip_v2 import POSES, scripted

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
    turned_back = -(obs[1:, 1] - obs[:-1, 1])  # torso angle index 1: negative is backward
    new = np.maximum(0.0, turned_back - regain)
    np.testing.assert_allclose(cost, -(new - np.minimum(new, np.maximum(0.0, complete))) / DT, atol=1e-6)
    assert cost.sum() < -100  # the rollout turns well past a full turn


def test_the_docstrings_table_and_extra_turns_rank_below_partial_ones() -> None:
    from test_backflip_v2 import episode_return

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
    ({"flip_allowance": False}, "for v1 or v0 pass over_rotation_cost_weight=0"),
])
def test_bad_cost_settings_name_the_fix(kwargs: dict, match: str) -> None:
    import gymnasium as gym

    with pytest.raises(ValueError, match=match):
        gym.make(V3, **kwargs)
