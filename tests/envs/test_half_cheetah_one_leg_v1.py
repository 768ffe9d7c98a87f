"""HalfCheetahOneLeg-v1 (issue 15, "calibrated tasks"): v1 changes only the verifier (body contact allowed on up to
1 % of the steps); v0 still reproduces, bit for bit.

``fingerprints/half_cheetah_one_leg_v0.json`` was recorded from v0's code (863922f, before v1 existed) on the first
``STEPS`` steps of the rollouts of ``ROLLOUTS``; re-record only for a meant change to v0, with
``RECORD_FINGERPRINTS=1 pytest tests/envs/test_half_cheetah_one_leg_v1.py``, and say why in the commit.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import fingerprinting
import numpy as np
import pytest

FINGERPRINT = Path(__file__).parent / "fingerprints" / "half_cheetah_one_leg_v0.json"
V0, V1 = "rlhf_robotics/HalfCheetahOneLeg-v0", "rlhf_robotics/HalfCheetahOneLeg-v1"
STEPS = 200


def bound(u: Any, t: int) -> np.ndarray:
    """An open-loop bounding gait: every joint on a 0.5 s sine, the legs half a period apart (it falls now and then,
    so the body and both legs touch the floor)."""
    phase = 2 * np.pi * t * u.dt / 0.5
    return np.array([np.sin(phase), np.sin(phase + 1), np.sin(phase + 2),
                     np.sin(phase + np.pi), np.sin(phase + np.pi + 1), np.sin(phase + np.pi + 2)])


ROLLOUTS: dict[str, tuple[int, Callable[[Any, int], np.ndarray] | None]] = {
    "random": (0, None),  # (seed, action at step t or None for seeded random actions)
    "random_seed1": (1, None),
    "bound": (0, bound),
}


def test_record() -> None:
    fingerprinting.record(FINGERPRINT, V0, ROLLOUTS, STEPS)


@pytest.mark.parametrize("name", sorted(ROLLOUTS))
def test_v0_reproduces_its_recorded_rollouts_bit_for_bit(name: str) -> None:
    fingerprinting.assert_reproduces(FINGERPRINT, V0, ROLLOUTS, name, STEPS)


@pytest.mark.parametrize("name", sorted(ROLLOUTS))
def test_v1_differs_from_v0_only_in_the_verifier(name: str) -> None:
    obs0, rewards0, infos0 = fingerprinting.rollout(V0, *ROLLOUTS[name], STEPS)
    obs1, rewards1, infos1 = fingerprinting.rollout(V1, *ROLLOUTS[name], STEPS)
    np.testing.assert_array_equal(obs0, obs1)
    assert rewards0 == rewards1
    assert [{k: v for k, v in i.items() if k != "is_success"} for i in infos0] == \
           [{k: v for k, v in i.items() if k != "is_success"} for i in infos1]
