"""PPO's rollout rewards computed after the rollout (``DeferredReward``) are bit for bit the rewards the env stack
gives step by step: the same policy, the same reward normalisation, the same learned returns, time-limit bootstraps
included; and a reward that is not a function of the step alone is never deferred."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize
from test_loop import _labels, _weights, tiny  # tests/robotics is on sys.path (rootdir-relative, no __init__)

from rlhf_robotics.preference.ensemble import StackedStepReward, build_step_ensemble
from rlhf_robotics.robotics import agent as agent_module
from rlhf_robotics.robotics.agent import DeferredReward
from rlhf_robotics.robotics.loop import run_experiment
from rlhf_robotics.robotics.reward_wrapper import LearnedRewardVecEnv


def _learn(defer: bool, reward_fn, steps: int = 256) -> tuple[PPO, VecNormalize, LearnedRewardVecEnv]:
    # 30-step episodes: every env is truncated several times, so SB3's bootstrap γ·V(final obs) is in the buffer
    venv = DummyVecEnv([lambda: Monitor(gym.make("HalfCheetah-v5", max_episode_steps=30))] * 2)
    venv.seed(0)
    wrapper = LearnedRewardVecEnv(venv, reward_fn)
    norm = VecNormalize(wrapper, gamma=0.9)
    model = PPO("MlpPolicy", norm, n_steps=64, batch_size=64, n_epochs=2, gamma=0.9, seed=0, device="cpu")
    callback = DeferredReward(wrapper, norm) if defer else None
    model.learn(steps, callback=callback)
    return model, norm, wrapper


def test_a_deferred_rollout_is_the_rollout_collected_step_by_step() -> None:
    torch.manual_seed(0)
    reward = StackedStepReward(build_step_ensemble(17 + 6, 3, seed=4))
    plain, plain_norm, _ = _learn(False, reward)
    deferred, deferred_norm, wrapper = _learn(True, reward)

    assert not wrapper.deferring
    for a, b in zip(plain.policy.parameters(), deferred.policy.parameters(), strict=True):
        assert torch.equal(a, b)
    for name in ("rewards", "advantages", "returns"):
        assert np.array_equal(getattr(plain.rollout_buffer, name), getattr(deferred.rollout_buffer, name)), name
    assert np.array_equal(plain_norm.returns, deferred_norm.returns)
    assert (plain_norm.ret_rms.count, plain_norm.ret_rms.var) == (deferred_norm.ret_rms.count, deferred_norm.ret_rms.var)
    assert "_update_reward" not in vars(deferred_norm)  # the normaliser's own method is back
    learned = [e["r_learned"] for e in deferred.ep_info_buffer]
    assert len(learned) >= 8 and learned == [e["r_learned"] for e in plain.ep_info_buffer]
    assert np.any(plain.rollout_buffer.rewards != 0)


def test_a_reward_that_is_not_the_step_s_alone_is_computed_at_the_step() -> None:
    calls: list[int] = []

    def clock(features: np.ndarray) -> np.ndarray:  # no ``pure``: it may depend on when it is called
        calls.append(len(calls))
        return np.full(len(features), float(len(calls)), np.float32)

    _, _, wrapper = _learn(True, clock, steps=64 * 2)
    assert not wrapper.deferring and len(calls) == 64
    with pytest.raises(RuntimeError, match="settle"):
        wrapper._pending = [(np.zeros((2, 23), np.float32), np.zeros(2, bool), [{}, {}])]
        wrapper.set_reward_fn(None)


def test_the_loop_with_deferred_rewards_is_the_same_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run_experiment(tiny(tmp_path / "deferred"), progress=False)
    monkeypatch.setattr(agent_module.Agent, "defer_reward", False)
    run_experiment(tiny(tmp_path / "at_each_step"), progress=False)
    assert _labels(tmp_path / "deferred") == _labels(tmp_path / "at_each_step")
    a, b = _weights(tmp_path / "deferred"), _weights(tmp_path / "at_each_step")
    assert all(torch.equal(a[k], b[k]) for k in a)
    policies = [(tmp_path / d / "checkpoints" / "round_003" / "policy.zip").read_bytes() for d in ("deferred", "at_each_step")]
    weights = [zipfile.ZipFile(io.BytesIO(p)).read("policy.pth") for p in policies]
    assert weights[0] == weights[1]  # the policy's parameters, byte for byte
