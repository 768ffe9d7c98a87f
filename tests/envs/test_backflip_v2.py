"""HopperBackflip-v2 (issue 15, "calibrated tasks"): rotation is paid only up to completing the current flip, so
a landed flip beats any unlanded rotation; v1 and v0 still reproduce, bit for bit.

``fingerprints/backflip_v0_v1.json`` was recorded from v1's code (8afa61c, before v2 existed) on the rollouts of
``ROLLOUTS``; re-record only for a meant change to v0 or v1, with ``RECORD_FINGERPRINTS=1 pytest
tests/envs/test_backflip_v2.py``, and say why in the commit.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import gymnasium as gym
import numpy as np
import pytest

FINGERPRINT = Path(__file__).parent / "fingerprints" / "backflip_v0_v1.json"
OLD_IDS = ("rlhf_robotics/HopperBackflip-v0", "rlhf_robotics/HopperBackflip-v1")
DT = 0.008
TAU = 2 * math.pi


def _launch(vz: float, spin: float) -> Callable[[Any], None]:
    """Set a jump (``vz`` m/s up) with a backward spin (``spin`` rad/s, negative is backward) into the state."""

    def prepare(u: Any) -> None:
        qvel = u.data.qvel.copy()
        qvel[1], qvel[2] = vz, spin
        u.set_state(u.data.qpos.copy(), qvel)

    return prepare


def _still(t: int) -> np.ndarray:
    return np.zeros(3)


def _rocking(t: int) -> np.ndarray:
    return np.sin(2 * math.pi * 3.0 * t * DT + np.array([0.0, 1.0, 2.0]))


class Rollout(NamedTuple):
    steps: int
    prepare: Callable[[Any], None] | None
    """Called once after reset with the unwrapped env, or None."""
    act: Callable[[int], np.ndarray] | None
    """The action at step t, or None for seeded random actions."""


ROLLOUTS = {
    "random": Rollout(60, None, None),
    "flip_landed": Rollout(200, _launch(5.0, -6.0), _still),  # one flip, landed at step 127, then a fall
    "over_rotation": Rollout(200, _launch(5.0, -9.0), _rocking),  # 2.5 turns in the air, never landed
}


def rollout(env_id: str, spec: Rollout, seed: int = 0) -> tuple[np.ndarray, list[float], list[dict]]:
    """Observations ``(T+1, D)``, rewards and infos."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # Gymnasium points users of old versions to the new
        env = gym.make(env_id)
    env.action_space.seed(seed)
    obs, _ = env.reset(seed=seed)
    u = env.unwrapped
    if spec.prepare is not None:
        spec.prepare(u)
        obs = u._get_obs()
    observations, rewards, infos = [obs], [], []
    for t in range(spec.steps):
        action = env.action_space.sample() if spec.act is None else spec.act(t).astype(np.float32)
        obs, reward, _, _, info = env.step(action)
        observations.append(obs)
        rewards.append(float(reward))
        infos.append(info)
    env.close()
    return np.array(observations), rewards, infos


def fingerprint(env_id: str, name: str) -> dict[str, Any]:
    """Every reward, each term's total, the verifier and a digest of the observations' bytes."""
    obs, rewards, infos = rollout(env_id, ROLLOUTS[name])
    terms = sorted(k for k in infos[0] if k.startswith("reward_"))
    return {
        "obs_shape": list(obs.shape),
        "obs_sha256": hashlib.sha256(np.ascontiguousarray(obs, dtype=np.float64).tobytes()).hexdigest(),
        "obs_last": obs[-1].tolist(),
        "rewards": rewards,
        "term_totals": {k: float(sum(i[k] for i in infos)) for k in terms},
        "flips_landed": infos[-1]["flips_landed"],
        "is_success": infos[-1]["is_success"],
    }


def test_record() -> None:
    if os.environ.get("RECORD_FINGERPRINTS") != "1":
        pytest.skip("set RECORD_FINGERPRINTS=1 to re-record")
    data = {env_id: {name: fingerprint(env_id, name) for name in ROLLOUTS} for env_id in OLD_IDS}
    FINGERPRINT.write_text(json.dumps(data, indent=1) + "\n")


