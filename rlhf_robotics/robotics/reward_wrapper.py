"""The SB3 ``VecEnvWrapper`` that makes the policy optimise the learned reward.

Each vector step replaces the environment's reward with the normalised ensemble mean, computed in one batched
call for all envs; the true reward stays in ``info["true_reward"]`` (and in the Monitor's episode returns
underneath), and every transition is recorded in a :class:`TransitionBuffer` for later segments. Works with
any SB3 algorithm; stack ``VecNormalize`` *on top* so the reward model sees raw observations.

The MuJoCo state of each step is read straight from the sub-envs' simulators when the vector env is a
``DummyVecEnv`` (after its auto-reset a finished env's simulator already holds the next episode's first state,
which is the state of the observation it returns). Other vector envs must put the state in ``info``
(:class:`~rlhf_robotics.robotics.physics.PhysicsStateInfo`); that costs a copy of two arrays per env per step
and DummyVecEnv's deep copy of every info, which is why the direct path exists.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper
from stable_baselines3.common.vec_env.base_vec_env import VecEnvObs, VecEnvStepReturn

from rlhf_robotics.robotics.buffer import TransitionBuffer
from rlhf_robotics.robotics.physics import fixture_vector

RewardFn = Callable[[np.ndarray], np.ndarray]
"""``(N, obs_dim + act_dim)`` step features → ``(N,)`` rewards."""


class LearnedRewardVecEnv(VecEnvWrapper):
    """Replace the reward by ``reward_fn(obs ⊕ action)``; keep the true one in ``info``.

    Args:
        venv: the vector env: a ``DummyVecEnv`` of MuJoCo tasks, or any vector env whose sub-envs put
            ``qpos``/``qvel`` in ``info`` (``PhysicsStateInfo``).
        reward_fn: the learned reward; ``None`` gives reward 0 until :meth:`set_reward_fn` is called.
        buffer: where transitions are recorded (``None`` = don't record; then any vector env works, MuJoCo or
            not, since no physics state is needed).
    """

    def __init__(self, venv: VecEnv, reward_fn: RewardFn | None = None, buffer: TransitionBuffer | None = None) -> None:
        super().__init__(venv)
        self.reward_fn = reward_fn
        self.buffer = buffer
        self._obs = np.zeros((self.num_envs,) + venv.observation_space.shape, np.float32)  # type: ignore[operator]
        self._qpos: np.ndarray | None = None
        self._qvel: np.ndarray | None = None
        self._actions: np.ndarray | None = None
        self._learned_return = np.zeros(self.num_envs)
        self.recording: list[tuple[np.ndarray, np.ndarray]] | None = None
        """While a list: every vector step appends its ``(features (n_envs, D), learned rewards (n_envs,))``, so that a
        PPO rollout can be given a newer reward before the policy learns from it (``reward_model.async_relabel``)."""
        self._pending: list[tuple[np.ndarray, np.ndarray, list[dict]]] | None = None
        """While deferring (:meth:`defer`): each step's ``(features, dones, infos)``, whose rewards :meth:`settle` computes."""
        envs = getattr(venv, "envs", None)  # DummyVecEnv, seen through any VecEnvWrapper
        datas: list[Any] = [getattr(e.unwrapped, "data", None) for e in envs] if envs is not None else []
        self._sims: list[Any] | None = datas if datas and all(hasattr(d, "qpos") for d in datas) else None
        # MjData.qpos builds a new array view on every access; the views stay valid for the data's life
        self._state_views = ([d.qpos for d in datas], [d.qvel for d in datas]) if self._sims is not None else ([], [])
        self._models: list[Any] = [getattr(e.unwrapped, "model", None) for e in envs] if envs is not None else []

    def _record_fixtures(self, envs: Any) -> None:
        """Tasks that place model parts per episode: keep each new episode's fixtures with its steps."""
        if self.buffer is None or not self.buffer.fixture_dim:
            return
        for i in envs:
            self.buffer.set_fixtures(int(i), fixture_vector(self._models[i]))

    def set_reward_fn(self, reward_fn: RewardFn | None) -> None:
        if self._pending:
            raise RuntimeError("set_reward_fn while steps wait for their reward: settle() them first")
        self.reward_fn = reward_fn

    def defer(self) -> bool:
        """Leave the reward of the coming steps to :meth:`settle` (they return reward 0 meanwhile) when the installed
        reward is a function of a step's features alone (``reward_fn.pure``); returns whether it does.

        PPO acts without looking at rewards, so a rollout's rewards can be computed after it: the same calls in the
        same order, without the policy's and MuJoCo's work between them, which is what makes each call ~4 times as
        costly on the hot path (an ensemble's three small matmuls: ~40 µs a 4-env step there, ~10 µs in a row).
        :class:`~rlhf_robotics.robotics.agent.DeferredReward` replays the reward normalisation above and patches
        the rollout buffer, so a run is bit for bit what it was without deferring."""
        if not getattr(self.reward_fn, "pure", False):
            return False
        self._pending = []
        return True

    @property
    def deferring(self) -> bool:
        return self._pending is not None

    def settle(self) -> tuple[np.ndarray, np.ndarray]:
        """The deferred steps' learned rewards, computed one vector step at a time as :meth:`step_wait` would have,
        with everything the wrapper does with them (episode learned returns, ``info["learned_reward"]``, the relabel
        recording); returns ``(rewards, dones)``, each ``(steps, n_envs)``. Deferring stops."""
        pending, self._pending = self._pending or [], None
        rewards = np.zeros((len(pending), self.num_envs), np.float32)
        dones = np.zeros((len(pending), self.num_envs), bool)
        for t, (features, done, infos) in enumerate(pending):
            rewards[t] = self._learned(features, done, infos)
            dones[t] = done
        return rewards, dones

    def _learned(self, features: np.ndarray, dones: np.ndarray, infos: list[dict]) -> np.ndarray:
        """One vector step's learned reward, added to the episodes' learned returns and noted in ``infos``."""
        learned = (self.reward_fn(features) if self.reward_fn is not None else np.zeros(self.num_envs)).astype(np.float32)
        self._learned_return += learned
        if self.recording is not None:
            self.recording.append((features, learned))
        for i, info in enumerate(infos):
            info["learned_reward"] = float(learned[i])
            if dones[i]:
                if "episode" in info:
                    info["episode"]["r_learned"] = float(self._learned_return[i])
                self._learned_return[i] = 0.0
        return learned

    def _states(self, infos: list[dict]) -> tuple[np.ndarray, np.ndarray]:
        if self._sims is not None:  # np.array of the views: the same copy as np.stack, at a third of its cost
            return np.array(self._state_views[0]), np.array(self._state_views[1])
        try:
            return np.stack([i["qpos"] for i in infos]), np.stack([i["qvel"] for i in infos])
        except KeyError:
            raise ValueError(
                "LearnedRewardVecEnv needs the MuJoCo state of every step: use a DummyVecEnv of MuJoCo tasks, or wrap "
                "each sub-env in rlhf_robotics.robotics.physics.PhysicsStateInfo"
            ) from None

    def reset(self) -> VecEnvObs:
        obs = self.venv.reset()
        self._obs = np.asarray(obs, dtype=np.float32).copy()
        if self.buffer is not None:
            self._qpos, self._qvel = self._states(self.venv.reset_infos)
            self._record_fixtures(range(self.num_envs))
        self._learned_return[:] = 0
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions, dtype=np.float32).reshape(self.num_envs, -1)
        self.venv.step_async(actions)

    def step_wait(self) -> VecEnvStepReturn:
        obs, true_reward, dones, infos = self.venv.step_wait()
        assert self._actions is not None, "step_wait called before step_async"
        features = np.concatenate([self._obs, self._actions], axis=1)
        if self._pending is not None:  # deferred: settle() computes it after the rollout
            learned = np.zeros(self.num_envs, np.float32)
            self._pending.append((features, dones, infos))
        else:
            learned = self._learned(features, dones, infos)
        if self.buffer is not None and self._qpos is not None and self._qvel is not None:
            self.buffer.add(self._obs, self._actions, true_reward, self._qpos, self._qvel, infos, dones)
            if self.buffer.fixture_dim and dones.any():  # auto-reset: the sub-env already holds the next episode
                self._record_fixtures(np.flatnonzero(dones))
        qpos, qvel = self._states(infos) if self.buffer is not None else (None, None)
        for i, info in enumerate(infos):
            info["true_reward"] = float(true_reward[i])
            if dones[i] and self._sims is None and qpos is not None and qvel is not None:
                # the obs returned for a finished env is already the next episode's first one
                qpos[i], qvel[i] = self.venv.reset_infos[i]["qpos"], self.venv.reset_infos[i]["qvel"]
        self._obs = np.array(obs, dtype=np.float32)
        self._qpos, self._qvel = qpos, qvel
        return obs, learned, dones, infos
