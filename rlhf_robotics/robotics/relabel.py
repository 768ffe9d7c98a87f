"""Relabel an off-policy agent's replay buffer with the current learned reward (PEBBLE, Lee et al. 2021), or the
rollout PPO is about to learn from (:func:`relabel_rollout`).

An off-policy learner (SAC, TD3) trains on rewards stored when each transition was collected. Once the reward
model is refitted those rewards belong to a function that no longer exists, so after every reward-model update
every stored transition — the part written after the buffer wrapped included (BPref's relabelling skips it,
rll-research/BPref issue #7) — gets the new reward, computed by the same per-step function the
:class:`~rlhf_robotics.robotics.reward_wrapper.LearnedRewardVecEnv` applies to new steps, in large batched calls.
"""

from __future__ import annotations

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.buffers import ReplayBuffer, RolloutBuffer
from stable_baselines3.common.vec_env import VecNormalize

from rlhf_robotics.robotics.reward_wrapper import RewardFn


def env_actions(buffer_actions: np.ndarray, action_space: spaces.Space | None) -> np.ndarray:
    """The actions the env received, from those an SB3 off-policy buffer stores.

    SAC and TD3 store actions rescaled to ``[-1, 1]`` for a bounded ``Box`` space and step the env with
    ``low + (a + 1) / 2 · (high − low)``; the reward model saw the latter (the wrapper sits on the env side).
    """
    if not isinstance(action_space, spaces.Box) or not np.all(np.isfinite(action_space.low) & np.isfinite(action_space.high)):
        return buffer_actions
    low, high = action_space.low.astype(np.float32), action_space.high.astype(np.float32)
    return low + 0.5 * (buffer_actions + 1.0) * (high - low)


def relabel_replay_buffer(
    buffer: ReplayBuffer,
    reward_fn: RewardFn,
    action_space: spaces.Space | None = None,
    chunk_size: int = 65_536,
) -> int:
    """Overwrite every stored reward with ``reward_fn(observation ⊕ action)``; returns how many were relabelled.

    Args:
        buffer: an SB3 :class:`ReplayBuffer` (``model.replay_buffer``), full and wrapped or not. Its observations
            must be the raw ones the reward model sees (SB3 stores the unnormalised observation when a
            ``VecNormalize`` is used).
        reward_fn: ``(N, obs_dim + act_dim) → (N,)``, the function the wrapper uses for new steps.
        action_space: the env's action space, so actions stored rescaled to ``[-1, 1]`` (SAC, TD3) are mapped
            back to what the env and the reward model saw; ``None`` uses the stored actions as they are (PPO-style
            buffers, or a ``[-1, 1]`` space).
        chunk_size: transitions per call of ``reward_fn`` (bounds the memory of the concatenated features).
    """
    if not isinstance(buffer.observations, np.ndarray):
        raise TypeError(
            f"relabel_replay_buffer needs a ReplayBuffer of array observations, got {type(buffer).__name__}; dict "
            "observations have no learned-reward wrapper yet (flatten them, e.g. gymnasium.wrappers.FlattenObservation)"
        )
    if chunk_size < 1:
        raise ValueError(f"chunk_size={chunk_size}: must be >= 1")
    n = buffer.buffer_size if buffer.full else buffer.pos
    if n == 0:
        return 0
    n_envs = buffer.n_envs
    obs = buffer.observations[:n].reshape(n * n_envs, -1)  # (n·n_envs, obs_dim), a view: no copy
    act = buffer.actions[:n].reshape(n * n_envs, -1)
    rewards = buffer.rewards[:n].reshape(n * n_envs)  # a view of the stored (n, n_envs) rewards
    obs_dim = obs.shape[1]
    features = np.empty((min(chunk_size, n * n_envs), obs_dim + act.shape[1]), dtype=np.float32)
    for start in range(0, n * n_envs, chunk_size):
        stop = min(start + chunk_size, n * n_envs)
        f = features[: stop - start]
        f[:, :obs_dim] = obs[start:stop]
        f[:, obs_dim:] = env_actions(act[start:stop], action_space)
        rewards[start:stop] = reward_fn(f)
    return n * n_envs


def relabel_rollout(
    buffer: RolloutBuffer,
    recorded: list[tuple[np.ndarray, np.ndarray]],
    reward_fn: RewardFn,
    normalizer: VecNormalize | None,
    last_values: torch.Tensor,
    dones: np.ndarray,
) -> np.ndarray:
    """Give the rollout PPO is about to learn from the rewards of ``reward_fn`` and recompute its advantages.

    What the synchronous loop would have stored, had the new reward been installed before the rollout: each step's
    stored reward moves by ``norm(new) − norm(old)``, so the rest of it (SB3's bootstrap of a time-limit truncation,
    γ·V(final observation)) stays; ``norm`` is the reward normalisation the rollout went through, with the statistics
    it has now (they were updated step by step with the old rewards; over one rollout of a long run they barely
    move). Then GAE is rerun with the rollout's last values, as ``collect_rollouts`` ran it.

    Args:
        buffer: the full rollout buffer (``model.rollout_buffer``), after ``collect_rollouts``.
        recorded: per vector step, ``(features (n_envs, D), learned reward (n_envs,))`` as the wrapper gave them
            (:attr:`~rlhf_robotics.robotics.reward_wrapper.LearnedRewardVecEnv.recording`), one per buffer row.
        reward_fn: the new per-step reward.
        normalizer: the ``VecNormalize`` between the wrapper and the agent, or None.
        last_values: ``collect_rollouts``' value of the observation after the last step.
        dones: whether that last step ended its episode.

    Returns:
        The new learned rewards, ``(n_steps, n_envs)``, before normalisation.
    """
    if len(recorded) != buffer.buffer_size:
        raise ValueError(f"relabel_rollout: {len(recorded)} recorded steps for a rollout of {buffer.buffer_size}; "
                         "recording must start with the rollout")
    features = np.stack([f for f, _ in recorded])  # (n_steps, n_envs, D)
    old = np.stack([r for _, r in recorded]).astype(np.float32)
    new = np.asarray(reward_fn(features.reshape(-1, features.shape[-1])), dtype=np.float32).reshape(old.shape)

    def norm(r: np.ndarray) -> np.ndarray:
        return normalizer.normalize_reward(r) if normalizer is not None and normalizer.norm_reward else r

    buffer.rewards += norm(new) - norm(old)
    buffer.compute_returns_and_advantage(last_values=last_values, dones=dones)
    return new
