"""ReacherSmooth-v2 (issue 15, "taught by preferences"): v1 with the fingertip's distance to the target observed;
v1 still reproduces, bit for bit.

``fingerprints/reacher_smooth_v1.json`` was recorded from v1's code (commit cd00894, before v2 existed) on the
rollouts of ``ROLLOUTS``; re-record only for a meant change to v1, with ``RECORD_FINGERPRINTS=1 pytest
tests/envs/test_reacher_smooth_v2.py``, and say why in the commit.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import fingerprinting
import numpy as np
import pytest
import scripted

FINGERPRINT = Path(__file__).parent / "fingerprints" / "reacher_smooth_v1.json"
V1 = "rlhf_robotics/ReacherSmooth-v1"
V2 = "rlhf_robotics/ReacherSmooth-v2"

ROLLOUTS: dict[str, tuple[int, Callable[[Any, int], np.ndarray] | None]] = {
    "random": (0, None),  # (seed, action at step t or None for seeded random actions)
    "random_seed1": (1, None),
    "min_jerk_reach": (0, scripted.min_jerk_reach),
}


def test_record() -> None:
    fingerprinting.record(FINGERPRINT, V1, ROLLOUTS)


@pytest.mark.parametrize("name", sorted(ROLLOUTS))
def test_v1_reproduces_its_recorded_rollouts_bit_for_bit(name: str) -> None:
    fingerprinting.assert_reproduces(FINGERPRINT, V1, ROLLOUTS, name)


@pytest.mark.parametrize("name", sorted(ROLLOUTS))
def test_v2_is_v1_with_the_distance_to_the_target_observed(name: str) -> None:
    obs1, rewards1, infos1 = fingerprinting.rollout(V1, *ROLLOUTS[name])
    obs2, rewards2, infos2 = fingerprinting.rollout(V2, *ROLLOUTS[name])
    assert obs1.shape[1] == 14 and obs2.shape[1] == 15
    np.testing.assert_array_equal(obs2[:, :14], obs1)  # the same episode, the same observation before the new index
    assert rewards2 == rewards1 and [i["is_success"] for i in infos2] == [i["is_success"] for i in infos1]
    # after every step, the last index is the distance the objective and the verifier read
    np.testing.assert_allclose(obs2[1:, 14], [i["distance"] for i in infos2], rtol=0, atol=1e-12)
    # at the reset too: the fingertip − target vector (indices 8–9) and the target's height (0) give it
    assert obs2[0, 14] == pytest.approx(np.linalg.norm(obs2[0, 8:10]), abs=1e-9)
