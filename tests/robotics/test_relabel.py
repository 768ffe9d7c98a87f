"""Relabelling an off-policy replay buffer after a reward-model update: every stored reward — the wrapped part
included — equals the new reward model's output on that transition, computed on the actions the env saw. And
relabelling the PPO rollout a background refit takes over in: the same buffer as one collected under the new
reward."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces
from stable_baselines3.common.buffers import ReplayBuffer, RolloutBuffer

from rlhf_robotics.preference.ensemble import StackedStepReward, build_step_ensemble
from rlhf_robotics.robotics.relabel import env_actions, relabel_replay_buffer

OBS, ACT = 5, 2
ACTION_SPACE = spaces.Box(low=np.array([-2.0, 0.0], np.float32), high=np.array([2.0, 1.0], np.float32))


def wrapped_buffer(size: int = 50, added: int = 73, n_envs: int = 3) -> ReplayBuffer:
    # SB3 splits buffer_size over the envs: ``size`` steps of each env
    buffer = ReplayBuffer(size * n_envs, spaces.Box(-np.inf, np.inf, (OBS,), np.float32), ACTION_SPACE, device="cpu",
                          n_envs=n_envs)
    rng = np.random.default_rng(0)
    for _ in range(added):
        obs = rng.normal(size=(n_envs, OBS)).astype(np.float32)
        buffer.add(obs, obs + 1, rng.uniform(-1, 1, (n_envs, ACT)).astype(np.float32), rng.normal(size=n_envs),
                   np.zeros(n_envs, bool), [{} for _ in range(n_envs)])
    assert buffer.full and buffer.pos == added - size  # the buffer has wrapped: slots 0..22 were overwritten
    return buffer


def expected(buffer: ReplayBuffer, fn) -> np.ndarray:
    obs = buffer.observations.reshape(-1, OBS)
    act = env_actions(buffer.actions.reshape(-1, ACT), ACTION_SPACE)
    return fn(np.concatenate([obs, act], axis=1)).reshape(buffer.rewards.shape)


def test_env_actions_undo_sb3_rescaling() -> None:
    scaled = np.array([[-1.0, -1.0], [1.0, 1.0], [0.0, 0.0]], np.float32)
    assert np.allclose(env_actions(scaled, ACTION_SPACE), [[-2, 0], [2, 1], [0, 0.5]])
    assert env_actions(scaled, None) is scaled  # nothing to undo


def test_every_stored_reward_equals_the_new_reward_model_after_a_refit() -> None:
    buffer = wrapped_buffer()
    ensemble = build_step_ensemble(OBS + ACT, 3, seed=0)
    before = StackedStepReward(ensemble)
    assert relabel_replay_buffer(buffer, before, ACTION_SPACE, chunk_size=16) == 50 * 3
    np.testing.assert_allclose(buffer.rewards, expected(buffer, before), rtol=1e-5, atol=1e-6)

    with torch.no_grad():  # a "refit": the reward model changes
        for p in ensemble.parameters():
            p.add_(0.3 * torch.randn_like(p))
    after = StackedStepReward(ensemble)
    relabel_replay_buffer(buffer, after, ACTION_SPACE, chunk_size=37)  # chunks that do not divide the buffer
    new = expected(buffer, after)
    np.testing.assert_allclose(buffer.rewards, new, rtol=1e-5, atol=1e-6)
    assert not np.allclose(new, expected(buffer, before))  # the refit changed every reward, and all were rewritten
    with torch.no_grad():  # and the stacked fast path is the ensemble's own reward
        x = np.concatenate([buffer.observations.reshape(-1, OBS), env_actions(buffer.actions.reshape(-1, ACT), ACTION_SPACE)], 1)
        np.testing.assert_allclose(buffer.rewards.reshape(-1), ensemble.reward(torch.as_tensor(x)).numpy(), rtol=1e-4, atol=1e-5)


def test_a_buffer_not_yet_full_relabels_only_what_it_holds() -> None:
    buffer = ReplayBuffer(100, spaces.Box(-1, 1, (OBS,), np.float32), ACTION_SPACE, device="cpu")
    for k in range(40):
        buffer.add(np.full((1, OBS), k, np.float32), np.zeros((1, OBS), np.float32), np.zeros((1, ACT), np.float32),
                   np.array([7.0]), np.zeros(1, bool), [{}])
    assert relabel_replay_buffer(buffer, lambda f: f[:, 0] * 2) == 40
    assert np.array_equal(buffer.rewards[:40, 0], 2 * np.arange(40)) and not buffer.rewards[40:].any()


def test_bad_input_is_named() -> None:
    with pytest.raises(ValueError, match="chunk_size=0"):
        relabel_replay_buffer(wrapped_buffer(), lambda f: f[:, 0], chunk_size=0)


def test_the_wrapper_needs_no_physics_state_when_it_records_nothing() -> None:
    import gymnasium as gym
    from stable_baselines3.common.vec_env import DummyVecEnv

    from rlhf_robotics.robotics.buffer import TransitionBuffer
    from rlhf_robotics.robotics.reward_wrapper import LearnedRewardVecEnv

    venv = LearnedRewardVecEnv(DummyVecEnv([lambda: gym.make("Pendulum-v1")] * 2), lambda f: f[:, 0] + 10)
    obs = venv.reset()
    _, reward, _, infos = venv.step(np.zeros((2, 1), np.float32))
    assert np.allclose(reward, obs[:, 0] + 10) and "true_reward" in infos[0]  # learned reward of (s, a); true kept

    recording = LearnedRewardVecEnv(DummyVecEnv([lambda: gym.make("Pendulum-v1")]), None,
                                    TransitionBuffer(1, 10, 3, 1, 1, 1, []))
    with pytest.raises(ValueError, match="needs the MuJoCo state"):
        recording.reset()


def _rollout_buffer(rewards: np.ndarray, values: np.ndarray, starts: np.ndarray, last_values: np.ndarray,
                    dones: np.ndarray) -> RolloutBuffer:
    n_steps, n_envs = rewards.shape
    buf = RolloutBuffer(n_steps, spaces.Box(-1, 1, (3,)), spaces.Box(-1, 1, (1,)), device="cpu", gamma=0.9,
                        gae_lambda=0.8, n_envs=n_envs)
    for t in range(n_steps):
        buf.add(np.zeros((n_envs, 3), np.float32), np.zeros((n_envs, 1), np.float32), rewards[t], starts[t],
                torch.as_tensor(values[t]), torch.zeros(n_envs))
    buf.compute_returns_and_advantage(torch.as_tensor(last_values), dones)
    return buf


def test_a_relabelled_rollout_equals_the_rollout_collected_under_the_new_reward() -> None:
    from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

    from rlhf_robotics.robotics.relabel import relabel_rollout

    rng = np.random.default_rng(0)
    n_steps, n_envs, dim = 6, 2, 4
    features = rng.normal(size=(n_steps, n_envs, dim)).astype(np.float32)
    old_fn = lambda f: f[:, 0] * 3.0  # noqa: E731
    new_fn = lambda f: 3.0 * f[:, 1] - 4.0 * f[:, 2]  # noqa: E731
    norm = VecNormalize(DummyVecEnv([lambda: gym.make("Pendulum-v1")] * n_envs), norm_obs=False, clip_reward=2.0)
    norm.ret_rms.var = np.array(3.7)
    values = rng.normal(size=(n_steps, n_envs)).astype(np.float32)
    starts = np.zeros((n_steps, n_envs), np.float32)
    starts[3, 1] = 1.0  # env 1's episode ended after step 2
    last_values, dones = rng.normal(size=n_envs).astype(np.float32), np.array([False, True])
    bootstrap = np.zeros((n_steps, n_envs), np.float32)
    bootstrap[2, 1] = 0.9 * 1.25  # SB3 adds γ·V(final obs) to a time-limit truncation's reward: it must stay
    old = np.stack([old_fn(f) for f in features]).astype(np.float32)
    new = np.stack([new_fn(f) for f in features]).astype(np.float32)
    collected = _rollout_buffer(norm.normalize_reward(old) + bootstrap, values, starts, last_values, dones)
    recorded = [(features[t], old[t]) for t in range(n_steps)]

    got = relabel_rollout(collected, recorded, new_fn, norm, torch.as_tensor(last_values), dones)

    expected = _rollout_buffer(norm.normalize_reward(new) + bootstrap, values, starts, last_values, dones)
    assert np.allclose(got, new)
    assert np.abs(norm.normalize_reward(new)).max() == 2.0  # some rewards are clipped, as the env stack clips them
    assert np.allclose(collected.rewards, expected.rewards, atol=1e-6)
    assert np.allclose(collected.advantages, expected.advantages, atol=1e-5)
    assert np.allclose(collected.returns, expected.returns, atol=1e-5)
    assert not np.allclose(collected.advantages, _rollout_buffer(norm.normalize_reward(old) + bootstrap, values, starts,
                                                                 last_values, dones).advantages)
    with pytest.raises(ValueError, match="5 recorded steps for a rollout of 6"):
        relabel_rollout(collected, recorded[1:], new_fn, norm, torch.as_tensor(last_values), dones)
