"""Unsupervised pre-training on a state-entropy reward, PEBBLE's first phase (Lee et al. 2021, §4.1).

Before any label exists the agent explores to maximise the entropy of its state distribution, estimated by the
particle (k-nearest-neighbour) estimator of Singh et al. (2003) / Liu & Abbeel (2021): a state's intrinsic reward
is its distance to the k-th nearest stored state, divided by a running standard deviation of those distances
(B-Pref's ``compute_state_entropy`` + ``s_ent_stats``; k = 5). Distances are computed in chunks of the stored
states, so memory stays bounded by ``batch × chunk`` however large the buffer grows.

For SB3's off-policy algorithms the reward is swapped where the critic reads it: :class:`StateEntropyReplayBuffer`
returns intrinsic rewards from ``sample()`` while its ``intrinsic`` switch is on. After pre-training, PEBBLE resets
the critic (its values belong to the exploration reward) with :func:`reset_critic`.

For PPO, which learns from the rewards of its own rollouts, the reward is swapped where the rollout is collected:
:class:`StateEntropyReward` is the learned-reward wrapper's reward function during pre-training, each step's
observation measured against the observations the run's transition buffer holds (its most recent
``labels.buffer_steps``: the states the exploring policy has visited lately). After it, :func:`reset_value`
re-initialises the value function, PPO's counterpart of the critic.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np
import torch
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.buffers import ReplayBuffer
from stable_baselines3.common.type_aliases import ReplayBufferSamples
from stable_baselines3.common.vec_env import VecNormalize


def knn_distances(x: torch.Tensor, reference: torch.Tensor, k: int, chunk_size: int = 500) -> torch.Tensor:
    """Distance from each row of ``x`` (B, D) to its k-th nearest row of ``reference`` (N, D), shape (B,).

    A row of ``x`` that is itself in ``reference`` counts as its own nearest neighbour at distance 0, as in B-Pref
    (``kthvalue(k + 1)`` over the whole buffer, which holds the sampled states): pass ``k + 1`` to skip it.
    Memory is O(B · (chunk_size + k)).
    """
    if k < 1:
        raise ValueError(f"k={k}: the k-th nearest neighbour needs k >= 1")
    if len(reference) < k:
        raise ValueError(f"k={k} nearest neighbours asked of only {len(reference)} stored states")
    if chunk_size < 1:
        raise ValueError(f"chunk_size={chunk_size}: must be >= 1")
    best = torch.full((len(x), 0), float("inf"), dtype=x.dtype, device=x.device)
    for start in range(0, len(reference), chunk_size):
        d = torch.cdist(x, reference[start : start + chunk_size])  # (B, chunk)
        best = torch.topk(torch.cat([best, d], dim=1), k=min(k, best.shape[1] + d.shape[1]), dim=1, largest=False).values
    return best[:, k - 1]


class RunningStd:
    """Running standard deviation of a stream of values (Chan et al.'s parallel update, as SB3's RunningMeanStd)."""

    def __init__(self) -> None:
        self.mean, self.var, self.count = 0.0, 1.0, 1e-4

    def update(self, values: np.ndarray) -> None:
        batch_mean, batch_var, n = float(np.mean(values)), float(np.var(values)), len(values)
        delta, total = batch_mean - self.mean, self.count + n
        self.mean += delta * n / total
        self.var = (self.var * self.count + batch_var * n + delta**2 * self.count * n / total) / total
        self.count = total

    @property
    def std(self) -> float:
        return float(np.sqrt(self.var))


class StateEntropyReplayBuffer(ReplayBuffer):
    """An SB3 ``ReplayBuffer`` whose ``sample()`` returns PEBBLE's state-entropy reward while ``intrinsic`` is on.

    The reward of a sampled transition is the distance of its observation to the ``k``-th nearest other stored
    observation, divided by the running std of those distances. Pass it to SAC/TD3 as ``replay_buffer_class``;
    set ``replay_buffer.intrinsic = False`` to hand over to the stored (learned) rewards.
    """

    def __init__(self, *args: Any, k: int = 5, chunk_size: int = 500, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.intrinsic = True
        self.k, self.chunk_size = k, chunk_size
        self.stats = RunningStd()

    def state_entropy(self, obs: torch.Tensor) -> torch.Tensor:
        """Normalised intrinsic reward of observations ``obs`` (B, obs_dim) against every stored observation."""
        n = self.buffer_size if self.full else self.pos
        stored = torch.as_tensor(self.observations[:n].reshape(n * self.n_envs, -1), device=obs.device)
        d = knn_distances(obs.reshape(len(obs), -1).float(), stored.float(), self.k + 1, self.chunk_size)  # +1: itself
        self.stats.update(d.cpu().numpy())
        return d / max(self.stats.std, 1e-8)

    def sample(self, batch_size: int, env: VecNormalize | None = None) -> ReplayBufferSamples:
        samples = super().sample(batch_size, env)
        if not self.intrinsic:
            return samples
        raw = samples.observations if env is None else torch.as_tensor(
            env.unnormalize_obs(samples.observations.cpu().numpy()), device=samples.observations.device)
        with torch.no_grad():
            reward = self.state_entropy(raw).reshape(-1, 1).to(samples.rewards.dtype)
        return samples._replace(rewards=reward)


class StateEntropyReward:
    """PEBBLE's state-entropy reward for an on-policy learner, as a reward function of the learned-reward wrapper
    (``(N, obs_dim + act_dim)`` step features → ``(N,)``): the distance of each step's observation to its ``k``-th
    nearest stored observation, divided by the running std of those distances.

    Args:
        stored: returns the stored observations, any shape ending in ``obs_dim`` (the transition buffer's
            ``(T, n_envs, obs_dim)``); the step being rewarded is not among them yet (the wrapper records it after
            computing its reward), so no ``+1`` as in B-Pref.
        obs_dim: leading columns of the features that are the observation.
        k: the neighbour (B-Pref: 5).
        chunk_size: stored observations per distance computation (at least ``1e6 / N``: the batch here is one
            vector step, a few rows, so whole buffers fit at once).
    """

    def __init__(self, stored: Any, obs_dim: int, k: int = 5, chunk_size: int = 500) -> None:
        self.stored, self.obs_dim, self.k, self.chunk_size = stored, obs_dim, k, chunk_size
        self.stats = RunningStd()

    def __call__(self, features: np.ndarray) -> np.ndarray:
        reference = np.asarray(self.stored()).reshape(-1, self.obs_dim)
        if len(reference) < self.k:  # the first steps of a run: too few states to measure against
            return np.zeros(len(features), np.float32)
        x = torch.as_tensor(np.asarray(features)[:, : self.obs_dim], dtype=torch.float32)
        ref = torch.as_tensor(reference, dtype=torch.float32)
        d = knn_distances(x, ref, self.k, max(self.chunk_size, 1_000_000 // max(len(x), 1))).numpy()
        self.stats.update(d)
        return (d / max(self.stats.std, 1e-8)).astype(np.float32)


def reset_value(model: BaseAlgorithm) -> None:
    """Re-initialise an SB3 PPO's value function (its hidden layers and head, as SB3 initialises them; the actor is
    kept) and drop their optimiser state: after pre-training its values estimate the exploration reward's returns."""
    policy = model.policy
    head, extractor = getattr(policy, "value_net", None), getattr(policy, "mlp_extractor", None)
    if head is None or extractor is None:
        raise TypeError(f"{type(model).__name__} has no value function to reset; this needs algo=ppo")
    params: set[int] = set()
    for module, gain in ((extractor.value_net, np.sqrt(2)), (head, 1.0)):  # SB3's ActorCriticPolicy gains
        if getattr(policy, "ortho_init", True):
            module.apply(partial(policy.init_weights, gain=gain))
        else:
            for sub in module.modules():
                if hasattr(sub, "reset_parameters"):
                    sub.reset_parameters()  # type: ignore[operator]
        params.update(id(p) for p in module.parameters())
    for group in policy.optimizer.param_groups:
        for p in group["params"]:
            if id(p) in params:
                policy.optimizer.state.pop(p, None)


def reset_critic(model: BaseAlgorithm) -> None:
    """Re-initialise an SB3 SAC/TD3 critic, copy it into its target and give it a fresh optimiser (PEBBLE resets
    the Q-function after unsupervised pre-training: its values estimate the exploration reward)."""
    policy = model.policy
    critic = getattr(policy, "critic", None)
    target = getattr(policy, "critic_target", None)
    if critic is None or target is None:
        raise TypeError(f"{type(model).__name__} has no critic to reset; PEBBLE's pre-training needs algo=sac or td3")
    for module in critic.modules():
        if module is not critic and hasattr(module, "reset_parameters"):
            module.reset_parameters()  # type: ignore[operator]
    target.load_state_dict(critic.state_dict())
    make_optimizer: Any = policy.optimizer_class
    critic.optimizer = make_optimizer(critic.parameters(), lr=model.lr_schedule(1), **policy.optimizer_kwargs)
