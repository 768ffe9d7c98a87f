from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import mujoco
import numpy as np
import pytest
from stable_baselines3 import A2C, PPO
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv

from rlhf_robotics.robotics.buffer import TransitionBuffer
from rlhf_robotics.robotics.physics import PhysicsStateInfo, env_factory, scalar_info_keys
from rlhf_robotics.robotics.reward_wrapper import LearnedRewardVecEnv


def _venv(env_id: str, n: int, seed: int = 0, state_info: bool = False) -> DummyVecEnv:
    make = env_factory(env_id) if state_info else (lambda: gym.make(env_id))
    venv = DummyVecEnv([lambda: Monitor(make()) for _ in range(n)])
    venv.seed(seed)
    return venv


def _wrapped(env_id: str, n: int, capacity: int = 500, reward_fn=None, state_from: str = "simulators"):
    venv = _venv(env_id, n, state_info=state_from == "info")
    probe = venv.envs[0]
    probe.reset(seed=0)
    keys = scalar_info_keys(probe.step(probe.action_space.sample())[-1])
    m = probe.unwrapped.model
    buf = TransitionBuffer(n, capacity, venv.observation_space.shape[0], venv.action_space.shape[0], m.nq, m.nv, keys)
    env = LearnedRewardVecEnv(venv, reward_fn, buf)
    if state_from == "info":  # as for a vector env whose simulators live elsewhere (SubprocVecEnv)
        env._sims = None
    return env, buf


def test_state_read_from_the_simulators_equals_the_state_in_info_across_resets() -> None:
    """Both ways of getting each step's MuJoCo state record the same buffer, auto-resets included."""
    rng = np.random.default_rng(0)
    actions = rng.uniform(-3, 3, size=(300, 3, 1)).astype(np.float32)  # random pushes end episodes within ~10 steps
    buffers = []
    for state_from in ("simulators", "info"):
        env, buf = _wrapped("InvertedPendulum-v5", 3, capacity=400, state_from=state_from)
        env.reset()
        dones = sum(int(env.step(a)[2].sum()) for a in actions)
        assert dones > 20
        buffers.append(buf)
    direct, via_info = buffers
    np.testing.assert_array_equal(direct.qpos, via_info.qpos)
    np.testing.assert_array_equal(direct.qvel, via_info.qvel)
    np.testing.assert_array_equal(direct.episode, via_info.episode)
    assert np.abs(direct.qpos[:300]).sum() > 0


def test_a_vector_env_without_reachable_state_is_refused() -> None:
    env, _ = _wrapped("InvertedPendulum-v5", 2)
    env._sims = None  # neither simulators nor PhysicsStateInfo
    with pytest.raises(ValueError, match="needs the MuJoCo state of every step.*PhysicsStateInfo"):
        env.reset()


def test_wrapper_replaces_reward_and_keeps_true_reward() -> None:
    reward_fn = lambda x: x[:, 0] * 2.0 + 1.0  # noqa: E731  (a known function of obs ⊕ action)
    env, _ = _wrapped("HalfCheetah-v5", 2, reward_fn=reward_fn)
    reference = _venv("HalfCheetah-v5", 2)  # same seeds, no wrapper
    obs = env.reset()
    ref_obs = reference.reset()
    np.testing.assert_allclose(obs, ref_obs)
    rng = np.random.default_rng(0)
    for _ in range(20):
        action = rng.uniform(-1, 1, size=(2, 6)).astype(np.float32)
        new_obs, reward, _, infos = env.step(action)
        _, ref_reward, _, _ = reference.step(action)
        np.testing.assert_allclose(reward, obs[:, 0] * 2.0 + 1.0, rtol=1e-5)
        np.testing.assert_allclose([i["true_reward"] for i in infos], ref_reward, rtol=1e-6)
        obs = new_obs


