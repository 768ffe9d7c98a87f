"""Environment construction for the loop: a Gymnasium wrapper that reports the MuJoCo state in ``info`` (so
segments can be re-rendered without re-running the policy), and the factory that builds one task instance.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import gymnasium as gym
import numpy as np

from rlhf_robotics.preference.rubric import Rubric


class PhysicsStateInfo(gym.Wrapper):
    """Adds ``info["qpos"]`` and ``info["qvel"]`` (copies of the MuJoCo state after reset or step).

    Works for any env whose ``unwrapped`` has a MuJoCo ``data`` attribute (every Gymnasium MuJoCo task).
    """

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        data = getattr(env.unwrapped, "data", None)
        if data is None or not hasattr(data, "qpos"):
            raise TypeError(
                f"{env.spec.id if env.spec else env} is not a MuJoCo environment (no unwrapped.data.qpos); "
                "the robotics loop needs MuJoCo tasks"
            )
        self._data = data

    def _state(self, info: dict[str, Any]) -> dict[str, Any]:
        info["qpos"] = self._data.qpos.copy()
        info["qvel"] = self._data.qvel.copy()
        return info

    def reset(self, **kwargs: Any):  # type: ignore[override]
        obs, info = self.env.reset(**kwargs)
        return obs, self._state(dict(info))

    def step(self, action):  # type: ignore[override]
        obs, reward, terminated, truncated, info = self.env.step(action)
        return obs, reward, terminated, truncated, self._state(info)


def check_env_id(env_id: str) -> None:
    """Raise a ``ValueError`` naming ``env_id`` and close matches if Gymnasium does not know it."""
    _import_suite()
    if env_id in gym.registry:
        return
    import difflib

    close = difflib.get_close_matches(env_id, list(gym.registry), n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    raise ValueError(
        f"unknown environment id {env_id!r}.{hint} Any Gymnasium MuJoCo task works, e.g. HalfCheetah-v5, "
        "Hopper-v5, Walker2d-v5, Swimmer-v5, Reacher-v5, Ant-v5, InvertedPendulum-v5, and the suite's own "
        "rlhf_robotics/... tasks"
    )


def missing_extra(env_id: str) -> str | None:
    """What to install for a suite task whose optional dependency is missing (the ``suites`` extra's DeepMind
    Control and Meta-World tasks), or None when ``env_id`` can be made."""
    _import_suite()
    try:
        from rlhf_robotics.envs import missing_extra as suite_missing_extra
    except ImportError:
        return None
    return suite_missing_extra(env_id)


def _import_suite() -> None:
    """Register the suite's own tasks (``rlhf_robotics/...``) if the package ships them."""
    try:
        import rlhf_robotics.envs  # noqa: F401
    except ImportError:
        pass


def make_env(env_id: str, kwargs: Mapping[str, Any] | None = None, christiano: bool = False) -> gym.Env:
    """``env_id`` with ``kwargs``, in Christiano et al.'s setup when asked (no physics-state wrapper)."""
    check_env_id(env_id)
    if christiano:
        from rlhf_robotics.envs import make_christiano

        return make_christiano(env_id, **dict(kwargs or {}))
    return gym.make(env_id, **dict(kwargs or {}))


def env_factory(env_id: str, kwargs: Mapping[str, Any] | None = None, christiano: bool = False) -> Callable[[], gym.Env]:
    """A thunk that builds the env (see :func:`make_env`) with the :class:`PhysicsStateInfo` wrapper."""
    check_env_id(env_id)
    return lambda: PhysicsStateInfo(make_env(env_id, kwargs, christiano))


def step_seconds(env_id: str, kwargs: Mapping[str, Any] | None = None) -> float:
    """Simulated seconds per environment step (``dt``)."""
    check_env_id(env_id)  # registers the suite's own ids first
    env = gym.make(env_id, **dict(kwargs or {}))
    try:
        return float(env.unwrapped.dt)  # type: ignore[attr-defined]
    finally:
        env.close()


def suite_rubric(env_id: str) -> Rubric | None:
    """The physics rubric of a suite task, or None for tasks without one."""
    _import_suite()
    try:
        from rlhf_robotics.envs import physics_rubric
    except ImportError:
        return None
    try:
        return physics_rubric(env_id)
    except ValueError:
        return None


def rubric_step_scores(rubric: Rubric | None, terms: Mapping[str, np.ndarray]) -> np.ndarray:
    """``(N, T)`` per-step rubric scores of segments (their ``terms``), for a synthetic rubric teacher."""
    from rlhf_robotics.envs import step_scores

    if rubric is None:
        raise ValueError("this task has no physics rubric")
    return step_scores(rubric, terms)


def episode_limit(env_id: str) -> int | None:
    """The registered time limit of ``env_id`` in steps, if any."""
    _import_suite()
    return gym.spec(env_id).max_episode_steps


def scalar_info_keys(info: Mapping[str, Any]) -> list[str]:
    """Keys of ``info`` holding finite scalars worth storing per step (reward terms, positions, rubric terms)."""
    skip = {"qpos", "qvel", "terminal_observation", "TimeLimit.truncated", "episode", "true_reward", "learned_reward"}
    return sorted(k for k, v in info.items() if k not in skip and np.isscalar(v) and isinstance(v, (int, float, np.number)) and not isinstance(v, bool))


FIXTURE_FIELDS = ("body_pos", "body_quat", "geom_pos", "site_pos")
"""Model arrays a task may change per episode (a target, a goal, a fixture the robot works on)."""


def moves_fixtures(env_id: str) -> bool:
    """Whether ``env_id`` places model parts per episode, so a clip re-rendered from ``qpos``/``qvel`` alone would show
    them at the model's default place: Meta-World (goal site, the box/drawer/door/window/nail bodies) and DMC reacher
    (its target geom). Their segments carry the episode's :func:`fixture_vector`."""
    return env_id.startswith("rlhf_robotics/mw-") or env_id.startswith("rlhf_robotics/dmc-reacher-")


def fixture_vector(model: Any) -> np.ndarray:
    """The :data:`FIXTURE_FIELDS` of an ``MjModel``, flattened into one float64 vector."""
    return np.concatenate([np.asarray(getattr(model, f), dtype=np.float64).ravel() for f in FIXTURE_FIELDS])


def apply_fixtures(model: Any, vector: np.ndarray) -> None:
    """Write a :func:`fixture_vector` back into ``model`` (same task; shapes are checked)."""
    vector = np.asarray(vector, dtype=np.float64)
    sizes = [getattr(model, f).size for f in FIXTURE_FIELDS]
    if vector.shape != (sum(sizes),):
        raise ValueError(f"fixture vector of shape {vector.shape} does not fit this model ({sum(sizes)} values)")
    start = 0
    for field, size in zip(FIXTURE_FIELDS, sizes):
        arr = getattr(model, field)
        arr[...] = vector[start:start + size].reshape(arr.shape)
        start += size
