"""The collector stage: the env stack every rollout goes through, and the transitions it records.

``n_envs`` copies of the task → :class:`LearnedRewardVecEnv` (the learned reward in, every transition with its
MuJoCo state into a :class:`TransitionBuffer`) → the algorithm's observation normalisation. Segments for queries,
the reward model's input statistics and the final reward-quality check are all cut from that buffer, so every
segment keeps the physics state its clip is re-rendered from.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
from stable_baselines3.common.running_mean_std import RunningMeanStd
from stable_baselines3.common.vec_env import VecEnv

from rlhf_robotics.robotics.buffer import TransitionBuffer
from rlhf_robotics.robotics.config import ExperimentConfig
from rlhf_robotics.robotics.physics import fixture_vector, moves_fixtures, scalar_info_keys
from rlhf_robotics.robotics.policy import make_vec_env, normalize_for, obs_rms
from rlhf_robotics.robotics.reward_wrapper import LearnedRewardVecEnv, RewardFn
from rlhf_robotics.robotics.segments import Segments


class Collector:
    """The env stack of one run and its transition buffer.

    Args:
        config: the experiment (``env``, ``labels.buffer_steps``, the algorithm's normalisation settings).
        segment_steps: steps per segment (the buffer keeps at least two segments' worth per env).
        dt: seconds per env step (stored with every segment for its clip).
    """

    def __init__(self, config: ExperimentConfig, segment_steps: int, dt: float) -> None:
        e = config.env
        self.env_id, self.segment_steps, self.dt = e.id, segment_steps, dt
        self.base_venv = make_vec_env(config, config.seed)
        probe = self.base_venv.envs[0]  # type: ignore[attr-defined]
        self.obs_dim = int(np.prod(self.base_venv.observation_space.shape))  # type: ignore[arg-type]
        self.act_dim = int(np.prod(self.base_venv.action_space.shape))  # type: ignore[arg-type]
        nq, nv = probe.unwrapped.model.nq, probe.unwrapped.model.nv
        probe.reset(seed=config.seed)
        probe_step = probe.step(probe.action_space.sample())[-1]
        capacity = max(config.labels.buffer_steps // e.n_envs, segment_steps * 2)
        fixture_dim = fixture_vector(probe.unwrapped.model).size if moves_fixtures(e.id) else 0
        self.buffer = TransitionBuffer(e.n_envs, capacity, self.obs_dim, self.act_dim, nq, nv, scalar_info_keys(probe_step),
                                       fixture_dim)
        self.reward_env = LearnedRewardVecEnv(self.base_venv, None, self.buffer)
        self.venv: VecEnv = normalize_for(config, self.reward_env)
        """What the agent acts in."""

    def install(self, reward: RewardFn | None) -> None:
        """Make ``reward`` the reward of every later step."""
        self.reward_env.set_reward_fn(reward)

    def segments(self, n: int, rng: np.random.Generator, id_prefix: str, recent_steps: int | None = None,
                 same_episode: float = 0.0, cover_episode_edges: bool = False) -> Segments:
        """``n`` random segments of the buffer's behaviour (only the last ``recent_steps`` env steps' if given;
        consecutive pairs from one episode with probability ``same_episode``; episodes' first and last steps cut as
        often as their middle ones with ``cover_episode_edges``), with their physics state."""
        return self.buffer.sample_segments(n, self.segment_steps, rng, id_prefix, self.env_id, self.dt, recent_steps,
                                           same_episode, cover_episode_edges)

    def steps(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``n`` random recorded steps: ``(features, true rewards)``."""
        return self.buffer.sample_steps(n, rng)

    @property
    def obs_rms(self) -> RunningMeanStd | None:
        """The observation statistics the policy sees through (None without observation normalisation)."""
        return obs_rms(self.venv)

    @contextmanager
    def frozen_statistics(self) -> Iterator[None]:
        """Steps taken inside leave the observation normalisation unchanged (a resumed run's refill)."""
        training = getattr(self.venv, "training", None)
        if training is not None:
            self.venv.training = False  # type: ignore[attr-defined]
        try:
            yield
        finally:
            if training is not None:
                self.venv.training = training  # type: ignore[attr-defined]

    def close(self) -> None:
        self.venv.close()