@pytest.mark.parametrize("env_id", OLD_IDS)
@pytest.mark.parametrize("name", sorted(ROLLOUTS))
def test_old_ids_reproduce_their_recorded_rollouts_bit_for_bit(env_id: str, name: str) -> None:
    expected = json.loads(FINGERPRINT.read_text())[env_id][name]
    assert fingerprint(env_id, name) == expected


# --- the objective on a scripted trajectory -----------------------------------------------------------------

AIR, FOOT = 3.0, 1.2  # torso heights (m): nothing touches the floor; standing on the foot (joints straight)
# on the foot; 0.5 … 6.0 rad in the air; on past the full turn and back; landed upright at 2π; off again
POSES = [(FOOT, 0.0), *[(AIR, 0.5 * k) for k in range(1, 13)], (AIR, 6.5), (AIR, 7.0), (AIR, 6.5), (FOOT, TAU),
         (AIR, TAU + 0.5), (AIR, 7.5)]


def scripted(poses: list[tuple[float, float]], env_id: str = "rlhf_robotics/HopperBackflip-v2"
             ) -> tuple[np.ndarray, list[dict]]:
    """Step the task with the simulation replaced by poses ``(torso height, backward rotation since reset)``,
    joints straight and at rest, zero action: contacts come from the poses alone. Observations ``(T+1, D)``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        env = gym.make(env_id)
    obs, _ = env.reset(seed=0)
    u = env.unwrapped
    start = float(u.data.qpos[2])
    moves = iter(poses)

    def simulate(action: np.ndarray, n_frames: int) -> None:
        height, rotation = next(moves)
        u.set_state(np.array([0.0, height, start - rotation, 0.0, 0.0, 0.0]), np.zeros(6))

    u.do_simulation = simulate
    observations, infos = [obs], []
    for _ in poses:
        obs, reward, _, _, info = env.step(np.zeros(3, dtype=np.float32))
        assert reward == pytest.approx(sum(v for k, v in info.items() if k.startswith("reward_")))
        observations.append(obs)
        infos.append(info)
    env.close()
    return np.array(observations), infos


def test_rotation_past_the_flip_is_unpaid_until_it_is_landed_and_a_landing_reopens_the_allowance() -> None:
    obs, infos = scripted(POSES)
    paid = [i["reward_rotation"] for i in infos]
    # first step ends on the foot; the step to 0.5 rad starts on the floor, so it is not paid; then 0.5 rad a step
    assert paid[:2] == [0.0, 0.0]
    np.testing.assert_allclose(paid[2:13], 0.5 / DT)  # 62.5 each, 1.0 … 6.0 rad
    assert paid[13] == pytest.approx((TAU - 6.0) / DT)  # to 6.5 rad: only up to the full turn (35.4, not 62.5)
    assert paid[14] == paid[15] == 0.0  # 7.0 rad: past the allowance; back to 6.5: not new
    assert paid[16] == 0.0 and infos[16]["reward_landing"] == 400.0  # upright on the foot at 2π: landed
    assert [i["reward_landing"] for i in infos].count(400.0) == 1 and infos[-1]["is_success"]
    assert paid[17] == 0.0  # takes off from the floor, and 2π + 0.5 is behind the furthest (7.0)
    assert paid[18] == pytest.approx(0.5 / DT)  # 7.5 rad: in the next flip's allowance, paid again
    np.testing.assert_allclose([i["reward_height"] for i in infos], [h for h, _ in POSES])
    # index 13: what is left of the flip's allowance; index 11: how far behind the furthest rotation
    furthest = np.maximum.accumulate([0.0] + [r for _, r in POSES])
    flips = np.array([0.0] + [i["flips_landed"] for i in infos])
    np.testing.assert_allclose(obs[:, 13], TAU * (flips + 1) - furthest, atol=1e-9)
    assert obs[0, 13] == pytest.approx(TAU) and obs[13, 13] == pytest.approx(TAU - 6.0)
    assert obs[15, 13] == pytest.approx(TAU - 7.0) and obs[15, 13] < 0  # turned past the flip, not landed
    assert obs[17, 13] == pytest.approx(2 * TAU - 7.0)  # the landing reopened it
    assert obs[17, 11] + obs[17, 13] == pytest.approx(TAU, abs=1e-9)  # upright: a whole flip to the next landing


def test_v1_pays_the_same_trajectory_uncapped_and_a_landing_20() -> None:
    obs, infos = scripted(POSES, "rlhf_robotics/HopperBackflip-v1")
    assert obs.shape[1] == 13
    paid = [i["reward_rotation"] for i in infos]
    np.testing.assert_allclose(paid[2:15], 0.5 / DT)  # 1.0 … 7.0 rad, past the full turn too
    assert paid[15] == paid[16] == 0.0 and infos[16]["reward_landing"] == 20.0
    assert paid[17] == 0.0 and paid[18] == pytest.approx(0.5 / DT)


@pytest.mark.parametrize("name", ["flip_landed", "over_rotation"])
def test_rotation_reward_is_a_function_of_consecutive_observations(name: str) -> None:
    obs, _, infos = rollout("rlhf_robotics/HopperBackflip-v2", ROLLOUTS[name])
    assert obs.shape[1] == 14
    paid = np.array([i["reward_rotation"] for i in infos])
    regain, airborne, complete = obs[:-1, 11], obs[:-1, 12], obs[:-1, 13]
    turned_back = -(obs[1:, 1] - obs[:-1, 1])  # torso angle index 1: negative is backward
    new = np.maximum(0.0, turned_back - regain)
    np.testing.assert_allclose(paid, np.minimum(new, np.maximum(0.0, complete)) / DT * airborne, atol=1e-6)
    if name == "over_rotation":  # the allowance binds: 2.5 turns in the air are paid as one flip
        assert (new * airborne > complete + 1e-3).any()
        assert paid.sum() == pytest.approx(TAU / DT)


def episode_return(env_id: str, vz: float, spin: float) -> tuple[float, list[dict]]:
    """300 steps launched from the standing start with zero action, as in the class docstring's table."""
    _, rewards, infos = rollout(env_id, Rollout(300, _launch(vz, spin), _still))
    return sum(rewards), infos


