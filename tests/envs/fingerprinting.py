"""Whole-episode fingerprints that pin an earlier task version bit for bit after its class's defaults move on
(ReacherSmooth-v0, PusherGentle-v0): every reward, every ``info`` term and verifier value per step, and a digest
of the observations. Imported by the tests of those tasks (``tests/envs`` is on ``sys.path`` under pytest)."""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

Act = Callable[[Any, int], np.ndarray] | None
"""The action at step ``t`` from the unwrapped env, or None for the action space's seeded random actions."""


def rollout(env_id: str, seed: int, act: Act, steps: int | None = None) -> tuple[np.ndarray, list[float], list[dict]]:
    """One whole episode (or its first ``steps``): observations ``(T+1, D)``, rewards and infos."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # Gymnasium points users of old versions to the new
        env = gym.make(env_id, **({} if steps is None else {"max_episode_steps": steps}))
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


def fingerprint(env_id: str, seed: int, act: Act, keys: list[str] | None = None,
                steps: int | None = None) -> dict[str, Any]:
    """Every reward, every ``info`` term (``keys``: those the recorded version had) per step, the verifier per step
    and a digest of the observations (of the first ``steps`` of the episode when given)."""
    obs, rewards, infos = rollout(env_id, seed, act, steps)
    keys = sorted(k for k in infos[0] if k != "is_success") if keys is None else keys
    return {
        "obs_shape": list(obs.shape),
        "obs_sha256": hashlib.sha256(np.ascontiguousarray(obs, dtype=np.float64).tobytes()).hexdigest(),
        "obs_last": obs[-1].tolist(),
        "rewards": rewards,
        "info": {k: [float(i[k]) for i in infos] for k in keys},
        "is_success": [bool(i["is_success"]) for i in infos],
    }


def record(path: Path, env_id: str, rollouts: dict[str, tuple[int, Act]], steps: int | None = None) -> None:
    """Write the fingerprints of every rollout (only with ``RECORD_FINGERPRINTS=1``; skips otherwise); ``steps``
    cuts each to its first steps (long episodes)."""
    if os.environ.get("RECORD_FINGERPRINTS") != "1":
        pytest.skip("set RECORD_FINGERPRINTS=1 to re-record")
    path.write_text(json.dumps({env_id: {name: fingerprint(env_id, *rollouts[name], steps=steps) for name in rollouts}},
                               indent=1) + "\n")


def assert_reproduces(path: Path, env_id: str, rollouts: dict[str, tuple[int, Act]], name: str,
                      steps: int | None = None) -> None:
    """``env_id`` gives rollout ``name`` exactly as recorded in ``path`` (the recorded info terms only)."""
    expected = json.loads(path.read_text())[env_id][name]
    assert fingerprint(env_id, *rollouts[name], sorted(expected["info"]), steps) == expected
