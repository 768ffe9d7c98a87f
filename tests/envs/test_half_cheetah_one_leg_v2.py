"""HalfCheetahOneLeg-v2 (issue 15, "calibrated tasks"): v2 makes a step with the front leg or the body on the floor
cost 15 instead of 5; v1 still reproduces, bit for bit.

``fingerprints/half_cheetah_one_leg_v1.json`` was recorded from v1's code (99da635, before v2 existed) on the first
``STEPS`` steps of the rollouts of ``test_half_cheetah_one_leg_v1.ROLLOUTS`` (random actions and a bounding gait that
falls now and then, so both legs and the body touch the floor); re-record only for a meant change to v1, with
``RECORD_FINGERPRINTS=1 pytest tests/envs/test_half_cheetah_one_leg_v2.py``, and say why in the commit.
"""

from __future__ import annotations

from pathlib import Path

import fingerprinting
import numpy as np
import pytest
from test_half_cheetah_one_leg_v1 import ROLLOUTS, STEPS

FINGERPRINT = Path(__file__).parent / "fingerprints" / "half_cheetah_one_leg_v1.json"
V1, V2 = "rlhf_robotics/HalfCheetahOneLeg-v1", "rlhf_robotics/HalfCheetahOneLeg-v2"


def test_record() -> None:
    fingerprinting.record(FINGERPRINT, V1, ROLLOUTS, STEPS)


@pytest.mark.parametrize("name", sorted(ROLLOUTS))
def test_v1_reproduces_its_recorded_rollouts_bit_for_bit(name: str) -> None:
    fingerprinting.assert_reproduces(FINGERPRINT, V1, ROLLOUTS, name, STEPS)


@pytest.mark.parametrize("name", sorted(ROLLOUTS))
def test_v2_differs_from_v1_only_in_what_contact_costs(name: str) -> None:
    obs1, rewards1, infos1 = fingerprinting.rollout(V1, *ROLLOUTS[name], STEPS)
    obs2, rewards2, infos2 = fingerprinting.rollout(V2, *ROLLOUTS[name], STEPS)
    np.testing.assert_array_equal(obs1, obs2)
    front = np.array([i["front_leg_contact"] for i in infos1])
    body = np.array([i["body_contact"] for i in infos1])
    assert front.any(), "the rollout should touch the floor with the front leg"
    np.testing.assert_allclose(np.array(rewards2) - np.array(rewards1), -10.0 * (front + body), atol=1e-9)
    assert [i["reward_front_contact"] for i in infos2] == [-15.0 * f for f in front]
    assert [i["reward_body_contact"] for i in infos2] == [-15.0 * b for b in body]
    contact_terms = ("reward_front_contact", "reward_body_contact")
    assert [{k: v for k, v in i.items() if k not in contact_terms} for i in infos1] == \
           [{k: v for k, v in i.items() if k not in contact_terms} for i in infos2]
