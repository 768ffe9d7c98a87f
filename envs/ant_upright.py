"""``rlhf_robotics/AntUprightWalk-v0``: the Ant walks forward with its torso level and its gait smooth."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import utils
from gymnasium.envs.mujoco.ant_v5 import AntEnv
from rlhf_robotics.envs.physics import GaitTracker, actuator_power, body_id, geom_ids, touching, upright


class AntUprightWalkEnv(AntEnv):
    """Ant-v5 rewarded for walking forward upright (torso level, not flipped) with smooth actions; flipping
    over or leaving the healthy height range is a penalty, not an episode end.

    ## Action space
    As Ant-v5: ``Box(-1, 1, (8,))`` torques on the four hips and four ankles.

    ## Observation space
    Ant-v5 with ``include_cfrc_ext_in_observation=False`` by default: ``Box(-inf, inf, (27,))`` = qpos[2:] ⊕
    qvel (the 78 contact-force entries are left out to keep reward-model inputs small; pass ``True`` to keep them).

    ## Hidden objective (per step; every term is in ``info`` and they sum to the reward)
    | term | value |
    |---|---|
    | ``reward_forward`` | ``forward_reward_weight`` · min(forward velocity, ``target_speed``) (m/s) |
    | ``reward_upright`` | ``upright_reward_weight`` · torso z-axis · world z (1 level, -1 upside down) |
    | ``reward_smooth`` | -``smoothness_cost_weight`` · ‖a_t − a_{t−1}‖² (a_{−1} = 0) |
    | ``reward_fallen`` | -``fall_cost`` while flipped (upright < 0) or outside Ant-v5's healthy height range |
    | ``reward_ctrl`` | -``ctrl_cost_weight`` · ‖a‖² |

    ## Rubric terms (raw physics, in ``info``)
    ``x_velocity`` (m/s), ``torso_height`` (m), ``uprightness`` (cos of torso tilt), ``action_change``
    (‖Δa‖²), ``fallen`` (0/1), ``feet_contacts`` (feet on the floor, 0–4), ``actuator_power`` (Σ|τ·q̇|).

    ## Verifier
    ``info["is_success"]`` is true while the ant has never fallen and, over the episode so far, its mean forward
    velocity is at least ``success_speed`` and its mean uprightness at least ``success_upright``.

    ## Starting state and episode end
    As Ant-v5. By default no termination (fixed horizon); ``terminate_when_unhealthy=True`` ends the episode on
    the first fallen step instead. The registered time limit is 1000 steps (50 s).

    ## Version history
    - v0: first version.
    """

    def __init__(
        self,
        target_speed: float = 1.0,
        forward_reward_weight: float = 1.0,
        upright_reward_weight: float = 1.0,
        smoothness_cost_weight: float = 0.05,
        fall_cost: float = 2.0,
        ctrl_cost_weight: float = 0.05,
        success_speed: float = 0.6,
        success_upright: float = 0.9,
        include_cfrc_ext_in_observation: bool = False,
        reset_noise_scale: float = 0.1,
        terminate_when_unhealthy: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            forward_reward_weight=forward_reward_weight,
            ctrl_cost_weight=ctrl_cost_weight,
            contact_cost_weight=0.0,
            healthy_reward=0.0,
            terminate_when_unhealthy=terminate_when_unhealthy,
            include_cfrc_ext_in_observation=include_cfrc_ext_in_observation,
            reset_noise_scale=reset_noise_scale,
            **kwargs,
        )
        utils.EzPickle.__init__(
            self, target_speed, forward_reward_weight, upright_reward_weight, smoothness_cost_weight, fall_cost,
            ctrl_cost_weight, success_speed, success_upright, include_cfrc_ext_in_observation, reset_noise_scale,
            terminate_when_unhealthy, **kwargs,
        )
        self._target_speed = target_speed
        self._upright_reward_weight = upright_reward_weight
        self._smoothness_cost_weight = smoothness_cost_weight
        self._fall_cost = fall_cost
        self._success_speed = success_speed
        self._success_upright = success_upright
        self._torso = body_id(self.model, "torso")
        self._floor = geom_ids(self.model, ["floor"])
        self._feet = [geom_ids(self.model, [g]) for g in
                      ("left_ankle_geom", "right_ankle_geom", "third_ankle_geom", "fourth_ankle_geom")]
        self._gait = GaitTracker(self.model.nu)

    def reset_model(self) -> np.ndarray:
        observation = super().reset_model()
        self._gait.reset()
        return observation

    def step(  # type: ignore[override]  # info also holds bools; MujocoEnv's stub says float64 only
        self, action: np.ndarray
    ) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        x_before = float(self.data.xpos[self._torso][0])
        self.do_simulation(action, self.frame_skip)
        x_velocity = (float(self.data.xpos[self._torso][0]) - x_before) / self.dt
        observation = self._get_obs()

        action = np.asarray(action, dtype=np.float64)
        level = upright(self.data, self._torso)
        fallen = level < 0 or not self.is_healthy
        action_change = self._gait.update(action, x_velocity, level, fallen, self.dt)

        terms = {
            "reward_forward": self._forward_reward_weight * min(x_velocity, self._target_speed),
            "reward_upright": self._upright_reward_weight * level,
            "reward_smooth": -self._smoothness_cost_weight * action_change,
            "reward_fallen": -self._fall_cost * fallen,
            "reward_ctrl": -float(self.control_cost(action)),
        }
        reward = float(sum(terms.values()))
        success = self._gait.success(self.dt, self._success_speed, self._success_upright)
        info: dict[str, Any] = {
            **terms,
            "x_velocity": x_velocity,
            "torso_height": float(self.data.qpos[2]),
            "uprightness": level,
            "action_change": action_change,
            "fallen": float(fallen),
            "feet_contacts": float(sum(touching(self.data, f, self._floor) for f in self._feet)),
            "actuator_power": actuator_power(self.data),
            "x_position": float(self.data.qpos[0]),
            "is_success": bool(success),
        }
        if self.render_mode == "human":
            self.render()
        terminated = fallen and self._terminate_when_unhealthy
        return observation, reward, terminated, False, info
