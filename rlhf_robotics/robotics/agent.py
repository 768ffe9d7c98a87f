"""The agent stage: any SB3 algorithm (``algo=ppo|sac|td3``) acting on the loop's env stack.

It learns on the installed learned reward, collects rollouts without learning (the initial policy's, and a resumed
run's refill), relabels an off-policy replay buffer after each reward update, performs PEBBLE's hand-over, and saves
and loads itself. The loop never touches the SB3 object directly, so a test can put a small fake in its place.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback, CallbackList
from stable_baselines3.common.logger import configure as configure_logger
from stable_baselines3.common.running_mean_std import RunningMeanStd
from stable_baselines3.common.vec_env import VecEnv, VecNormalize, unwrap_vec_normalize, unwrap_vec_wrapper

from rlhf_robotics.robotics.config import ExperimentConfig
from rlhf_robotics.robotics.exploration import reset_critic, reset_value
from rlhf_robotics.robotics.policy import (
    ALGORITHMS,
    CurveCallback,
    PhaseTimer,
    is_off_policy,
    make_agent,
    progress_bar,
)
from rlhf_robotics.robotics.relabel import relabel_replay_buffer, relabel_rollout
from rlhf_robotics.robotics.reward_wrapper import LearnedRewardVecEnv, RewardFn


class BeforeRollout(BaseCallback):
    """Calls ``hook(n)`` before each rollout, ``n`` the env steps taken since learning started."""

    def __init__(self, hook: Callable[[int], None]) -> None:
        super().__init__()
        self.hook = hook
        self._start = 0

    def _on_training_start(self) -> None:
        self._start = self.model.num_timesteps

    def _on_rollout_start(self) -> None:
        self.hook(self.model.num_timesteps - self._start)

    def _on_step(self) -> bool:
        return True


class RelabelAfterRollout(BaseCallback):
    """Calls ``hook(n)`` after each PPO rollout is collected and before the policy learns from it, ``n`` the env steps
    taken since learning started (this rollout's included). When ``hook`` returns a reward function (it has just
    installed a refit), the rollout is relabelled with it (:func:`~rlhf_robotics.robotics.relabel.relabel_rollout`)
    and recording stops: after that every step is collected under the new reward anyway.

    Args:
        hook: what runs at each rollout's end; returns the new reward or None.
        reward_env: the learned-reward wrapper that records each step's features and reward.
        normalizer: the ``VecNormalize`` above it (None without one).
    """

    def __init__(self, hook: Callable[[int], RewardFn | None], reward_env: LearnedRewardVecEnv,
                 normalizer: VecNormalize | None) -> None:
        super().__init__()
        self.hook, self.reward_env, self.normalizer = hook, reward_env, normalizer
        self._start = 0
        self._done = False

    def _on_training_start(self) -> None:
        self._start = self.model.num_timesteps
        self._done = False

    def _on_rollout_start(self) -> None:
        self.reward_env.recording = None if self._done else []

    def _on_rollout_end(self) -> None:
        recorded, self.reward_env.recording = self.reward_env.recording, None
        if self._done or recorded is None:
            return
        reward = self.hook(self.model.num_timesteps - self._start)
        if reward is not None:
            relabel_rollout(self.model.rollout_buffer, recorded, reward,  # type: ignore[attr-defined]
                            self.normalizer, self.locals["values"], self.locals["dones"])
            self._done = True

    def _on_training_end(self) -> None:
        self.reward_env.recording = None

    def _on_step(self) -> bool:
        return True


class DeferredReward(BaseCallback):
    """PPO: each rollout's learned rewards computed after the rollout, bit for bit what the env stack would have given.

    At a rollout's start the learned-reward wrapper defers its reward (:meth:`LearnedRewardVecEnv.defer`: only a
    reward of a step's features alone) and the ``VecNormalize`` above it stops updating its return statistics; at
    the rollout's end (before any other callback's) the wrapper computes the rewards step by step, the
    normalisation's return statistics are replayed step by step with them, each stored reward gets its normalised
    learned reward added (the buffer holds only SB3's time-limit bootstrap γ·V until then: the sum is the one
    ``collect_rollouts`` would have formed) and GAE is rerun. Saves ~3/4 of the reward's cost on the hot path
    (``LearnedRewardVecEnv.defer`` says why).

    Args:
        reward_env: the learned-reward wrapper.
        normalizer: the ``VecNormalize`` directly above it, or None when the agent acts on the wrapper itself.
    """

    def __init__(self, reward_env: LearnedRewardVecEnv, normalizer: VecNormalize | None) -> None:
        super().__init__()
        self.reward_env, self.normalizer = reward_env, normalizer
        self._returns: np.ndarray | None = None
        self._training = False

    def _on_rollout_start(self) -> None:
        if not self.reward_env.defer():
            return
        if self.normalizer is not None:
            self._returns, self._training = self.normalizer.returns.copy(), self.normalizer.training
            self.normalizer._update_reward = _keep_return_statistics  # type: ignore[method-assign]

    def _on_rollout_end(self) -> None:
        self._settle(whole_rollout=True)

    def _settle(self, whole_rollout: bool) -> None:
        if not self.reward_env.deferring:
            return
        rewards, dones = self.reward_env.settle()
        norm = self.normalizer
        if norm is not None:  # VecNormalize.step_wait's reward part, step by step
            del norm._update_reward  # the class's method again
            assert self._returns is not None
            norm.returns = self._returns
            if len(rewards):  # what get_original_reward() returns after the rollout's last step
                norm.old_reward = rewards[-1].copy()
            for t in range(len(rewards)):
                if self._training:
                    norm._update_reward(rewards[t])
                rewards[t] = norm.normalize_reward(rewards[t])
                norm.returns[dones[t]] = 0
        buffer = self.model.rollout_buffer  # type: ignore[attr-defined]
        buffer.rewards[: len(rewards)] += rewards
        if whole_rollout:
            buffer.compute_returns_and_advantage(last_values=self.locals["values"], dones=self.locals["dones"])

    def _on_training_end(self) -> None:
        self._settle(whole_rollout=False)  # learning stopped inside a rollout (a callback returned False)

    def _on_step(self) -> bool:
        return True


def _keep_return_statistics(reward: np.ndarray) -> None:
    """Stands in for ``VecNormalize._update_reward`` while a rollout's rewards are deferred."""


