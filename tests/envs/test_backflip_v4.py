"""HopperBackflip-v4 (issue 15, "taught by preferences"): the landing is observed (index 15) and paid on the step
that starts with it, so every term of the objective is a function of one step's observation and action; v3 still
reproduces, bit for bit.

``fingerprints/backflip_v3.json`` was recorded from v3's code (before v4 existed) on the rollouts of
``test_backflip_v3.ROLLOUTS``; re-record only for a meant change to v3, with ``RECORD_FINGERPRINTS=1 pytest
tests/envs/test_backflip_v4.py``, and say why in the commit.
"""

from __future__ import annotations

from pathlib import Path

import fingerprinting
import gymnasium as gym
import numpy as np
import pytest
from test_backflip_v2 import POSES, episode_return, scripted
from test_backflip_v3 import ROLLOUTS

FINGERPRINT = Path(__file__).parent / "fingerprints" / "backflip_v3.json"
V3 = "rlhf_robotics/HopperBackflip-v3"
V4 = "rlhf_robotics/HopperBackflip-v4"


def test_record() -> None:
    fingerprinting.record(FINGERPRINT, V3, ROLLOUTS)


@pytest.mark.parametrize("name", sorted(ROLLOUTS))
def test_v3_reproduces_its_recorded_rollouts_bit_for_bit(name: str) -> None:
    fingerprinting.assert_reproduces(FINGERPRINT, V3, ROLLOUTS, name)


def test_the_landing_is_observed_after_its_step_and_paid_on_the_next() -> None:
    obs4, infos4 = scripted(POSES, V4)
    obs3, infos3 = scripted(POSES, V3)
    landed = next(t for t, i in enumerate(infos3) if i["reward_landing"] > 0)  # v3 pays it on the landing step
    assert obs4.shape[1] == 16
    np.testing.assert_array_equal(obs4[:, :15], obs3)  # indices 0-14 as v3
    assert obs4[:, 15].tolist() == [float(t == landed + 1) for t in range(len(obs4))]  # 1 after the landing step only
    assert [i["reward_landing"] for i in infos4] == [400.0 * (t == landed + 1) for t in range(len(infos4))]
    for i3, i4 in zip(infos3, infos4):  # nothing else moved, the verifier included
        assert {k: v for k, v in i3.items() if k != "reward_landing"} == \
               {k: v for k, v in i4.items() if k != "reward_landing"}


def test_every_term_is_a_function_of_the_steps_first_observation_landing_included() -> None:
    obs, _, infos = fingerprinting.rollout(V4, *ROLLOUTS["flip_landed"])
    landing = np.array([i["reward_landing"] for i in infos])
    np.testing.assert_array_equal(landing, 400.0 * obs[:-1, 15])
    assert landing.sum() == 400.0 and infos[-1]["is_success"]  # the rollout lands one flip


def test_the_docstrings_table_holds_for_v4() -> None:
    fall, infos = episode_return(V4, 5.0, -6.0)
    landing = next(t for t, i in enumerate(infos) if i["reward_landing"] > 0)
    stand = sum(sum(v for k, v in i.items() if k.startswith("reward_")) for i in infos[:landing + 1])
    stand += 1.25 * (len(infos) - landing - 1)
    one, _ = episode_return(V4, 5.0, -8.0)
    two, _ = episode_return(V4, 6.0, -12.0)
    np.testing.assert_allclose([stand, fall, one, two], [1550, 1394, 759, 67], atol=1.0)


def test_a_landing_on_the_last_step_is_observed_but_never_paid() -> None:
    # v4's one cost: the episode ends before the step that would pay it
    landing = next(t for t, (_, rotation) in enumerate(POSES) if rotation == 2 * np.pi)  # upright on the foot
    obs, infos = scripted(POSES[:landing + 1], V4)
    assert obs[-1, 15] == 1.0 and infos[-1]["is_success"]
    assert sum(i["reward_landing"] for i in infos) == 0.0


def test_landing_observed_needs_the_markovian_observation() -> None:
    with pytest.raises(ValueError, match="for v0 pass landing_observed=False too"):
        gym.make(V4, markovian_objective=False, flip_allowance=False, over_rotation_cost_weight=0.0,
                 torso_angle_cos_sin=False, landing_reward=20.0)