@pytest.mark.parametrize("env_id, landed_stand, landed_fall, one_turn, two_turns", [
    ("rlhf_robotics/HopperBackflip-v2", 1550, 1394, 1014, 1135),
    ("rlhf_robotics/HopperBackflip-v1", 1170, 1014, 1270, 2191),
])
def test_the_docstrings_table_and_v2s_optimum_is_the_landed_flip(
    env_id: str, landed_stand: float, landed_fall: float, one_turn: float, two_turns: float
) -> None:
    fall, infos = episode_return(env_id, 5.0, -6.0)
    landing = next(t for t, i in enumerate(infos) if i["reward_landing"] > 0)
    assert landing == 127 and infos[-1]["is_success"]
    stand = sum(sum(v for k, v in i.items() if k.startswith("reward_")) for i in infos[:landing + 1])
    stand += 1.25 * (len(infos) - landing - 1)  # idealised: upright on the foot for the rest of the episode
    unlanded = {n: episode_return(env_id, *launch) for n, launch in {"one": (5.0, -8.0), "two": (6.0, -12.0)}.items()}
    assert not any(i[-1]["is_success"] for _, i in unlanded.values())
    turns = {n: max(x["backward_rotation"] for x in i) / TAU for n, (_, i) in unlanded.items()}
    assert 1.2 < turns["one"] < 1.4 and 2.3 < turns["two"] < 2.5
    got = [stand, fall, unlanded["one"][0], unlanded["two"][0]]
    np.testing.assert_allclose(got, [landed_stand, landed_fall, one_turn, two_turns], atol=1.0)
    if env_id.endswith("v2"):
        assert stand > fall > max(unlanded["one"][0], unlanded["two"][0])


def test_the_allowance_needs_the_markovian_observation() -> None:
    with pytest.raises(ValueError, match="markovian_objective=False, flip_allowance=False"):
        gym.make("rlhf_robotics/HopperBackflip-v2", markovian_objective=False)
