"""PEBBLE's state-entropy pre-training: the k-NN distance by hand, chunking that changes nothing, the replay
buffer's intrinsic reward, and the critic reset."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces
from stable_baselines3 import SAC

from rlhf_robotics.robotics.exploration import (
    RunningStd,
    StateEntropyReplayBuffer,
    knn_distances,
    reset_critic,
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
