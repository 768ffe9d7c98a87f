"""The rlhf_robotics environment suite: MuJoCo tasks that are hard to specify and easy to judge.

Importing ``rlhf_robotics.envs`` registers every task with Gymnasium under the ``rlhf_robotics/`` namespace::

    import gymnasium as gym
    import rlhf_robotics.envs  # noqa: F401  (registers the tasks)

    env = gym.make("rlhf_robotics/HopperBackflip-v4")

Each task subclasses a Gymnasium MuJoCo v5 environment; its class docstring is the spec. Every step's ``info``
holds the hidden objective's terms (``reward_*``, summing to the reward), raw physics rubric terms and the
episode verifier ``is_success``. ``physics_rubric(env_id)`` is the task's named rubric over those terms and
``make_christiano(env_id)`` gives any task the fixed-horizon, no-control-cost setup of Christiano et al. (2017).
"""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
from rlhf_robotics.envs.christiano import ChristianoStyle, make_christiano
from rlhf_robotics.envs.dmc import DMC_TASKS, dmc_id, register_dmc
from rlhf_robotics.envs.metaworld_tasks import MW_TASKS, mw_id, register_metaworld
from rlhf_robotics.envs.rubrics import TermSum, physics_rubric, segment_items, step_scores

NAMESPACE = "rlhf_robotics"


@dataclass(frozen=True)
class TaskSpec:
    """One suite task as registered."""

    name: str
    """Id without the namespace, ``<Name>-v<N>``."""
    entry_point: str
    """``module:Class`` of the environment."""
    max_episode_steps: int
    """Time limit owned by the registration (steps)."""
    summary: str
    """One line for listings and the gallery."""

    @property
    def id(self) -> str:
        return f"{NAMESPACE}/{self.name}"


TASKS: tuple[TaskSpec, ...] = (
    TaskSpec("HopperBackflip-v4", "rlhf_robotics.envs.hopper_backflip:HopperBackflipEnv", 300,
             "Hopper jumps and turns a backward somersault"),
    TaskSpec("HalfCheetahOneLeg-v3", "rlhf_robotics.envs.half_cheetah_one_leg:HalfCheetahOneLegEnv", 1000,
             "HalfCheetah runs forward with its front leg in the air"),
    TaskSpec("Walker2dGracefulWalk-v0", "rlhf_robotics.envs.walker2d_graceful:Walker2dGracefulWalkEnv", 1000,
             "Walker2d walks at a steady pace, torso upright, smooth joints"),
    TaskSpec("AntUprightWalk-v0", "rlhf_robotics.envs.ant_upright:AntUprightWalkEnv", 1000,
             "Ant walks forward with a level torso and a smooth gait"),
    TaskSpec("ReacherSmooth-v3", "rlhf_robotics.envs.reacher_smooth:ReacherSmoothEnv", 100,
             "Reacher reaches the target along a low-jerk path"),
    TaskSpec("PusherGentle-v2", "rlhf_robotics.envs.pusher_gentle:PusherGentleEnv", 100,
             "Pusher moves the object to the goal without striking it"),
)
"""Every task of the suite, in gallery order."""

TASK_IDS: tuple[str, ...] = tuple(t.id for t in TASKS)

@dataclass(frozen=True)
class EarlierVersion:
    """A superseded id, still registered so that earlier runs reproduce."""

    current: str
    """The id (without the namespace) that replaced it; its entry point builds both."""
    kwargs: dict[str, object]
    """Constructor kwargs that give the old behaviour."""
    max_episode_steps: int | None = None
    """Its time limit (steps) where it differs from the current version's."""


_BACKFLIP_V3: dict[str, object] = {"landing_observed": False}
_BACKFLIP_V2: dict[str, object] = {**_BACKFLIP_V3, "over_rotation_cost_weight": 0.0, "torso_angle_cos_sin": False}
_BACKFLIP_V1: dict[str, object] = {**_BACKFLIP_V2, "flip_allowance": False, "landing_reward": 20.0}

