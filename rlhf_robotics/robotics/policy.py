"""The policy side of a run: device choice, vector envs, PPO construction, observation normalisation, the
curve/progress callback, and wall-time accounting per phase."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3 import PPO, SAC, TD3
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.noise import NormalActionNoise
from stable_baselines3.common.running_mean_std import RunningMeanStd
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv, VecNormalize

from rlhf_robotics.robotics.config import ExperimentConfig, PPOConfig
from rlhf_robotics.robotics.physics import check_env_id, make_env, missing_extra


def resolve_device(device: str) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} but no CUDA device is available; use device=auto or cpu")
    return device


@dataclass
class PhaseTimer:
    """Wall seconds spent per phase of the loop."""

    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))

    @contextmanager
    def __call__(self, phase: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[phase] += time.perf_counter() - start

    @contextmanager
    def within(self, outer: str, phase: str) -> Iterator[None]:
        """Time ``phase`` inside a running ``outer`` phase: its seconds count for ``phase`` and not for ``outer`` (a
        refit waited for in the middle of the policy's learning is reward training, not policy learning)."""
        start = time.perf_counter()
        try:
            yield
        finally:
            elapsed = time.perf_counter() - start
            self.seconds[phase] += elapsed
            self.seconds[outer] -= elapsed


class TimedReward:
    """Wraps the wrapper's reward function to measure reward-inference time on the hot path."""

    def __init__(self, fn: Callable[[np.ndarray], np.ndarray], timer: PhaseTimer) -> None:
        self.fn, self.timer = fn, timer

    def __call__(self, x: np.ndarray) -> np.ndarray:
        start = time.perf_counter()
        out = self.fn(x)
        self.timer.seconds["reward_inference"] += time.perf_counter() - start
        return out

    @property
    def pure(self) -> bool:
        """Whether the wrapped reward may be computed after the step (:meth:`LearnedRewardVecEnv.defer`)."""
        return bool(getattr(self.fn, "pure", False))


class CurveCallback(BaseCallback):
    """Records (env steps, mean true return, mean learned return) of recent episodes after each rollout, logs
    them under ``policy/…`` for TensorBoard, and advances a progress bar."""

    def __init__(self, curve: list[dict[str, float]], progress: Any = None, min_interval: int = 0) -> None:
        super().__init__()
        self.curve, self.progress = curve, progress
        self._last = 0
        self.min_interval = min_interval
        """Env steps between recorded points (an off-policy rollout is one step; PPO's is a whole rollout)."""
        self._recorded = -min_interval

    def _on_training_start(self) -> None:
        # ``learn(reset_num_timesteps=False)`` continues the step count: the bar counts this call's steps only
        self._last = self.model.num_timesteps

    def _on_step(self) -> bool:
        if self.progress is not None:
            self.progress.update(self.num_timesteps - self._last)
            self._last = self.num_timesteps
        return True

    def _on_rollout_end(self) -> None:
        episodes = list(self.model.ep_info_buffer or [])[-20:]
        if not episodes or self.num_timesteps - self._recorded < self.min_interval:
            return
        self._recorded = self.num_timesteps
        row = {"step": float(self.num_timesteps), "policy/return_true": float(np.mean([e["r"] for e in episodes]))}
        learned = [e["r_learned"] for e in episodes if "r_learned" in e]
        if learned:
            row["policy/return_learned"] = float(np.mean(learned))
        self.curve.append(row)
        for key, value in row.items():
            if key != "step":
                self.logger.record(key, value)


def progress_bar(total: int, desc: str, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="step", disable=not enabled, dynamic_ncols=True, leave=False)


def make_vec_env(config: ExperimentConfig, seed: int) -> VecEnv:
    """``n_envs`` monitored copies of the task in a ``DummyVecEnv``, nothing else: the plain-PPO baseline's env,
    and the loop's (whose reward wrapper reads the MuJoCo state from the simulators)."""
    e = config.env
    venv = DummyVecEnv([lambda: Monitor(make_env(e.id, e.kwargs, e.christiano)) for _ in range(e.n_envs)])
    venv.seed(seed)
    return venv


def make_ppo(ppo: PPOConfig, venv: VecEnv, seed: int, device: str) -> PPO:
    return PPO(
        "MlpPolicy", venv, n_steps=ppo.n_steps, batch_size=ppo.batch_size, n_epochs=ppo.n_epochs,
        learning_rate=ppo.learning_rate, gamma=ppo.gamma, gae_lambda=ppo.gae_lambda, clip_range=ppo.clip_range,
        ent_coef=ppo.ent_coef, seed=seed, device=device, verbose=0,
        policy_kwargs=dict(log_std_init=ppo.log_std_init, net_arch=dict(pi=list(ppo.net_arch), vf=list(ppo.net_arch))),
    )


ALGORITHMS: dict[str, type[BaseAlgorithm]] = {"ppo": PPO, "sac": SAC, "td3": TD3}
"""``algo`` → SB3 class (``load`` of a checkpoint goes through it)."""


def is_off_policy(config: ExperimentConfig) -> bool:
    return config.algo in ("sac", "td3")


def check_algorithm_fits(config: ExperimentConfig, action_space: spaces.Space) -> None:
    """Raise a ``ValueError`` naming ``algo`` and the task when the algorithm cannot act in ``action_space``."""
    if is_off_policy(config) and not isinstance(action_space, spaces.Box):
        raise ValueError(
            f"algo={config.algo} needs a continuous (Box) action space, but {config.env.id} has "
            f"{type(action_space).__name__}; use algo=ppo for discrete actions"
        )


def make_agent(config: ExperimentConfig, venv: VecEnv, seed: int, device: str, pretrain: bool = False) -> BaseAlgorithm:
    """The ``config.algo`` agent on ``venv``: PPO from ``config.ppo``, SAC/TD3 from ``config.off_policy``; with
    ``pretrain``, its replay buffer serves PEBBLE's state-entropy reward until switched off."""
    if config.algo == "ppo":
        return make_ppo(config.ppo, venv, seed, device)
    check_algorithm_fits(config, venv.action_space)
    o = config.off_policy
    kwargs: dict[str, Any] = dict(
        learning_rate=o.learning_rate, buffer_size=o.buffer_size, learning_starts=o.learning_starts,
        batch_size=o.batch_size, tau=o.tau, gamma=o.gamma, train_freq=o.train_freq, gradient_steps=o.gradient_steps,
        seed=seed, device=device, verbose=0, policy_kwargs=dict(net_arch=list(o.net_arch)),
    )
    if pretrain:
        from rlhf_robotics.robotics.exploration import StateEntropyReplayBuffer

        kwargs["replay_buffer_class"] = StateEntropyReplayBuffer
        kwargs["replay_buffer_kwargs"] = dict(k=config.pretrain.k, chunk_size=config.pretrain.chunk_size)
    if config.algo == "td3":
        n = int(np.prod(venv.action_space.shape))  # type: ignore[arg-type]
        kwargs["action_noise"] = NormalActionNoise(np.zeros(n), o.action_noise * np.ones(n))
        return TD3("MlpPolicy", venv, **kwargs)
    ent_coef: str | float = o.ent_coef if o.ent_coef.startswith("auto") else float(o.ent_coef)
    return SAC("MlpPolicy", venv, ent_coef=ent_coef, target_update_interval=o.target_update_interval, **kwargs)


def normalize_for(config: ExperimentConfig, venv: VecEnv) -> VecEnv:
    """``VecNormalize`` as the algorithm's settings ask: PPO's obs and return normalisation, or (off-policy)
    observations only — the learned reward is already scaled to std 1 and the buffer must hold raw rewards."""
    if config.algo == "ppo":
        return normalize(venv, config.ppo)
    if config.off_policy.normalize_obs:
        return VecNormalize(venv, norm_obs=True, norm_reward=False, gamma=config.off_policy.gamma)
    return venv


def normalize(venv: VecEnv, ppo: PPOConfig) -> VecEnv:
    if ppo.normalize_obs or ppo.normalize_reward:
        return VecNormalize(venv, norm_obs=ppo.normalize_obs, norm_reward=ppo.normalize_reward, gamma=ppo.gamma)
    return venv


def obs_rms(venv: VecEnv) -> RunningMeanStd | None:
    return venv.obs_rms if isinstance(venv, VecNormalize) and venv.norm_obs else None  # type: ignore[return-value]


def validate_experiment(config: ExperimentConfig) -> None:
    """Checks that need the task itself (its id, its action space against ``algo``); a ``ValueError`` names the
    setting. Run before anything is created."""
    check_env_id(config.env.id)
    if missing := missing_extra(config.env.id):  # a task from an extra that is not installed (DMC, Meta-World)
        raise ValueError(f"env.id={config.env.id}: {missing}")
    if is_off_policy(config):  # only then is the env made here (MuJoCo may write MUJOCO_LOG.TXT to the cwd)
        env = make_env(config.env.id, config.env.kwargs, config.env.christiano)
        try:
            check_algorithm_fits(config, env.action_space)
        finally:
            env.close()