@pytest.mark.parametrize("state_from", ["simulators", "info"])
def test_recorded_state_replays_the_recorded_actions(state_from: str) -> None:
    """Setting MuJoCo to the stored (qpos, qvel) of step t and applying action t reproduces the state of t+1,
    so any segment can be re-rendered without the policy."""
    env, buf = _wrapped("Hopper-v5", 1, state_from=state_from)
    env.reset()
    rng = np.random.default_rng(1)
    for _ in range(30):
        env.step(rng.uniform(-1, 1, size=(1, 3)).astype(np.float32))
    sim = gym.make("Hopper-v5").unwrapped
    sim.reset(seed=0)
    episode = buf.episode[: buf.pos, 0]
    t = int(np.flatnonzero(episode == episode[0])[5])
    sim.set_state(buf.qpos[t, 0], buf.qvel[t, 0])
    sim.do_simulation(buf.act[t, 0], sim.frame_skip)
    np.testing.assert_allclose(sim.data.qpos, buf.qpos[t + 1, 0], atol=1e-9)
    assert mujoco.mj_name2id(sim.model, mujoco.mjtObj.mjOBJ_BODY, "torso") >= 0


def test_segments_never_cross_episode_boundaries() -> None:
    env, buf = _wrapped("InvertedPendulum-v5", 3, capacity=400)  # random actions end episodes within ~10 steps
    env.reset()
    rng = np.random.default_rng(0)
    dones = 0
    for _ in range(400):
        _, _, d, _ = env.step(rng.uniform(-3, 3, size=(3, 1)).astype(np.float32))
        dones += int(d.sum())
    assert dones > 20
    segs = buf.sample_segments(50, 5, np.random.default_rng(0), "s")
    # within one episode the cart position changes continuously; a reset jumps back near 0 with tiny velocity
    starts = buf.valid_starts(5)
    ep = buf._chronological(buf.episode)
    for t, e in starts[:200]:
        assert len(set(ep[t : t + 5, e])) == 1
    assert segs.obs.shape == (50, 5, 4) and segs.qpos.shape == (50, 5, 2)
    with pytest.raises(ValueError, match="no episode in the buffer is 400 steps long"):
        buf.sample_segments(1, 400, np.random.default_rng(0), "s")


def test_buffer_is_a_ring_in_chronological_order() -> None:
    buf = TransitionBuffer(1, 4, 1, 1, 1, 1, [])
    for t in range(6):
        buf.add(np.array([[t]]), np.array([[0]]), np.array([t]), np.zeros((1, 1)), np.zeros((1, 1)), [{}], np.array([False]))
    assert len(buf) == 4
    np.testing.assert_array_equal(buf._chronological(buf.reward)[:, 0], [2, 3, 4, 5])


class CountingReward:
    """A fake learned reward that records every batch it is called with: ``2 x_0 + 1`` of obs ⊕ action."""

    def __init__(self) -> None:
        self.batches: list[np.ndarray] = []

    def __call__(self, features: np.ndarray) -> np.ndarray:
        self.batches.append(features.copy())
        return features[:, 0] * 2.0 + 1.0


def test_buffer_keeps_the_true_reward_and_the_reward_is_one_batched_call_per_step() -> None:
    """The policy gets the learned reward; the buffer (hence every segment a teacher judges) the env's true one;
    and the reward function sees the whole vector step at once, exactly once per step, never on reset."""
    n, steps = 3, 30
    reward_fn = CountingReward()
    env, buf = _wrapped("HalfCheetah-v5", n, reward_fn=reward_fn)
    reference = _venv("HalfCheetah-v5", n)  # same seeds, no wrapper: the true rewards
    obs = env.reset()
    reference.reset()
    assert reward_fn.batches == []
    rng = np.random.default_rng(0)
    seen_obs, true_rewards, learned_rewards = [], [], []
    for t in range(steps):
        action = rng.uniform(-1, 1, size=(n, 6)).astype(np.float32)
        new_obs, learned, _, infos = env.step(action)
        _, true_reward, _, _ = reference.step(action)
        assert len(reward_fn.batches) == t + 1, "one reward call per vector step"
        np.testing.assert_array_equal(reward_fn.batches[-1], np.concatenate([obs, action], axis=1).astype(np.float32))
        np.testing.assert_allclose(learned, obs[:, 0] * 2.0 + 1.0, rtol=1e-5)
        np.testing.assert_allclose([i["learned_reward"] for i in infos], learned, rtol=1e-6)
        seen_obs.append(obs)
        true_rewards.append(true_reward)
        learned_rewards.append(learned)
        obs = new_obs
    assert buf.pos == steps and buf.total_steps == n * steps
    np.testing.assert_allclose(buf.obs[:steps], np.array(seen_obs), rtol=1e-6)
    np.testing.assert_allclose(buf.reward[:steps], np.array(true_rewards), rtol=1e-5)
    assert np.abs(np.array(true_rewards) - np.array(learned_rewards)).mean() > 0.1  # so the line above can fail
    segments = buf.sample_segments(8, 5, np.random.default_rng(0), "s")
    assert set(np.round(segments.reward.ravel(), 4)) <= set(np.round(np.array(true_rewards, np.float32).ravel(), 4))


