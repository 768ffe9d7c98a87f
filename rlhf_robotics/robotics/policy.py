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
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.running_mean_std import RunningMeanStd
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv, VecNormalize

from rlhf_robotics.robotics.config import ExperimentConfig, PPOConfig
from rlhf_robotics.robotics.physics import make_env


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


class TimedReward:
    """Wraps the wrapper's reward function to measure reward-inference time on the hot path."""

    def __init__(self, fn: Callable[[np.ndarray], np.ndarray], timer: PhaseTimer) -> None:
        self.fn, self.timer = fn, timer

    def __call__(self, x: np.ndarray) -> np.ndarray:
        start = time.perf_counter()
        out = self.fn(x)
        self.timer.seconds["reward_inference"] += time.perf_counter() - start
        return out


class CurveCallback(BaseCallback):
    """Records (env steps, mean true return, mean learned return) of recent episodes after each rollout, logs
    them under ``policy/…`` for TensorBoard, and advances a progress bar."""

    def __init__(self, curve: list[dict[str, float]], progress: Any = None) -> None:
        super().__init__()
        self.curve, self.progress = curve, progress
        self._last = 0

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
        if not episodes:
            return
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


def normalize(venv: VecEnv, ppo: PPOConfig) -> VecEnv:
    if ppo.normalize_obs or ppo.normalize_reward:
        return VecNormalize(venv, norm_obs=ppo.normalize_obs, norm_reward=ppo.normalize_reward, gamma=ppo.gamma)
    return venv


def obs_rms(venv: VecEnv) -> RunningMeanStd | None:
    return venv.obs_rms if isinstance(venv, VecNormalize) and venv.norm_obs else None  # type: ignore[return-value]
