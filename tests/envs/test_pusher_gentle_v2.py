"""PusherGentle-v2 (issue 15, "taught by preferences"): v1 with the two distances of its objective observed; v1 still
reproduces, bit for bit.

``fingerprints/pusher_gentle_v1.json`` was recorded from v1's code (commit cd00894, before v2 existed) on the
rollouts of ``ROLLOUTS``; re-record only for a meant change to v1, with ``RECORD_FINGERPRINTS=1 pytest
tests/envs/test_pusher_gentle_v2.py``, and say why in the commit.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import fingerprinting
import numpy as np
import pytest
import scripted

FINGERPRINT = Path(__file__).parent / "fingerprints" / "pusher_gentle_v1.json"
V1 = "rlhf_robotics/PusherGentle-v1"
V2 = "rlhf_robotics/PusherGentle-v2"

ROLLOUTS: dict[str, tuple[int, Callable[[Any, int], np.ndarray] | None]] = {
    "random": (0, None),  # (seed, action at step t or None for seeded random actions)
    "push": (0, scripted.push),
    "push_seed1": (1, scripted.push),
}


def test_record() -> None:
    fingerprinting.record(FINGERPRINT, V1, ROLLOUTS)


@pytest.mark.parametrize("name", sorted(ROLLOUTS))
def test_v1_reproduces_its_recorded_rollouts_bit_for_bit(name: str) -> None:
    fingerprinting.assert_reproduces(FINGERPRINT, V1, ROLLOUTS, name)


@pytest.mark.parametrize("name", sorted(ROLLOUTS))
def test_v2_is_v1_with_the_objective_s_distances_observed(name: str) -> None:
    obs1, rewards1, infos1 = fingerprinting.rollout(V1, *ROLLOUTS[name])
    obs2, rewards2, infos2 = fingerprinting.rollout(V2, *ROLLOUTS[name])
    assert obs1.shape[1] == 25 and obs2.shape[1] == 27
    np.testing.assert_array_equal(obs2[:, :25], obs1)  # the same episode, the same observation before the new indices
    assert rewards2 == rewards1 and [i["is_success"] for i in infos2] == [i["is_success"] for i in infos1]
    # after every step, the last two indices are the distances the objective's near and dist terms read
    np.testing.assert_allclose(obs2[1:, 25], [i["tip_object_distance"] for i in infos2], rtol=0, atol=1e-12)
    np.testing.assert_allclose(obs2[1:, 26], [i["object_goal_distance"] for i in infos2], rtol=0, atol=1e-12)
    # at the reset too, from the observed positions (fingertip 14–16, object 17–19, goal 20–22)
    assert obs2[0, 25] == pytest.approx(np.linalg.norm(obs2[0, 14:17] - obs2[0, 17:20]), abs=1e-9)
    assert obs2[0, 26] == pytest.approx(np.linalg.norm(obs2[0, 17:19] - obs2[0, 20:22]), abs=1e-9)
