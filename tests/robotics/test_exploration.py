"""PEBBLE's state-entropy pre-training: the k-NN distance by hand, chunking that changes nothing, the replay
buffer's intrinsic reward, the critic reset, and PPO's counterparts (the reward of its rollouts, the value reset)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces
from stable_baselines3 import PPO, SAC
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import VecNormalize

from rlhf_robotics.robotics.exploration import (
    RunningStd,
    StateEntropyReplayBuffer,
    StateEntropyReward,
    knn_distances,
    reset_critic,
    reset_value,
)


def test_knn_distance_by_hand() -> None:
    reference = torch.tensor([[0.0, 0.0], [3.0, 0.0], [0.0, 4.0], [10.0, 0.0]])
    x = torch.tensor([[0.0, 0.0], [3.0, 4.0]])
    # from (0,0): 0, 3, 4, 10; from (3,4): 5, 4, 3, sqrt(65)
    assert torch.allclose(knn_distances(x, reference, k=1), torch.tensor([0.0, 3.0]))
    assert torch.allclose(knn_distances(x, reference, k=2), torch.tensor([3.0, 4.0]))
    assert torch.allclose(knn_distances(x, reference, k=3), torch.tensor([4.0, 5.0]))


def test_chunks_do_not_change_the_distances() -> None:
    g = torch.Generator().manual_seed(0)
    x, ref = torch.randn(33, 5, generator=g), torch.randn(1000, 5, generator=g)
    whole = knn_distances(x, ref, k=6, chunk_size=10_000)
    for chunk in (1, 7, 64, 999):
        assert torch.allclose(knn_distances(x, ref, k=6, chunk_size=chunk), whole)
    with pytest.raises(ValueError, match="k=0"):
        knn_distances(x, ref, k=0)


def test_running_std_matches_numpy() -> None:
    rng = np.random.default_rng(0)
    values, stats = rng.normal(3.0, 2.0, size=1000), RunningStd()
    for part in np.array_split(values, 7):
        stats.update(part)
    assert stats.std == pytest.approx(np.std(values), rel=1e-3)


def test_buffer_returns_the_normalised_state_entropy_then_hands_over() -> None:
    buffer = StateEntropyReplayBuffer(100, spaces.Box(-np.inf, np.inf, (2,)), spaces.Box(-1, 1, (1,)), device="cpu", k=1)
    points = np.array([[0, 0], [1, 0], [0, 2], [5, 5]], np.float32)  # nearest other point: 1, 1, 2, sqrt(34)
    for p in points:
        buffer.add(p[None], p[None], np.zeros((1, 1), np.float32), np.array([7.0]), np.zeros(1, bool), [{}])
    torch.manual_seed(0)
    samples = buffer.sample(64)
    nearest = {(0.0, 0.0): 1.0, (1.0, 0.0): 1.0, (0.0, 2.0): 2.0, (5.0, 5.0): np.sqrt(34)}
    raw = np.array([nearest[tuple(o.tolist())] for o in samples.observations.numpy()])
    np.testing.assert_allclose(samples.rewards.numpy().ravel() * buffer.stats.std, raw, rtol=1e-5)
    buffer.intrinsic = False
    assert np.all(buffer.sample(8).rewards.numpy() == 7.0)  # the stored (learned) rewards again


def test_reset_critic_reinitialises_critic_and_target_and_its_optimiser() -> None:
    model = SAC("MlpPolicy", gym.make("Pendulum-v1"), learning_starts=10, batch_size=16, seed=0,
                policy_kwargs=dict(net_arch=[16, 16]))
    model.learn(60)
    before = {k: v.clone() for k, v in model.critic.state_dict().items()}
    actor = {k: v.clone() for k, v in model.actor.state_dict().items()}
    reset_critic(model)
    after = model.critic.state_dict()
    assert all(not torch.equal(before[k], after[k]) for k in before if k.endswith("weight"))
    assert all(torch.equal(after[k], model.critic_target.state_dict()[k]) for k in after)
    assert all(torch.equal(actor[k], v) for k, v in model.actor.state_dict().items())  # the actor is kept
    assert model.critic.optimizer.state == {}  # fresh Adam moments
    model.learn(20, reset_num_timesteps=False)  # and training goes on


def test_rollout_reward_is_the_normalised_distance_to_the_kth_nearest_stored_observation() -> None:
    stored = np.zeros((3, 2, 2), np.float32)  # (T, n_envs, obs_dim), as the transition buffer holds them
    stored[:, 0] = [[0, 0], [1, 0], [3, 0]]
    stored[:, 1] = [[0, 4], [0, 9], [9, 9]]
    reward = StateEntropyReward(lambda: stored, obs_dim=2, k=1)
    features = np.array([[0.5, 0.0, 0.7], [3.0, 2.0, -0.7]], np.float32)  # observation ⊕ action; the action is ignored
    # nearest stored observation: (0,0) or (1,0) at 0.5; (3,0) at 2
    out = reward(features)
    np.testing.assert_allclose(out * reward.stats.std, [0.5, 2.0], rtol=1e-5)
    assert reward.stats.std == pytest.approx(0.75, rel=1e-3)  # the std of the distances so far
    second = StateEntropyReward(lambda: stored, obs_dim=2, k=2)
    # k=2: the second nearest, (1,0) or (0,0) at 0.5 again; from (3,2): (1,0) at sqrt(8)
    np.testing.assert_allclose(second(features) * second.stats.std, [0.5, np.sqrt(8)], rtol=1e-5)
    assert np.all(StateEntropyReward(lambda: stored[:1, :1], obs_dim=2, k=5)(features) == 0)  # too few states yet


def test_reset_value_reinitialises_the_value_function_and_keeps_the_actor() -> None:
    model = PPO("MlpPolicy", gym.make("Pendulum-v1"), n_steps=64, batch_size=32, n_epochs=2, seed=0,
                policy_kwargs=dict(net_arch=[16, 16]))
    model.learn(128)
    policy = model.policy
    value = {k: v.clone() for k, v in policy.state_dict().items() if "value" in k}
    actor = {k: v.clone() for k, v in policy.state_dict().items() if "value" not in k}
    value_params = [p for n, p in policy.named_parameters() if "value" in n]
    assert all(p in policy.optimizer.state for p in value_params)  # Adam moments from the training so far
    reset_value(model)
    after = policy.state_dict()
    assert all(not torch.equal(value[k], after[k]) for k in value if k.endswith("weight"))
    assert all(torch.equal(actor[k], after[k]) for k in actor)  # the actor (and log std) is kept
    assert not any(p in policy.optimizer.state for p in value_params)  # fresh moments for the value function only
    assert any(p in policy.optimizer.state for n, p in policy.named_parameters() if "value" not in n)
    model.learn(64, reset_num_timesteps=False)  # and training goes on


def test_ppo_hand_over_resets_the_value_function_and_the_return_statistics(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from dataclasses import replace

    from rlhf_robotics.robotics.agent import Agent
    from rlhf_robotics.robotics.config import EnvConfig, ExperimentConfig
    from rlhf_robotics.robotics.policy import PhaseTimer

    config = ExperimentConfig(env=EnvConfig(id="Pendulum-v1", n_envs=2), total_steps=1000, run_dir=str(tmp_path), baseline=False,
                              video=False)
    config = replace(config, ppo=replace(config.ppo, n_steps=32, batch_size=32))
    venv = VecNormalize(make_vec_env("Pendulum-v1", n_envs=2, seed=0))
    agent = Agent(config, venv, "cpu", PhaseTimer(), tmp_path / "tb", progress=False)
    agent.learn(128, "pre-training")
    assert venv.ret_rms.count > 100
    head = agent.model.policy.value_net.weight.clone()  # type: ignore[union-attr]
    agent.end_pretraining()  # PPO: nothing to switch off
    agent.hand_over()
    assert venv.ret_rms.count < 1 and np.all(venv.returns == 0)
    assert not torch.equal(head, agent.model.policy.value_net.weight)  # type: ignore[union-attr]
