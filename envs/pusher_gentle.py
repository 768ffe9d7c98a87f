"""``rlhf_robotics/PusherGentle-v0``: the Pusher arm moves the object to the goal without striking it."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import utils
from gymnasium.envs.mujoco.pusher_v5 import PusherEnv
from rlhf_robotics.envs.physics import actuator_power

DEFAULT_CAMERA_CONFIG: dict[str, Any] = {
    "distance": 1.8, "elevation": -50.0, "azimuth": 180.0, "lookat": np.array([0.2, -0.3, -0.3]),
}
"""Clips show the whole arm, object and goal (the v5 default camera is far away)."""


class PusherGentleEnv(PusherEnv):
    """Pusher-v5 rewarded for pushing the object to the goal gently: object speed above ``gentle_speed`` is
    penalised, so a strike that sends the object sliding scores worse than a steady push.

    ## Action space
    As Pusher-v5: ``Box(-2, 2, (7,))`` torques on the seven arm joints.

    ## Observation space
    As Pusher-v5: ``Box(-inf, inf, (23,))`` = 7 joint angles, 7 joint velocities, fingertip, object and goal
    positions (x, y, z each).

    ## Hidden objective (per step; every term is in ``info`` and they sum to the reward)
    | term | value |
    |---|---|
    | ``reward_near`` | -``reward_near_weight`` · ‖fingertip − object‖ (m) |
    | ``reward_dist`` | -``reward_dist_weight`` · ‖object − goal‖ (m) |
    | ``reward_gentle`` | -``impact_cost_weight`` · max(0, object speed − ``gentle_speed``) (m/s) |
    | ``reward_ctrl`` | -``reward_control_weight`` · ‖a‖² |

    ## Rubric terms (raw physics, in ``info``)
    ``tip_object_distance``, ``object_goal_distance`` (m), ``object_speed`` (m/s), ``actuator_power`` (Σ|τ·q̇|).

    ## Verifier
    ``info["is_success"]`` is true while the object is within ``success_distance`` of the goal and its speed has
    never exceeded ``success_max_speed`` in the episode. Read it on the episode's last step.

    ## Starting state and episode end
    As Pusher-v5 (arm at rest, object placed at random at least 0.17 m from the goal at the origin). No
    termination; the registered time limit is 100 steps (5 s).

    ## Version history
    - v0: first version.
    """

    def __init__(
        self,
        reward_near_weight: float = 0.5,
        reward_dist_weight: float = 1.0,
        impact_cost_weight: float = 2.0,
        reward_control_weight: float = 0.1,
        gentle_speed: float = 0.2,
        success_distance: float = 0.08,
        success_max_speed: float = 0.5,
        default_camera_config: dict[str, Any] = DEFAULT_CAMERA_CONFIG,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            reward_near_weight=reward_near_weight, reward_dist_weight=reward_dist_weight,
            reward_control_weight=reward_control_weight, default_camera_config=default_camera_config, **kwargs,
        )
        utils.EzPickle.__init__(
            self, reward_near_weight, reward_dist_weight, impact_cost_weight, reward_control_weight,
            gentle_speed, success_distance, success_max_speed, default_camera_config, **kwargs,
        )
        self._impact_cost_weight = impact_cost_weight
        self._gentle_speed = gentle_speed
        self._success_distance = success_distance
        self._success_max_speed = success_max_speed
        self._peak_speed = 0.0

    def reset_model(self) -> np.ndarray:
        observation = super().reset_model()
        self._peak_speed = 0.0
        return observation

    def step(  # type: ignore[override]  # info also holds bools; MujocoEnv's stub says float64 only
        self, action: np.ndarray
    ) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        self.do_simulation(action, self.frame_skip)
        observation = self._get_obs()

        tip_object = float(np.linalg.norm(self.get_body_com("object") - self.get_body_com("tips_arm")))
        object_goal = float(np.linalg.norm(self.get_body_com("object") - self.get_body_com("goal")))
        object_speed = float(np.linalg.norm(self.data.qvel[-4:-2]))  # obj_slidey, obj_slidex
        self._peak_speed = max(self._peak_speed, object_speed)

        terms = {
            "reward_near": -self._reward_near_weight * tip_object,
            "reward_dist": -self._reward_dist_weight * object_goal,
            "reward_gentle": -self._impact_cost_weight * max(0.0, object_speed - self._gentle_speed),
            "reward_ctrl": -self._reward_control_weight * float(np.sum(np.square(action))),
        }
        reward = float(sum(terms.values()))
        success = object_goal <= self._success_distance and self._peak_speed <= self._success_max_speed
        info: dict[str, Any] = {
            **terms,
            "tip_object_distance": tip_object,
            "object_goal_distance": object_goal,
            "object_speed": object_speed,
            "actuator_power": actuator_power(self.data),
            "is_success": bool(success),
        }
        if self.render_mode == "human":
            self.render()
        return observation, reward, False, False, info
