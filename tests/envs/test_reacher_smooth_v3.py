"""ReacherSmooth-v3 (issue 15, "taught by preferences"): v2 with a jerk bound that grows with the reach, so that the
hidden objective's best reach passes the verifier; v2 still reproduces, bit for bit.

``fingerprints/reacher_smooth_v2.json`` was recorded from v2's code (commit 802c62e, before this v3 existed) on the
rollouts of ``ROLLOUTS``; re-record only for a meant change to v2, with ``RECORD_FINGERPRINTS=1 pytest
tests/envs/test_reacher_smooth_v3.py``, and say why in the commit.
"""

from __future__ import annotations

from pathlib import Path

import fingerprinting
import numpy as np
import pytest
from test_reacher_smooth_v2 import ROLLOUTS, V2  # the same rollouts pin v1 and v2

FINGERPRINT = Path(__file__).parent / "fingerprints" / "reacher_smooth_v2.json"


def test_record() -> None:
    fingerprinting.record(FINGERPRINT, V2, ROLLOUTS)


@pytest.mark.parametrize("name", sorted(ROLLOUTS))
def test_v2_reproduces_its_recorded_rollouts_bit_for_bit(name: str) -> None:
    fingerprinting.assert_reproduces(FINGERPRINT, V2, ROLLOUTS, name)




V3 = "rlhf_robotics/ReacherSmooth-v3"


@pytest.mark.parametrize("name", sorted(ROLLOUTS))
def test_v3_is_v2_with_a_jerk_bound_that_grows_with_the_start_distance(name: str) -> None:
    obs2, rewards2, infos2 = fingerprinting.rollout(V2, *ROLLOUTS[name])
    obs3, rewards3, infos3 = fingerprinting.rollout(V3, *ROLLOUTS[name])
    np.testing.assert_array_equal(obs3, obs2)  # the same episode, observed the same way
    assert rewards3 == rewards2  # and rewarded the same way
    start = float(obs3[0, 14])  # the distance at the reset (observed)
    bound = max(50.0, 300.0 * start)
    for i2, i3 in zip(infos2, infos3, strict=True):
        assert i3["jerk_bound"] == pytest.approx(bound, rel=1e-12) and i2["jerk_bound"] == 50.0
        assert {k: v for k, v in i3.items() if k not in ("is_success", "jerk_bound")} == \
            {k: v for k, v in i2.items() if k not in ("is_success", "jerk_bound")}
        assert i3["is_success"] == (i3["distance"] <= 0.02 and i3["mean_jerk"] <= bound)
        assert i3["is_success"] >= i2["is_success"]  # the bound only grows


def shoulder_reach(env_id: str, turn: float, steps: int) -> list[dict]:
    """A minimum-jerk turn of the shoulder by ``turn`` rad over ``steps`` steps to a target where the fingertip
    ends (the arm otherwise still): each step's info."""
    from test_reacher_smooth_v1 import scripted as scripted_path

    s = np.clip(np.arange(1, 101) / steps, 0, 1)
    return scripted_path(list(turn * (10 * s**3 - 15 * s**4 + 6 * s**5)), env_id)[1]


def best_reach(env_id: str, turn: float) -> tuple[int, list[dict]]:
    """Among ``shoulder_reach`` durations, the one whose episode the task's objective scores highest."""
    scored = [(sum(sum(v for k, v in i.items() if k.startswith("reward_")) for i in infos), steps, infos)
              for steps in range(4, 61) for infos in [shoulder_reach(env_id, turn, steps)]]
    _, steps, infos = max(scored, key=lambda x: x[0])
    return steps, infos


@pytest.mark.parametrize("turn", [1.4, 1.8, 2.8])
def test_the_objectives_best_reach_passes_v3_and_fails_v2(turn: float) -> None:
    """v2's fixed bound failed the objective's own optimum on long reaches (1.4 rad: the fingertip 0.27 m from the
    target; 2.8 rad: 0.41 m, about the farthest start); v3's bound passes it. Objective and physics are v2's, so
    the optimum is the same reach in both."""
    steps2, infos2 = best_reach(V2, turn)
    steps3, infos3 = best_reach(V3, turn)
    assert steps3 == steps2 and infos3[-1]["mean_jerk"] == infos2[-1]["mean_jerk"] > 50
    assert infos3[-1]["distance"] < 1e-9 and not infos2[-1]["is_success"] and infos3[-1]["is_success"]
    assert infos3[-1]["mean_jerk"] > 0.6 * infos3[-1]["jerk_bound"]  # a bound near the optimum, not far above it


@pytest.mark.parametrize("turn", [1.0, 2.8])
def test_a_hurried_reach_still_fails_v3(turn: float) -> None:
    """A minimum-jerk reach hurried into 0.12 s (6 steps of 20 ms) or 0.16 s, short or long, ends on the target
    and fails (the objective's best durations are 12-19 steps)."""
    for steps in (6, 8):
        last = shoulder_reach(V3, turn, steps)[-1]
        assert last["distance"] < 1e-9 and last["mean_jerk"] > last["jerk_bound"] and not last["is_success"], steps