EARLIER_VERSIONS: dict[str, EarlierVersion] = {
    "HopperBackflip-v3": EarlierVersion("HopperBackflip-v4", _BACKFLIP_V3),
    "HopperBackflip-v2": EarlierVersion("HopperBackflip-v4", _BACKFLIP_V2),
    "HopperBackflip-v1": EarlierVersion("HopperBackflip-v4", _BACKFLIP_V1),
    "HopperBackflip-v0": EarlierVersion("HopperBackflip-v4", {**_BACKFLIP_V1, "markovian_objective": False}),
    "ReacherSmooth-v2": EarlierVersion("ReacherSmooth-v3", {"success_jerk_per_metre": 0.0}),
    "ReacherSmooth-v1": EarlierVersion("ReacherSmooth-v3", {"observe_distance": False, "success_jerk_per_metre": 0.0}),
    "ReacherSmooth-v0": EarlierVersion("ReacherSmooth-v3", {"reward_dist_weight": 1.0, "jerk_cost_weight": 1e-3,
                                                            "reach_bonus": 0.0, "success_mean_jerk": 100.0,
                                                            "success_jerk_per_metre": 0.0,
                                                            "observe_tip_motion": False, "observe_distance": False},
                                       max_episode_steps=50),
    "HalfCheetahOneLeg-v2": EarlierVersion("HalfCheetahOneLeg-v3", {"upside_down_cost": 0.0}),
    "HalfCheetahOneLeg-v1": EarlierVersion("HalfCheetahOneLeg-v3", {"upside_down_cost": 0.0, "pitch_cos_sin": False}),
    "HalfCheetahOneLeg-v0": EarlierVersion("HalfCheetahOneLeg-v3", {"upside_down_cost": 0.0, "pitch_cos_sin": False,
                                                                    "success_body_contact_fraction": 0.0}),
    "PusherGentle-v1": EarlierVersion("PusherGentle-v2", {"observe_distances": False}),
    "PusherGentle-v0": EarlierVersion("PusherGentle-v2", {"planar_distance": False, "observe_object_velocity": False,
                                                          "observe_distances": False}),
}
"""Superseded ids (without the namespace) → what reproduces them. Each task's version history says what changed."""


def register_tasks() -> None:
    """Register every task and its earlier versions (idempotent: ids already registered are left alone)."""
    for task in TASKS:
        if task.id not in gym.registry:
            gym.register(id=task.id, entry_point=task.entry_point, max_episode_steps=task.max_episode_steps)
    current = {t.name: t for t in TASKS}
    for name, old in EARLIER_VERSIONS.items():
        if f"{NAMESPACE}/{name}" not in gym.registry:
            task = current[old.current]
            gym.register(id=f"{NAMESPACE}/{name}", entry_point=task.entry_point,
                         max_episode_steps=old.max_episode_steps or task.max_episode_steps, kwargs=dict(old.kwargs))


def missing_extra(env_id: str) -> str | None:
    """The install line for a registered task whose optional dependency is missing, else None."""
    import importlib.util

    for prefix, module, what in ((f"{NAMESPACE}/dmc-", "dm_control", "dm-control"), (f"{NAMESPACE}/mw-", "metaworld", "Meta-World")):
        if env_id.startswith(prefix) and importlib.util.find_spec(module) is None:
            return (f"{env_id} needs {what}: pip install 'rlhf_robotics[suites]' (MuJoCo 3.3.0 with dm-control 1.0.28 "
                    "and metaworld 3.1.1, in a virtual environment of its own; see README 'Methods')")
    return None


register_tasks()
register_dmc()  # DeepMind Control Suite ids; dm-control (the 'suites' extra) is imported only when one is made
register_metaworld()  # Meta-World v3 ids; metaworld (the 'suites' extra) likewise

__all__ = [
    "NAMESPACE", "TASKS", "TASK_IDS", "EARLIER_VERSIONS", "EarlierVersion", "TaskSpec", "register_tasks", "make_christiano", "ChristianoStyle",
    "physics_rubric", "step_scores", "segment_items", "TermSum", "DMC_TASKS", "dmc_id", "register_dmc",
    "MW_TASKS", "mw_id", "register_metaworld", "missing_extra",
]
