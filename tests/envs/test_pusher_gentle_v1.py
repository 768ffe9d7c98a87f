"""PusherGentle-v1 (issue 15, "calibrated tasks"): the hidden objective PPO can learn to pass the verifier on;
v0 still reproduces, bit for bit.

``fingerprints/pusher_gentle_v0.json`` was recorded from v0's code (before v1 existed) on the rollouts of
``ROLLOUTS``; re-record only for a meant change to v0, with ``RECORD_FINGERPRINTS=1 pytest
tests/envs/test_pusher_gentle_v1.py``, and say why in the commit.
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

FINGERPRINT = Path(__file__).parent / "fingerprints" / "pusher_gentle_v0.json"
V0 = "rlhf_robotics/PusherGentle-v0"


ROLLOUTS: dict[str, tuple[int, Callable[[Any, int], np.ndarray] | None]] = {
    "random": (0, None),  # (seed, action at step t or None for seeded random actions)
    "random_seed1": (1, None),
    "push": (0, scripted.push),
    "push_seed1": (1, scripted.push),
}


def rollout(env_id: str, name: str) -> tuple[np.ndarray, list[float], list[dict]]:
    """One whole episode of ``ROLLOUTS[name]``: observations ``(T+1, D)``, rewards and infos."""
    return fingerprinting.rollout(env_id, *ROLLOUTS[name])


def test_record() -> None:
    fingerprinting.record(FINGERPRINT, V0, ROLLOUTS)


@pytest.mark.parametrize("name", sorted(ROLLOUTS))
def test_v0_reproduces_its_recorded_rollouts_bit_for_bit(name: str) -> None:
    fingerprinting.assert_reproduces(FINGERPRINT, V0, ROLLOUTS, name)


# --- v1's objective and verifier on constructed states ------------------------------------------------------

V1 = "rlhf_robotics/PusherGentle-v1"
HEIGHT = 0.048  # m: the object's centre above the goal's


def slide(env_id: str, path: list[tuple[float, float]], speed: float | list[float]) -> list[dict]:
    """Step the task with the arm at rest and the object set, before each step, at ``path[t]`` (offset from the
    goal on the table, m) moving at ``speed`` (m/s along x; one for every step or one per step) — then left to
    the physics for the step."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        env = gym.make(env_id)
    env.reset(seed=0)
    u = env.unwrapped
    infos = []
    speeds = [speed] * len(path) if isinstance(speed, float) else speed
    for (x, y), v in zip(path, speeds, strict=True):
        qpos, qvel = u.data.qpos.copy(), np.zeros(u.model.nv)
        qpos[-4:-2] = qpos[-2:] + np.array([y, x])  # joints obj_slidey, obj_slidex
        qvel[-3] = v
        u.set_state(qpos, qvel)
        infos.append(env.step(np.zeros(7, dtype=np.float32))[4])
    env.close()
    return infos


def test_the_distance_is_measured_on_the_table_and_the_goal_disc_counts() -> None:
    # at rest 0.07 m from the goal on the table: on the goal disc (radius 0.08), so v1 passes; v0 measured between
    # the centres, √(0.07² + 0.048²) = 0.0849 > 0.08, and failed
    v1, v0 = slide(V1, [(0.07, 0.0)], 0.0)[-1], slide(V0, [(0.07, 0.0)], 0.0)[-1]
    assert v1["object_goal_distance"] == pytest.approx(0.07, abs=1e-6) and v1["is_success"]
    assert v1["reward_dist"] == pytest.approx(-0.07, abs=1e-5)
    assert v0["object_goal_distance"] == pytest.approx(np.hypot(0.07, HEIGHT), abs=1e-6) and not v0["is_success"]
    assert v0["reward_dist"] == pytest.approx(-np.hypot(0.07, HEIGHT), abs=1e-5)
    assert not slide(V1, [(0.09, 0.0)], 0.0)[-1]["is_success"]


@pytest.mark.parametrize("speed, gentle", [(0.1, True), (0.4, True), (1.0, False)])
def test_the_verifier_passes_a_gentle_delivery_and_fails_a_strike(speed: float, gentle: bool) -> None:
    # the object carried from 0.2 m out towards the goal at `speed` (0.05 s a step), then at rest on the goal
    steps = int(np.ceil(0.2 / (speed * 0.05)))
    path = [(0.2 - 0.2 * k / steps, 0.0) for k in range(steps)] + [(0.0, 0.0)] * 20
    infos = slide(V1, path, [speed] * steps + [0.0] * 20)
    for info in infos:
        assert info["reward_gentle"] == pytest.approx(-2 * max(0.0, info["object_speed"] - 0.2))
    assert infos[-1]["object_goal_distance"] < 0.08
    assert infos[-1]["is_success"] is gentle
    assert (infos[-1]["peak_object_speed"] > 0.5) is not gentle


def test_the_gentleness_term_reads_the_observed_object_velocity() -> None:
    obs, _, infos = rollout(V1, "push_seed1")
    assert obs.shape == (101, 25)
    np.testing.assert_allclose(np.linalg.norm(obs[1:, 23:25], axis=1), [i["object_speed"] for i in infos])
    assert max(i["object_speed"] for i in infos) > 0.0  # the push moves the object


@pytest.mark.parametrize("kwargs", [{"impact_cost_weight": -2.0}, {"success_max_speed": -0.5}])
def test_negative_weights_and_thresholds_are_refused(kwargs: dict[str, float]) -> None:
    name, value = next(iter(kwargs.items()))
    with pytest.raises(ValueError, match=f"{name}={value}"):
        gym.make(V1, **kwargs)
