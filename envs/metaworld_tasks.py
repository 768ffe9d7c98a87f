"""Meta-World v3 manipulation tasks (Yu et al. 2019) as the preference-based RL papers use them (PEBBLE, SURF,
RUNE, QPA: button-press, sweep-into, drawer-open, door-open, window-open, hammer).

Registered as ``rlhf_robotics/mw-<task>-v3`` (e.g. ``rlhf_robotics/mw-button-press-v3``); making one needs the
``suites`` extra (``pip install 'rlhf_robotics[suites]'``: metaworld 3.1.1, which pins MuJoCo 3.3.0). Each is
Meta-World's single-task ``MT1`` environment: a Sawyer arm, 39-dim observations, 4-dim actions in ``[-1, 1]``,
500-step episodes, a new object and goal placement from the task's 50 variations at every reset (as B-Pref does),
the same 50 in every process (Meta-World's benchmark seed :data:`VARIATIONS_SEED`), and ``reset(seed=s)`` picks and
places the same one every time,
``info["success"]`` the task's own success check. ``unwrapped`` is Gymnasium's ``MujocoEnv``, so steps are
recorded with their MuJoCo state and clips re-render from it.

Meta-World places the object and goal of each episode by moving bodies and sites in the model, which a stored
``qpos``/``qvel`` does not carry; the loop keeps each episode's placement with its segments
(``rlhf_robotics.robotics.physics.moves_fixtures``) and the renderer applies it, so clips show the button box, the
drawer's cabinet or the door's frame where they were. ``info["is_success"]`` mirrors Meta-World's
``info["success"]``, so summaries report the task's success rate like the suite's verifiers.

Version history: v3 — Meta-World's own v3 tasks, first registered here (issue 12). Since 2026-12-03 seeded: before,
the 50 variations were drawn afresh in each process and ``reset(seed=s)`` ignored ``s`` (Meta-World's ``reset``
does; its task pick drew from an unseeded generator), so an evaluation's episodes could not be repeated. The
dynamics, observations and rewards are unchanged, hence no new version.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym

MW_TASKS: tuple[str, ...] = ("button-press", "sweep-into", "drawer-open", "door-open", "window-open", "hammer")
"""Meta-World task names (without ``-v3``) registered by :func:`register_metaworld`."""

MAX_EPISODE_STEPS = 500

VARIATIONS_SEED = 0
"""Meta-World's benchmark seed: which 50 object and goal placements ``MT1`` makes for the task."""


def mw_id(task: str) -> str:
    return f"rlhf_robotics/mw-{task}-v3"


def make_metaworld(task: str, **kwargs: Any) -> gym.Env:
    """Meta-World's ``MT1`` environment of ``task`` (``button-press``, ...)."""
    try:
        import metaworld  # noqa: F401  (registers Meta-World/MT1)
    except ImportError as err:
        raise ImportError(
            f"{mw_id(task)} needs Meta-World: pip install 'rlhf_robotics[suites]' (metaworld 3.1.1 with MuJoCo 3.3.0) "
            f"— {err}"
        ) from None
    kwargs.setdefault("seed", VARIATIONS_SEED)
    return SuccessAsVerifier(gym.make("Meta-World/MT1", env_name=f"{task}-v3", **kwargs))


class SuccessAsVerifier(gym.Wrapper):
    """Adds ``info["is_success"]`` (the key every evaluation reads) from Meta-World's ``info["success"]``, and makes
    ``reset(seed=s)`` mean what Gymnasium says: Meta-World's own ``reset`` ignores the seed, and its wrapper picks the
    episode's variation from the environment's generator before that, so the generator is seeded here first."""

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> Any:
        if seed is not None:
            self.env.unwrapped.seed(seed)  # type: ignore[attr-defined]  # SawyerXYZEnv.seed: its np_random
        return self.env.reset(seed=seed, options=options)

    def step(self, action: Any) -> Any:
        obs, reward, terminated, truncated, info = self.env.step(action)
        info["is_success"] = bool(info.get("success", 0.0))
        return obs, reward, terminated, truncated, info


def register_metaworld() -> None:
    """Register every task of :data:`MW_TASKS` (idempotent); metaworld is imported only when one is made."""
    for task in MW_TASKS:
        if mw_id(task) not in gym.registry:
            gym.register(id=mw_id(task), entry_point="rlhf_robotics.envs.metaworld_tasks:make_metaworld",
                         kwargs={"task": task}, max_episode_steps=MAX_EPISODE_STEPS, disable_env_checker=True)
