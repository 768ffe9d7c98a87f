"""ReacherSmooth-v1 (issue 15, "calibrated tasks"): the hidden objective PPO can learn to pass the verifier on;
v0 still reproduces, bit for bit.

``fingerprints/reacher_smooth_v0.json`` was recorded from v0's code (before v1 existed) on the rollouts of
``ROLLOUTS``; re-record only for a meant change to v0, with ``RECORD_FINGERPRINTS=1 pytest
tests/envs/test_reacher_smooth_v1.py``, and say why in the commit.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import mujoco
import numpy as np
import pytest

FINGERPRINT = Path(__file__).parent / "fingerprints" / "reacher_smooth_v0.json"
V0 = "rlhf_robotics/ReacherSmooth-v0"


def _min_jerk_reach(u: Any, t: int) -> np.ndarray:
    """Track a minimum-jerk path (Flash & Hogan 1985) from the start to the target in 0.6 s."""
    if t == 0:
        u.start = u.get_body_com("fingertip").copy()
    tau = min(1.0, (t + 1) * u.dt / 0.6)
    s = 10 * tau**3 - 15 * tau**4 + 6 * tau**5
    target = u.start + (u.get_body_com("target") - u.start) * s
    jacp = np.zeros((3, u.model.nv))
    mujoco.mj_jacBodyCom(u.model, u.data, jacp, None, u.model.body("fingertip").id)
    error = target - u.data.body("fingertip").xipos
    return np.clip(300.0 * jacp[:, :2].T @ error - 0.3 * u.data.qvel[:2], -1, 1)


ROLLOUTS: dict[str, tuple[int, Callable[[Any, int], np.ndarray] | None]] = {
    "random": (0, None),  # (seed, action at step t or None for seeded random actions)
    "random_seed1": (1, None),
    "min_jerk_reach": (0, _min_jerk_reach),
}


def rollout(env_id: str, name: str) -> tuple[np.ndarray, list[float], list[dict]]:
    """One whole episode: observations ``(T+1, D)``, rewards and infos."""
    seed, act = ROLLOUTS[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # Gymnasium points users of old versions to the new
        env = gym.make(env_id)
    env.action_space.seed(seed)
    obs, _ = env.reset(seed=seed)
    observations, rewards, infos = [obs], [], []
    truncated, t = False, 0
    while not truncated:
        action = env.action_space.sample() if act is None else act(env.unwrapped, t).astype(np.float32)
        obs, reward, _, truncated, info = env.step(action)
        observations.append(obs)
        rewards.append(float(reward))
        infos.append(info)
        t += 1
    env.close()
    return np.array(observations), rewards, infos


def fingerprint(env_id: str, name: str, keys: list[str] | None = None) -> dict[str, Any]:
    """Every reward, every ``info`` term (``keys``: those v0 had) per step, and a digest of the observations."""
    obs, rewards, infos = rollout(env_id, name)
    keys = sorted(k for k in infos[0] if k != "is_success") if keys is None else keys
    return {
        "obs_shape": list(obs.shape),
        "obs_sha256": hashlib.sha256(np.ascontiguousarray(obs, dtype=np.float64).tobytes()).hexdigest(),
        "obs_last": obs[-1].tolist(),
        "rewards": rewards,
        "info": {k: [float(i[k]) for i in infos] for k in keys},
        "is_success": [bool(i["is_success"]) for i in infos],
    }


def test_record() -> None:
    if os.environ.get("RECORD_FINGERPRINTS") != "1":
        pytest.skip("set RECORD_FINGERPRINTS=1 to re-record")
    FINGERPRINT.write_text(json.dumps({V0: {name: fingerprint(V0, name) for name in ROLLOUTS}}, indent=1) + "\n")


@pytest.mark.parametrize("name", sorted(ROLLOUTS))
def test_v0_reproduces_its_recorded_rollouts_bit_for_bit(name: str) -> None:
    expected = json.loads(FINGERPRINT.read_text())[V0][name]
    assert fingerprint(V0, name, sorted(expected["info"])) == expected
