"""DeepMind Control Suite tasks as Gymnasium environments, for the tasks preference-based RL papers report on
(PEBBLE, SURF, RUNE, QPA, RIME: walker_walk, walker_run, cheetah_run, quadruped_walk, reacher_easy,
cartpole_swingup).

Registered as ``rlhf_robotics/dmc-<domain>-<task>-v0`` (e.g. ``rlhf_robotics/dmc-walker-walk-v0``); making one
needs the ``suites`` extra (``pip install 'rlhf_robotics[suites]'``: dm-control 1.0.28 with MuJoCo 3.3.0 —
dm-control 1.0.50 declares ``mujoco>=3.17`` but fails under MuJoCo 4.0).

Why our own adapter rather than shimmy's ``dm_control/...`` ids: the loop records each step's MuJoCo state from
``env.unwrapped.data`` and re-renders clips from ``env.unwrapped.model``, and the policy needs a flat observation;
this class is that, over ``dm_control.suite.load`` and nothing else:

============== =================================================================================================
observation    the task's observation dict flattened in the suite's own key order (float64 ``Box``)
action         the task's action spec as a ``Box`` (``[-1, 1]`` for every listed task)
reward         the suite's reward in ``[0, 1]`` per control step (``info["reward_dmc"]`` too)
termination    never; the suite's time limit (1,000 control steps) truncates the episode
state          ``unwrapped.model`` / ``unwrapped.data`` are the physics' ``MjModel`` / ``MjData`` (``qpos``, ``qvel``)
============== =================================================================================================

Re-rendering from stored ``qpos``/``qvel`` is exact where the task changes no model parameter per episode
(walker, cheetah, quadruped walk, cartpole); reacher's target is placed per episode by moving a geom in the model,
which the loop keeps with each segment (``rlhf_robotics.robotics.physics.moves_fixtures``) and applies to the clip.

Version history: v0 — first version (issue 12).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

DMC_TASKS: tuple[tuple[str, str], ...] = (
    ("walker", "walk"), ("walker", "run"), ("cheetah", "run"), ("quadruped", "walk"), ("reacher", "easy"),
    ("cartpole", "swingup"),
)
"""(domain, task) pairs registered by :func:`register_dmc`."""

MAX_EPISODE_STEPS = 1000


def dmc_id(domain: str, task: str) -> str:
    return f"rlhf_robotics/dmc-{domain}-{task}-v0"


class DMControlEnv(gym.Env):
    """One DeepMind Control Suite task (see the module docstring for its spaces, reward and state)."""

    metadata = {"render_modes": ["rgb_array"]}

    def __init__(self, domain: str, task: str, render_mode: str | None = None, width: int = 480, height: int = 480) -> None:
        try:
            from dm_control import suite
        except ImportError as err:
            raise ImportError(
                f"{dmc_id(domain, task)} needs dm-control: pip install 'rlhf_robotics[suites]' (dm-control 1.0.28 with "
                f"MuJoCo 3.3.0; see README 'Methods') — {err}"
            ) from None
        if (domain, task) not in suite.ALL_TASKS:
            raise ValueError(f"no DeepMind Control task {domain}-{task}; choose from {sorted(suite.ALL_TASKS)}")
        self.domain, self.task = domain, task
        self._env = suite.load(domain, task, task_kwargs={"random": 0})
        physics = self._env.physics
        self.model = physics.model.ptr
        self.data = physics.data.ptr
        self.dt = float(self._env.control_timestep())
        size = sum(int(np.prod(s.shape)) for s in self._env.observation_spec().values())
        self.observation_space = spaces.Box(-np.inf, np.inf, (size,), np.float64)
        a = self._env.action_spec()
        self.action_space = spaces.Box(a.minimum.astype(np.float32), a.maximum.astype(np.float32), dtype=np.float32)
        self.render_mode, self.width, self.height = render_mode, width, height

    @staticmethod
    def _flat(observation: dict[str, Any]) -> np.ndarray:
        return np.concatenate([np.asarray(v, dtype=np.float64).ravel() for v in observation.values()])

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        if seed is not None:  # the suite's tasks draw initial states from their own RandomState
            self._env.task._random = np.random.RandomState(seed)
        step = self._env.reset()
        return self._flat(step.observation), {}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        step = self._env.step(np.asarray(action, dtype=np.float64))
        reward = float(step.reward or 0.0)
        return self._flat(step.observation), reward, False, bool(step.last()), {"reward_dmc": reward}

    def render(self) -> np.ndarray:
        return np.asarray(self._env.physics.render(height=self.height, width=self.width, camera_id=0))

    def close(self) -> None:
        self._env.close()


def register_dmc() -> None:
    """Register every task of :data:`DMC_TASKS` (idempotent); dm-control is imported only when one is made."""
    for domain, task in DMC_TASKS:
        if dmc_id(domain, task) not in gym.registry:
            gym.register(id=dmc_id(domain, task), entry_point="rlhf_robotics.envs.dmc:DMControlEnv",
                         kwargs={"domain": domain, "task": task}, max_episode_steps=MAX_EPISODE_STEPS)
