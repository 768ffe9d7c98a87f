"""Walker2dGracefulWalk-v1 (issue 15, "calibrated tasks"): a fallen step earns no pace and no upright reward in v1; v0
still reproduces, bit for bit.

``fingerprints/walker2d_graceful_v0.json`` was recorded from v0's code (9d797dd, before v1 existed) on the first
``STEPS`` steps of the rollouts of ``ROLLOUTS``; re-record only for a meant change to v0, with
``RECORD_FINGERPRINTS=1 pytest tests/envs/test_walker2d_graceful_v1.py``, and say why in the commit.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import fingerprinting
import numpy as np
import pytest

FINGERPRINT = Path(__file__).parent / "fingerprints" / "walker2d_graceful_v0.json"
V0, V1 = "rlhf_robotics/Walker2dGracefulWalk-v0", "rlhf_robotics/Walker2dGracefulWalk-v1"
STEPS = 200


def stride(u: Any, t: int) -> np.ndarray:
    """An open-loop stride: hips, knees and feet on a 0.8 s sine, the legs half a period apart (the walker
    stumbles forward and falls, so both standing and fallen steps are in the fingerprint)."""
    phase = 2 * np.pi * t * u.dt / 0.8
    return 0.8 * np.array([np.sin(phase), np.sin(phase + 1), np.sin(phase + 2),
                           np.sin(phase + np.pi), np.sin(phase + np.pi + 1), np.sin(phase + np.pi + 2)])


ROLLOUTS: dict[str, tuple[int, Callable[[Any, int], np.ndarray] | None]] = {
    "random": (0, None),  # (seed, action at step t or None for seeded random actions)
    "random_seed1": (1, None),
    "stride": (0, stride),
}


def test_record() -> None:
    fingerprinting.record(FINGERPRINT, V0, ROLLOUTS, STEPS)


@pytest.mark.parametrize("name", sorted(ROLLOUTS))
def test_v0_reproduces_its_recorded_rollouts_bit_for_bit(name: str) -> None:
    fingerprinting.assert_reproduces(FINGERPRINT, V0, ROLLOUTS, name, STEPS)


@pytest.mark.parametrize("name", sorted(ROLLOUTS))
def test_v1_differs_from_v0_only_in_what_a_fallen_step_earns(name: str) -> None:
    obs0, rewards0, infos0 = fingerprinting.rollout(V0, *ROLLOUTS[name], STEPS)
    obs1, rewards1, infos1 = fingerprinting.rollout(V1, *ROLLOUTS[name], STEPS)
    np.testing.assert_array_equal(obs0, obs1)
    fallen = np.array([i["fallen"] for i in infos0]) > 0
    assert fallen.any() and not fallen.all(), "the rollout should have standing and fallen steps"
    forfeited = np.array([i["reward_pace"] + i["reward_upright"] for i in infos0])
    np.testing.assert_allclose(np.array(rewards1), np.array(rewards0) - np.where(fallen, forfeited, 0.0), atol=1e-9)
    for term in ("reward_pace", "reward_upright"):
        assert [i[term] for i, f in zip(infos1, fallen) if f] == [0.0] * int(fallen.sum())
        assert [i[term] for i, f in zip(infos1, fallen) if not f] == [i[term] for i, f in zip(infos0, fallen) if not f]
    assert all(i["reward_fallen"] == -2.0 for i, f in zip(infos1, fallen) if f)
    earned = ("reward_pace", "reward_upright")
    assert [{k: v for k, v in i.items() if k not in earned} for i in infos0] == \
           [{k: v for k, v in i.items() if k not in earned} for i in infos1]