# algorithm → (constructor arguments, training steps): about 5 s each on one thread. True return measured over
# seeds 0, 1, 2: untrained 22.3 every time; PPO 135 / 100 / 130, A2C 818 / 202 / 303.
LEARNS: dict[type[BaseAlgorithm], tuple[dict[str, Any], int]] = {
    PPO: (dict(n_steps=256, batch_size=64, learning_rate=1e-3), 8192),
    A2C: (dict(n_steps=8), 8192),
}


def _true_return(policy: BaseAlgorithm, episodes: int = 10) -> float:
    """Mean Monitor (true-reward) return of the deterministic policy on fresh, unwrapped envs."""
    mean, _ = evaluate_policy(policy, _venv("InvertedPendulum-v5", 1, seed=1000), n_eval_episodes=episodes)
    return float(mean)


@pytest.mark.parametrize("algo", [PPO, A2C])
def test_any_sb3_algorithm_learns_through_the_wrapper(algo: type[BaseAlgorithm]) -> None:
    """Trained only on a learned reward (a known shaped one: alive bonus minus the pole angle), the policy beats
    its untrained self on the true return by a wide margin (as SB3's own tests judge learning)."""
    env, buf = _wrapped("InvertedPendulum-v5", 4, capacity=2000, reward_fn=lambda x: 1.0 - np.abs(x[:, 1]))
    model = algo("MlpPolicy", env, seed=0, device="cpu", **LEARNS[algo][0])
    untrained = _true_return(model)
    model.learn(LEARNS[algo][1])
    trained = _true_return(model)
    assert buf.total_steps >= LEARNS[algo][1]
    assert trained > 3 * untrained and trained > untrained + 30, (untrained, trained)


def test_physics_state_info_rejects_non_mujoco_envs() -> None:
    with pytest.raises(TypeError, match="not a MuJoCo environment"):
        PhysicsStateInfo(gym.make("CartPole-v1"))


def _tagged_buffer(episode_lengths: tuple[int, int], steps: int = 300) -> TransitionBuffer:
    """Two envs whose episodes have fixed lengths; each step's observation is ``1000 · episode + t``."""
    buf = TransitionBuffer(2, 2 * steps, 1, 1, 1, 1, [])
    episode, t = [0, 1], [0, 0]
    for _ in range(steps):
        obs = np.array([[1000.0 * episode[e] + t[e]] for e in range(2)])
        dones = np.array([t[e] + 1 == episode_lengths[e] for e in range(2)])
        buf.add(obs, np.zeros((2, 1)), np.zeros(2), np.zeros((2, 1)), np.zeros((2, 1)), [{}, {}], dones)
        for e in range(2):
            episode[e], t[e] = (max(episode) + 1, 0) if dones[e] else (episode[e], t[e] + 1)
    return buf


