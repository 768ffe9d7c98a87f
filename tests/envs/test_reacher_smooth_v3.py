"""ReacherSmooth-v3 (issue 15, "taught by preferences"): v2 with the jerk term weighted 1e-2 (was 2e-3), so that the
hidden objective's best reach passes the verifier; v2 still reproduces, bit for bit.

``fingerprints/reacher_smooth_v2.json`` was recorded from v2's code (commit f69f19f, before v3 existed) on the
rollouts of ``ROLLOUTS``; re-record only for a meant change to v2, with ``RECORD_FINGERPRINTS=1 pytest
tests/envs/test_reacher_smooth_v3.py``, and say why in the commit.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import fingerprinting
import numpy as np
import pytest
import scripted

FINGERPRINT = Path(__file__).parent / "fingerprints" / "reacher_smooth_v2.json"
V2 = "rlhf_robotics/ReacherSmooth-v2"

ROLLOUTS: dict[str, tuple[int, Callable[[Any, int], np.ndarray] | None]] = {
    "random": (0, None),  # (seed, action at step t or None for seeded random actions)
    "random_seed1": (1, None),
    "min_jerk_reach": (0, scripted.min_jerk_reach),
}


def test_record() -> None:
    fingerprinting.record(FINGERPRINT, V2, ROLLOUTS)


@pytest.mark.parametrize("name", sorted(ROLLOUTS))
def test_v2_reproduces_its_recorded_rollouts_bit_for_bit(name: str) -> None:
    fingerprinting.assert_reproduces(FINGERPRINT, V2, ROLLOUTS, name)


V3 = "rlhf_robotics/ReacherSmooth-v3"


@pytest.mark.parametrize("name", sorted(ROLLOUTS))
def test_v3_is_v2_with_the_jerk_term_weighted_1e_2(name: str) -> None:
    obs2, rewards2, infos2 = fingerprinting.rollout(V2, *ROLLOUTS[name])
    obs3, rewards3, infos3 = fingerprinting.rollout(V3, *ROLLOUTS[name])
    np.testing.assert_array_equal(obs3, obs2)  # the same episode, observed the same way
    for i2, i3 in zip(infos2, infos3, strict=True):
        assert i3["tip_jerk"] == i2["tip_jerk"] and i3["is_success"] == i2["is_success"]  # the same verifier
        assert i3["reward_jerk"] == pytest.approx(-1e-2 * i3["tip_jerk"], rel=1e-12)
        assert i2["reward_jerk"] == pytest.approx(-2e-3 * i2["tip_jerk"], rel=1e-12)
        assert {k: v for k, v in i3.items() if k != "reward_jerk"} == {k: v for k, v in i2.items() if k != "reward_jerk"}


def best_reach(env_id: str, turn: float) -> tuple[int, float, dict]:
    """Among minimum-jerk turns of the shoulder by ``turn`` rad to a target where the fingertip ends (the arm
    otherwise still), the duration (steps) whose episode the task's objective scores highest: that duration, the
    return and the episode's last info."""
    from test_reacher_smooth_v1 import scripted as scripted_path

    best: tuple[int, float, dict] | None = None
    for steps in range(4, 61):
        s = np.clip(np.arange(1, 101) / steps, 0, 1)
        _, infos = scripted_path(list(turn * (10 * s**3 - 15 * s**4 + 6 * s**5)), env_id)
        ret = sum(sum(v for k, v in i.items() if k.startswith("reward_")) for i in infos)
        if best is None or ret > best[1]:
            best = (steps, ret, infos[-1])
    assert best is not None
    return best


@pytest.mark.parametrize("turn", [1.8, 2.5])
def test_the_objectives_best_reach_passes_the_verifier_in_v3_and_not_in_v2(turn: float) -> None:
    """v2's weights made a hurried reach the objective's optimum: over a long reach (the shoulder turned 1.8 rad, the
    fingertip ~0.33 m from the target, about the 90th percentile of Reacher-v5's starts; 2.5 rad, ~0.40 m, about the
    farthest) the best minimum-jerk duration ends on the target with a mean jerk above the verifier's 50 m/s³, so a
    policy that optimised v2's objective better would fail its verifier more often. v3's jerk weight puts that
    optimum well inside the bound (a shoulder-only arc is a longer path than the arm's best, so this is the hard
    case)."""
    steps2, _, last2 = best_reach(V2, turn)
    steps3, _, last3 = best_reach(V3, turn)
    assert last2["distance"] < 1e-9 and last3["distance"] < 1e-9  # both end on the target
    assert last2["mean_jerk"] > 50 and not last2["is_success"]
    assert last3["mean_jerk"] < 40 and last3["is_success"]  # with room to spare, not at the bound
    assert steps3 > steps2  # the smoother optimum is a slower reach
