"""``rlhf_robotics/ReacherSmooth-v0``: the Reacher brings its fingertip to the target along a smooth, low-jerk path."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import utils
from gymnasium.envs.mujoco.reacher_v5 import ReacherEnv
from rlhf_robotics.envs.physics import actuator_power

DEFAULT_CAMERA_CONFIG: dict[str, Any] = {"distance": 0.9, "elevation": -90.0, "azimuth": 90.0, "lookat": np.zeros(3)}
"""Clips show the whole arena from above (the v5 default camera is far away)."""


class ReacherSmoothEnv(ReacherEnv):
    """Reacher-v5 rewarded for reaching the target with a smooth fingertip path (low jerk), the way a person
    reaches, rather than Reacher-v5's bang-bang flick.

    ## Action space
    As Reacher-v5: ``Box(-1, 1, (2,))`` torques on the two hinges.

    ## Observation space
    As Reacher-v5: ``Box(-inf, inf, (10,))`` = cos and sin of the two angles, target x/y, joint velocities,
    fingertip − target (x, y).

    ## Hidden objective (per step; every term is in ``info`` and they sum to the reward)
    | term | value |
    |---|---|
    | ``reward_dist`` | -``reward_dist_weight`` · ‖fingertip − target‖ (m) |
    | ``reward_jerk`` | -``jerk_cost_weight`` · ‖fingertip jerk‖ (m/s³, finite differences over steps) |
    | ``reward_ctrl`` | -``reward_control_weight`` · ‖a‖² |

    The fingertip jerk is the third finite difference of its position over the step time; the fingertip is
    taken to be at rest before the first step.

    ## Rubric terms (raw physics, in ``info``)
    ``distance`` (m), ``tip_speed`` (m/s), ``tip_acceleration`` (m/s²), ``tip_jerk`` (m/s³),
    ``actuator_power`` (Σ|τ·q̇|).

    ## Verifier
    ``info["is_success"]`` is true while the fingertip is within ``success_distance`` of the target and the
    mean jerk over the episode so far is at most ``success_mean_jerk``. Read it on the episode's last step.

    ## Starting state and episode end
    As Reacher-v5 (random arm angles, target uniformly in a disc of radius 0.2). No termination; the
    registered time limit is 50 steps (1 s).

    ## Version history
    - v0: first version.
    """

    def __init__(
        self,
        reward_dist_weight: float = 1.0,
        jerk_cost_weight: float = 1e-3,
        reward_control_weight: float = 0.1,
        success_distance: float = 0.02,
        success_mean_jerk: float = 100.0,
        default_camera_config: dict[str, Any] = DEFAULT_CAMERA_CONFIG,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            reward_dist_weight=reward_dist_weight, reward_control_weight=reward_control_weight,
            default_camera_config=default_camera_config, **kwargs,
        )
        utils.EzPickle.__init__(
            self, reward_dist_weight, jerk_cost_weight, reward_control_weight, success_distance,
            success_mean_jerk, default_camera_config, **kwargs,
        )
        self._jerk_cost_weight = jerk_cost_weight
        self._success_distance = success_distance
        self._success_mean_jerk = success_mean_jerk
        self._tip = np.zeros(2)
        self._tip_velocity = np.zeros(2)
        self._tip_acceleration = np.zeros(2)
        self._steps, self._jerk_sum = 0, 0.0

    def reset_model(self) -> np.ndarray:
        observation = super().reset_model()
        self._tip = self.get_body_com("fingertip")[:2].copy()
        self._tip_velocity = np.zeros(2)
        self._tip_acceleration = np.zeros(2)
        self._steps, self._jerk_sum = 0, 0.0
        return observation

    def step(  # type: ignore[override]  # info also holds bools; MujocoEnv's stub says float64 only
        self, action: np.ndarray
    ) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        self.do_simulation(action, self.frame_skip)
        observation = self._get_obs()

        tip = self.get_body_com("fingertip")[:2].copy()
        velocity = (tip - self._tip) / self.dt
        acceleration = (velocity - self._tip_velocity) / self.dt
        jerk = float(np.linalg.norm((acceleration - self._tip_acceleration) / self.dt))
        self._tip, self._tip_velocity, self._tip_acceleration = tip, velocity, acceleration
        distance = float(np.linalg.norm(self.get_body_com("fingertip") - self.get_body_com("target")))
        self._steps += 1
        self._jerk_sum += jerk

        terms = {
            "reward_dist": -self._reward_dist_weight * distance,
            "reward_jerk": -self._jerk_cost_weight * jerk,
            "reward_ctrl": -self._reward_control_weight * float(np.sum(np.square(action))),
        }
        reward = float(sum(terms.values()))
        success = distance <= self._success_distance and self._jerk_sum / self._steps <= self._success_mean_jerk
        info: dict[str, Any] = {
            **terms,
            "distance": distance,
            "tip_speed": float(np.linalg.norm(velocity)),
            "tip_acceleration": float(np.linalg.norm(acceleration)),
            "tip_jerk": jerk,
            "actuator_power": actuator_power(self.data),
            "is_success": bool(success),
        }
        if self.render_mode == "human":
            self.render()
        return observation, reward, False, False, info