def test_same_episode_pairs_are_two_windows_of_one_episode_at_different_starts() -> None:
    buf = _tagged_buffer((50, 30))
    segs = buf.sample_segments(400, 10, np.random.default_rng(0), "s", same_episode=1.0)
    first, second = segs.obs[0::2, 0, 0], segs.obs[1::2, 0, 0]
    assert np.array_equal(first // 1000, second // 1000)  # one episode
    assert (first != second).all()  # different starts
    assert len(np.unique(second % 1000)) > 15  # the partner's start is drawn, not fixed
    half = buf.sample_segments(2000, 10, np.random.default_rng(1), "s", same_episode=0.5).obs[:, 0, 0] // 1000
    shared = float(np.mean(half[0::2] == half[1::2]))
    assert 0.45 < shared < 0.6  # half on purpose, plus the few independent draws that land in one episode


def test_same_episode_zero_draws_exactly_what_independent_segments_draw() -> None:
    buf = _tagged_buffer((50, 30))
    a_rng, b_rng = np.random.default_rng(3), np.random.default_rng(3)
    a = buf.sample_segments(64, 10, a_rng, "s")
    b = buf.sample_segments(64, 10, b_rng, "s", same_episode=0.0)
    assert np.array_equal(a.obs, b.obs) and a_rng.random() == b_rng.random()
    independent = a.obs[:, 0, 0] // 1000
    assert float(np.mean(independent[0::2] == independent[1::2])) < 0.3


def test_an_episode_with_a_single_window_keeps_an_independent_partner() -> None:
    buf = _tagged_buffer((10, 10))  # a 10-step segment fits each episode once
    segs = buf.sample_segments(40, 10, np.random.default_rng(0), "s", same_episode=1.0)
    assert segs.obs.shape == (40, 10, 1)
    assert not np.array_equal(segs.obs[0::2, 0, 0] // 1000, segs.obs[1::2, 0, 0] // 1000)


def _coverage(segs_obs: np.ndarray, steps: Sequence[int], length: int, episodes: int) -> list[float]:
    """Share of the windows cut from the first ``episodes`` episodes of env 0's tagging that contain each step."""
    start = segs_obs[:, 0, 0]
    first = start[(start // 1000) < episodes] % 1000
    return [float(np.mean((first <= s) & (s < first + length))) for s in steps]


def test_cover_episode_edges_cuts_first_and_last_steps_as_often_as_middle_ones() -> None:
    buf = _tagged_buffer((100, 100), steps=350)  # 3 whole episodes per env, then one still going
    steps = (0, 99, 50)
    plain = _coverage(buf.sample_segments(20_000, 20, np.random.default_rng(0), "s").obs, steps, 20, 6)
    edges = _coverage(buf.sample_segments(20_000, 20, np.random.default_rng(0), "s", cover_episode_edges=True).obs,
                      steps, 20, 6)
    assert plain[0] < 0.1 * plain[2] and plain[1] < 0.1 * plain[2]  # every start alike: 1 window against 20
    assert 0.85 < edges[0] / edges[2] < 1.15 and 0.85 < edges[1] / edges[2] < 1.15, edges
    assert edges[2] > 0.1  # the middle is still cut (20 of 119 weight per episode)


def test_start_weights_count_only_edges_the_buffer_holds() -> None:
    buf = _tagged_buffer((100, 100), steps=350)
    starts = buf.valid_starts(20)
    w = buf.start_weights(starts, 20)
    tag = buf._chronological(buf.obs)[starts[:, 0], starts[:, 1], 0]
    t = tag % 1000
    assert set(w[t == 0]) == {20.0}  # every episode began inside the buffer
    going = buf._chronological(buf.episode)[starts[:, 0], starts[:, 1]] == buf._next_episode[starts[:, 1]]
    assert set(w[~going & (t == 80)]) == {20.0}  # the window ending on a finished episode's last step
    assert set(w[going & (t > 0)]) == {1.0}  # the episode still going: its newest window is no edge
    assert set(w[(t > 0) & (t < 80)]) == {1.0}
    ring = TransitionBuffer(1, 50, 1, 1, 1, 1, [])
    for i in range(80):  # one episode of 80 steps in a ring of 50: its first step has left the ring
        ring.add(np.full((1, 1), i), np.zeros((1, 1)), np.zeros(1), np.zeros((1, 1)), np.zeros((1, 1)), [{}], np.zeros(1, bool))
    assert set(ring.start_weights(ring.valid_starts(10), 10)) == {1.0}