class Agent:
    """One SB3 algorithm on ``venv`` (the learned-reward env stack), with the loop's timing and learning curve.

    Args:
        config: the experiment (``algo``, ``ppo``/``off_policy``, ``pretrain``).
        venv: the env stack the policy acts in (normalisation on top of the learned-reward wrapper).
        device: where the networks live.
        timer: the loop's phase timer (``policy_learn``, ``relabel``).
        log_dir: TensorBoard directory.
        pretrain: start with PEBBLE's state-entropy replay buffer (off-policy; PPO's reward is swapped in the env
            stack instead).
        progress: show a progress bar while learning.
    """

    def __init__(self, config: ExperimentConfig, venv: VecEnv, device: str, timer: PhaseTimer, log_dir: Path,
                 pretrain: bool = False, progress: bool = True) -> None:
        self.config, self.venv, self.device, self.timer = config, venv, device, timer
        self.log_dir, self.progress = log_dir, progress
        self.model: BaseAlgorithm = make_agent(config, venv, config.seed, device, pretrain=pretrain)
        self.model.set_logger(configure_logger(str(log_dir), ["tensorboard"]))
        self.curve: list[dict[str, float]] = []
        """Learning-curve points (env steps, recent true and learned returns)."""
        # one point per PPO rollout; one per 1,000 steps of an off-policy agent (whose "rollout" is a single step)
        self.curve_interval = 1000 if is_off_policy(config) else 0

    @property
    def num_timesteps(self) -> int:
        return int(self.model.num_timesteps)

    def learn(self, steps: int, desc: str, before_rollout: Callable[[int], None] | None = None,
              after_rollout: Callable[[int], RewardFn | None] | None = None) -> None:
        """Learn for ``steps`` env steps on the installed reward, continuing the step count; ``before_rollout(n)``,
        when given, runs before each rollout with ``n`` the env steps this call has taken so far (it may install a
        new reward: the rollout then collects under it). ``after_rollout(n)`` (PPO) runs after each rollout is
        collected, before the policy learns from it; a reward it returns relabels that rollout
        (:class:`RelabelAfterRollout`)."""
        with self.timer("policy_learn"), progress_bar(steps, desc, self.progress) as bar:
            # called in this order at each rollout's start and end: a new reward first, the deferred rewards computed
            # before a relabelling refit takes over, the learning curve last
            callbacks: list[BaseCallback] = [] if before_rollout is None else [BeforeRollout(before_rollout)]
            reward_env = unwrap_vec_wrapper(self.venv, LearnedRewardVecEnv)
            if (deferred := self.deferred_reward(reward_env)) is not None:
                callbacks.append(deferred)
            if after_rollout is not None:
                if is_off_policy(self.config):
                    raise ValueError("relabelling a rollout before the update is PPO's; off-policy agents relabel "
                                     "their replay buffer (off_policy.relabel)")
                if not isinstance(reward_env, LearnedRewardVecEnv):
                    raise TypeError(f"no LearnedRewardVecEnv inside {type(self.venv).__name__}: nothing records the "
                                    "rollout's steps to relabel")
                callbacks.append(RelabelAfterRollout(after_rollout, reward_env, unwrap_vec_normalize(self.venv)))
            callbacks.append(CurveCallback(self.curve, bar, self.curve_interval))
            callback = callbacks[0] if len(callbacks) == 1 else CallbackList(callbacks)
            self.model.learn(steps, reset_num_timesteps=False, callback=callback, progress_bar=False)

    defer_reward = True
    """PPO computes each rollout's learned rewards after the rollout (:class:`DeferredReward`; the same run, faster)."""

    def deferred_reward(self, reward_env: VecEnv | None) -> DeferredReward | None:
        """The :class:`DeferredReward` callback for PPO on the loop's env stack: the wrapper itself, or a
        ``VecNormalize`` directly on it (another wrapper between them could change the rewards); else None."""
        if not self.defer_reward or is_off_policy(self.config) or not isinstance(reward_env, LearnedRewardVecEnv):
            return None
        if self.venv is reward_env:
            return DeferredReward(reward_env, None)
        if isinstance(self.venv, VecNormalize) and self.venv.venv is reward_env:
            return DeferredReward(reward_env, self.venv)
        return None

    def collect(self, steps: int) -> None:
        """Act for ``steps`` env steps (all envs together) without learning; the wrapper records them."""
        obs = self.venv.reset()
        for _ in range(math.ceil(steps / self.venv.num_envs)):
            action, _ = self.model.predict(obs, deterministic=False)  # type: ignore[arg-type]
            obs, _, _, _ = self.venv.step(action)

    def relabel(self, reward: RewardFn) -> None:
        """Off-policy agents: give every transition in the replay buffer ``reward`` (PEBBLE); PPO: nothing to do."""
        buffer = getattr(self.model, "replay_buffer", None)
        if buffer is None or not self.config.off_policy.relabel:
            return
        with self.timer("relabel"):
            relabel_replay_buffer(buffer, reward, self.venv.action_space)

    def end_pretraining(self) -> None:
        """From now on the replay buffer serves the learned (relabelled) rewards, not the state-entropy one (PPO:
        nothing here; the loop installs the learned reward in the env stack)."""
        if is_off_policy(self.config):
            self.model.replay_buffer.intrinsic = False  # type: ignore[attr-defined]

    def hand_over(self) -> None:
        """PEBBLE's hand-over after pre-training: reset the critic (its values estimate the exploration reward) and
        take ``pretrain.reset_updates`` gradient steps on the relabelled buffer. PPO: re-initialise the value
        function and restart the return statistics of its reward normalisation (they measured the exploration
        reward's returns, and being cumulative would scale the learned reward by them for a long while)."""
        if not is_off_policy(self.config):
            reset_value(self.model)
            if isinstance(self.venv, VecNormalize) and self.venv.norm_reward:
                self.venv.ret_rms = RunningMeanStd(shape=())
                self.venv.returns = np.zeros(self.venv.num_envs)
            return
        with self.timer("policy_learn"):
            reset_critic(self.model)
            if self.config.pretrain.reset_updates:
                self.model.train(gradient_steps=self.config.pretrain.reset_updates,  # type: ignore[attr-defined]
                                 batch_size=self.config.off_policy.batch_size)

    def record(self, row: dict[str, Any]) -> None:
        """Numbers of ``row`` to TensorBoard at the current step."""
        for key, value in row.items():
            if isinstance(value, (int, float)) and key not in ("round", "step"):
                self.model.logger.record(key, value)
        self.model.logger.dump(self.num_timesteps)

    def save(self, directory: Path) -> None:
        self.model.save(directory / "policy.zip")

    def load(self, directory: Path, num_timesteps: int, curve: list[dict[str, float]]) -> None:
        """Replace the agent by the one saved in ``directory``.

        The replay buffer of an off-policy agent is not checkpointed (a million transitions of a 17-dim task are
        ~0.3 GB per round); a resumed SAC/TD3 run refills it from the restored policy's steps and keeps learning."""
        self.model = ALGORITHMS[self.config.algo].load(directory / "policy.zip", env=self.venv, device=self.device)
        if hasattr(getattr(self.model, "replay_buffer", None), "intrinsic"):
            self.end_pretraining()  # pre-training ended before any checkpoint
        self.model.set_logger(configure_logger(str(self.log_dir), ["tensorboard"]))
        self.model.num_timesteps = num_timesteps
        self.curve = curve

