"""ReacherSmooth-v1 (issue 15, "calibrated tasks"): the hidden objective PPO can learn to pass the verifier on;
v0 still reproduces, bit for bit.

``fingerprints/reacher_smooth_v0.json`` was recorded from v0's code (before v1 existed) on the rollouts of
``ROLLOUTS``; re-record only for a meant change to v0, with ``RECORD_FINGERPRINTS=1 pytest
tests/envs/test_reacher_smooth_v1.py``, and say why in the commit.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import fingerprinting
import gymnasium as gym
import numpy as np
import pytest
import scripted

FINGERPRINT = Path(__file__).parent / "fingerprints" / "reacher_smooth_v0.json"
V0 = "rlhf_robotics/ReacherSmooth-v0"


ROLLOUTS: dict[str, tuple[int, Callable[[Any, int], np.ndarray] | None]] = {
    "random": (0, None),  # (seed, action at step t or None for seeded random actions)
    "random_seed1": (1, None),
    "min_jerk_reach": (0, scripted.min_jerk_reach),
}


def rollout(env_id: str, name: str) -> tuple[np.ndarray, list[float], list[dict]]:
    """One whole episode of ``ROLLOUTS[name]``: observations ``(T+1, D)``, rewards and infos."""
    return fingerprinting.rollout(env_id, *ROLLOUTS[name])


def test_record() -> None:
    fingerprinting.record(FINGERPRINT, V0, ROLLOUTS)


@pytest.mark.parametrize("name", sorted(ROLLOUTS))
def test_v0_reproduces_its_recorded_rollouts_bit_for_bit(name: str) -> None:
    fingerprinting.assert_reproduces(FINGERPRINT, V0, ROLLOUTS, name)


# --- v1's objective and verifier on a scripted fingertip path -----------------------------------------------

DT = 0.02
V1 = "rlhf_robotics/ReacherSmooth-v1"


def scripted(shoulder: list[float], env_id: str = V1) -> tuple[np.ndarray, list[dict]]:
    """Step the task with the simulation replaced by shoulder angles (rad, added to the reset pose; the arm at
    rest, zero action) and the target put where the fingertip ends. Observations ``(T+1, D)``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        env = gym.make(env_id)
    obs, _ = env.reset(seed=0)
    u = env.unwrapped
    start = u.data.qpos.copy()

    def pose(angle: float, target: np.ndarray) -> None:
        u.set_state(np.array([start[0] + angle, start[1], *target]), np.zeros(4))

    pose(shoulder[-1], start[2:])
    end = u.get_body_com("fingertip")[:2].copy()
    moves = iter(shoulder)
    u.do_simulation = lambda action, n_frames: pose(next(moves), end)
    observations, infos = [obs], []
    for _ in shoulder:
        obs, reward, _, _, info = env.step(np.zeros(2, dtype=np.float32))
        assert reward == pytest.approx(sum(v for k, v in info.items() if k.startswith("reward_")))
        observations.append(obs)
        infos.append(info)
    env.close()
    return np.array(observations), infos


def tip(obs: np.ndarray) -> np.ndarray:
    """Fingertip (x, y) from observations: (fingertip − target) + target."""
    return obs[..., 8:10] + obs[..., 4:6]


@pytest.mark.parametrize("jump_at", [0, 3])
def test_a_step_in_the_path_costs_jerk_1_2_1_and_the_verifier_reads_the_mean(jump_at: int) -> None:
    step = 0.01  # rad: the fingertip (r m from the shoulder) moves Δ = 2r·sin(step/2) in one step and stays
    obs, infos = scripted([0.0] * jump_at + [step] * (100 - jump_at))
    delta = float(np.linalg.norm(tip(obs[-1]) - tip(obs[0])))
    assert delta == pytest.approx(2 * np.linalg.norm(tip(obs[0])) * np.sin(step / 2))
    unit = delta / DT**3  # m/s³: Δ/dt, then Δ/dt², then Δ/dt³
    expected = np.zeros(100)
    expected[jump_at:jump_at + 3] = [unit, 2 * unit, unit]  # finite differences of a step: +1, -2, +1
    np.testing.assert_allclose([i["tip_jerk"] for i in infos], expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose([i["reward_jerk"] for i in infos], -2e-3 * expected, rtol=1e-6, atol=1e-9)
    assert infos[-1]["mean_jerk"] == pytest.approx(4 * unit / 100)  # 4 Δ/dt³ over 100 steps
    # the fingertip ends on the target: the bonus, no distance cost, and the verifier passes (mean jerk ≤ 50)
    assert infos[-1]["distance"] < 1e-9 and infos[-1]["reward_reach"] == 0.2 and infos[-1]["is_success"]
    # indices 10–13: the fingertip's velocity and acceleration after each step, which the jerk term reads
    np.testing.assert_allclose(obs[1:, 10:12], np.diff(tip(obs), axis=0) / DT, atol=1e-9)
    np.testing.assert_allclose(obs[1:, 12:14], np.diff(obs[:, 10:12], axis=0) / DT, atol=1e-6)


def test_the_verifier_fails_a_jerky_path_that_ends_on_the_target() -> None:
    # back and forth by Δ (2.1 mm) three times, then still: jerk (1, 3, 4, 4, 4, 4, 3, 1) × Δ/dt³, mean ≈ 63 m/s³
    obs, infos = scripted([0.0, 0.01, 0.0, 0.01, 0.0, 0.01] + [0.0] * 94)
    unit = float(np.linalg.norm(tip(obs[2]) - tip(obs[1]))) / DT**3
    np.testing.assert_allclose([i["tip_jerk"] for i in infos[:9]], np.array([0, 1, 3, 4, 4, 4, 4, 3, 1]) * unit,
                               rtol=1e-6, atol=1e-6)
    assert infos[-1]["mean_jerk"] == pytest.approx(24 * unit / 100) and infos[-1]["mean_jerk"] > 50
    assert infos[-1]["distance"] < 1e-9
    assert not infos[-1]["is_success"]
    smooth_obs, smooth = scripted([0.0] * 100)
    assert smooth[-1]["mean_jerk"] == 0.0 and smooth[-1]["is_success"]


def test_the_bonus_is_paid_within_the_success_distance_only() -> None:
    _, infos = scripted([0.2] * 5 + [0.0] * 95)  # 0.2 rad off: the fingertip 42 mm from the target, then on it
    assert all(i["distance"] > 0.02 and i["reward_reach"] == 0.0 for i in infos[:5])
    assert infos[0]["reward_dist"] == pytest.approx(-10 * infos[0]["distance"])
    assert all(i["reward_reach"] == 0.2 for i in infos[5:])


def test_the_jerk_term_is_a_function_of_consecutive_observations() -> None:
    obs, _, infos = rollout(V1, "random")
    assert obs.shape == (101, 14)
    jerk = np.linalg.norm(np.diff(obs[:, 12:14], axis=0) / DT, axis=1)
    np.testing.assert_allclose([i["tip_jerk"] for i in infos], jerk, rtol=1e-6)


def test_v0_keeps_its_time_limit_and_observation() -> None:
    obs, _, infos = rollout(V0, "random")
    assert obs.shape == (51, 10) and "reward_reach" in infos[0] and infos[0]["reward_reach"] == 0.0


@pytest.mark.parametrize("kwargs", [{"jerk_cost_weight": -1e-3}, {"success_mean_jerk": -1.0}])
def test_negative_weights_and_thresholds_are_refused(kwargs: dict[str, float]) -> None:
    name, value = next(iter(kwargs.items()))
    with pytest.raises(ValueError, match=f"{name}={value}"):
        gym.make(V1, **kwargs)
