"""``rlhf_robotics/PusherGentle-v2``: the Pusher arm moves the object to the goal without striking it.

``rlhf_robotics/PusherGentle-v1`` (``observe_distances=False``) and ``rlhf_robotics/PusherGentle-v0``
(``planar_distance=False, observe_object_velocity=False, observe_distances=False``) stay registered to reproduce
earlier runs."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import utils
from gymnasium.envs.mujoco.pusher_v5 import PusherEnv
from gymnasium.spaces import Box
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
    ``Box(-inf, inf, (27,))``:

    | index | observation |
    |---|---|
    | 0–22 | as Pusher-v5: 7 joint angles, 7 joint velocities, fingertip, object and goal positions (x, y, z each) |
    | 23–24 | the object's velocity on the table (x, y; m/s) |
    | 25 | ‖fingertip − object‖ (m; the near term's argument) |
    | 26 | ‖object − goal‖ on the table (m; the dist term's argument and the verifier's) |

    Indices 23–24 are the state the gentleness term reads and 25–26 the distances the near and dist terms read, so
    that the hidden objective is a function of what the policy and a reward model (one step's observation and
    action) see, and its distance terms linear ones. (v0 observed indices 0–22, v1 0–24.)

    ## Hidden objective (per step; every term is in ``info`` and they sum to the reward)
    | term | value |
    |---|---|
    | ``reward_near`` | -``reward_near_weight`` · ‖fingertip − object‖ (m) |
    | ``reward_dist`` | -``reward_dist_weight`` · ‖object − goal‖ on the table (x, y; m) |
    | ``reward_gentle`` | -``impact_cost_weight`` · max(0, object speed − ``gentle_speed``) (m/s) |
    | ``reward_ctrl`` | -``reward_control_weight`` · ‖a‖² |

    ## Rubric terms (raw physics, in ``info``)
    ``tip_object_distance``, ``object_goal_distance`` (m, on the table), ``object_speed`` (m/s),
    ``peak_object_speed`` (m/s, the episode's so far), ``actuator_power`` (Σ|τ·q̇|).

    ## Verifier
    ``info["is_success"]`` is true while the object's centre is within ``success_distance`` of the goal's on the
    table (0.08 m: the goal disc's radius) and the object's speed has never exceeded ``success_max_speed`` in the
    episode. Read it on the episode's last step.

    ## Starting state and episode end
    As Pusher-v5 (arm at rest, object placed at random at least 0.17 m from the goal at the origin). No
    termination; the registered time limit is 100 steps (5 s).

    ## Version history
    - v2 (issue 15, "taught by preferences"): observes the two distances of the objective (indices 25–26);
      nothing else changes (objective, verifier, horizon). Why: in v1 both are cones over observed positions (the
      fingertip's, the object's and the goal's, indices 14–22), with their apexes where the fingertip meets the
      object and the object the goal; the loop's reward model was fitted on clips in which the fingertip never
      came within 0.086 m of the object (benchmarks/NOTES.md, Dec 3) and on true-reward PPO's episodes it
      charged the arm poses that reach the object. ReacherSmooth-v2 made the same change for the same failure
      (its class docstring).
    - v1 (issue 15, "calibrated tasks"): a budget at which PPO passes the verifier. SB3 PPO on v0's objective
      (seed 0, 4 envs, the loop's settings, 2 M steps) passed at most 0.5 of the evaluation episodes (0.4 at
      0.5 M, 0.5 at 0.8–1.0 M, 0.1–0.3 elsewhere); at 1 M the median final object–goal distance was 0.085 m
      against ``success_distance`` 0.08 while the object's speed stayed gentle, so delivery, not gentleness, was
      the limit. v0 measured the distance between the bodies' centres, which sit 0.048 m apart in height, so its
      0.08 m asked for the object within 0.064 m of the goal on the table, less than the goal disc's 0.08 m
      radius, and its distance term flattened near the goal. v1 measures the distance on the table in the
      objective and the verifier (``planar_distance``) and observes the object's velocity, which the gentleness
      term reads (indices 23–24); the weights and the verifier's speed limit are v0's. Measured (PPO, seed 0,
      1 M steps, success of 10 evaluation episodes every 0.1 M): v1 as released 0.0 ×5, 0.1 0.2 0.2 0.6 0.7,
      final 0.4; its final policy on 20 episodes 0.45, every failure on distance (0.086–0.25 m) with the
      object's peak speed 0.05–0.10 m/s. The same with ``reward_dist_weight`` 3 and ``impact_cost_weight`` 6
      scored 0.0 at every checkpoint to 0.7 M, so the weights stay.
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
        planar_distance: bool = True,
        observe_object_velocity: bool = True,
        observe_distances: bool = True,
        default_camera_config: dict[str, Any] = DEFAULT_CAMERA_CONFIG,
        **kwargs: Any,
    ) -> None:
        """Args (beyond the reward weights and thresholds named in the class docstring):
            planar_distance: the object–goal distance measured on the table (x, y); False reproduces v0's
                distance between the bodies' centres, which are 0.048 m apart in height.
            observe_object_velocity: observation indices 23–24 (the object's velocity, which the gentleness term
                reads); False reproduces v0's 23-dim observation.
            observe_distances: the last two observation indices, ‖fingertip − object‖ and the object–goal distance
                (as the objective measures them); False reproduces v1's 25-dim observation.
        """
        for name, value in (("reward_near_weight", reward_near_weight), ("reward_dist_weight", reward_dist_weight),
                            ("impact_cost_weight", impact_cost_weight),
                            ("reward_control_weight", reward_control_weight), ("gentle_speed", gentle_speed),
                            ("success_distance", success_distance), ("success_max_speed", success_max_speed)):
            if value < 0:
                raise ValueError(f"{name}={value!r} must be >= 0 (weights, speeds and distances are magnitudes; "
                                 "the objective's terms carry their own signs)")
        super().__init__(
            reward_near_weight=reward_near_weight, reward_dist_weight=reward_dist_weight,
            reward_control_weight=reward_control_weight, default_camera_config=default_camera_config, **kwargs,
        )
        utils.EzPickle.__init__(
            self, reward_near_weight, reward_dist_weight, impact_cost_weight, reward_control_weight,
            gentle_speed, success_distance, success_max_speed, planar_distance, observe_object_velocity,
            observe_distances, default_camera_config, **kwargs,
        )
        self._impact_cost_weight = impact_cost_weight
        self._gentle_speed = gentle_speed
        self._success_distance = success_distance
        self._success_max_speed = success_max_speed
        self._planar = planar_distance
        self._observe_object_velocity = observe_object_velocity
        self._observe_distances = observe_distances
        self._peak_speed = 0.0
        size = 23 + 2 * observe_object_velocity + 2 * observe_distances
        if size != 23:
            self.observation_space = Box(low=-np.inf, high=np.inf, shape=(size,), dtype=np.float64)

    def _object_velocity(self) -> np.ndarray:
        """The object's velocity on the table (x, y; m/s)."""
        return np.array([self.data.qvel[-3], self.data.qvel[-4]])  # joints obj_slidey, obj_slidex

    def _distances(self) -> tuple[float, float]:
        """‖fingertip − object‖ and the object–goal distance (on the table with ``planar_distance``), in m."""
        tip_object = float(np.linalg.norm(self.get_body_com("object") - self.get_body_com("tips_arm")))
        offset = self.get_body_com("object") - self.get_body_com("goal")
        return tip_object, float(np.linalg.norm(offset[:2] if self._planar else offset))

    def _get_obs(self) -> np.ndarray:
        parts = [super()._get_obs()]
        if self._observe_object_velocity:
            parts.append(self._object_velocity())
        if self._observe_distances:
            parts.append(self._distances())
        return np.concatenate(parts)

    def reset_model(self) -> np.ndarray:
        observation = super().reset_model()
        self._peak_speed = 0.0
        return observation

    def step(  # type: ignore[override]  # info also holds bools; MujocoEnv's stub says float64 only
        self, action: np.ndarray
    ) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        self.do_simulation(action, self.frame_skip)
        observation = self._get_obs()

        tip_object, object_goal = self._distances()
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
            "peak_object_speed": self._peak_speed,
            "actuator_power": actuator_power(self.data),
            "is_success": bool(success),
        }
        if self.render_mode == "human":
            self.render()
        return observation, reward, False, False, info
