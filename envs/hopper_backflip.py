"""``rlhf_robotics/HopperBackflip-v0``: the Hopper jumps and turns a backward somersault (Christiano et al. 2017)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from gymnasium import utils
from gymnasium.envs.mujoco.hopper_v5 import HopperEnv
from rlhf_robotics.envs.physics import actuator_power, geom_ids, touching


class HopperBackflipEnv(HopperEnv):
    """Hopper-v5 rewarded for backflips instead of forward hopping.

    Christiano et al. (2017) taught this behaviour from 900 human comparisons; its hidden objective here exists
    so that synthetic teachers and evaluation have a ground truth. Training should see only learned rewards.

    ## Action space
    As Hopper-v5: ``Box(-1, 1, (3,))`` torques on the thigh, leg and foot hinges.

    ## Observation space
    As Hopper-v5: ``Box(-inf, inf, (11,))`` = qpos[1:] (torso height, torso angle, 3 joint angles) ⊕ qvel
    clipped to ±10. The torso angle (``rooty``) is not wrapped, so a full backflip shows as a change of -2π.

    ## Hidden objective (per step; every term is in ``info`` and they sum to the reward)
    | term | value |
    |---|---|
    | ``reward_rotation`` | ``rotation_reward_weight`` · new backward rotation this step / dt (rad/s), while airborne |
    | ``reward_height`` | ``height_reward_weight`` · torso height (m) |
    | ``reward_landing`` | ``landing_reward`` on the step a backflip is completed by an upright landing |
    | ``reward_ctrl`` | -``ctrl_cost_weight`` · ‖a‖² |

    Rotation counts only while no part of the hopper touches the floor, so rolling on the ground earns nothing,
    and only beyond the furthest backward rotation reached so far in the episode, so rocking back in the air and
    forward on the ground earns nothing either (PPO found that exploit when every backward turn was paid: return
    1,887 for a net rotation of 1.8 rad). Over an episode the term sums to at most the total rotation / dt.

    ## Rubric terms (raw physics, in ``info``)
    ``torso_height`` (m), ``pitch_rate`` (backward, rad/s), ``backward_rotation`` (rad since reset),
    ``airborne`` (0/1), ``foot_contact`` (0/1), ``actuator_power`` (Σ|τ·q̇|), ``flips_landed`` (count).

    ## Verifier
    ``info["is_success"]`` becomes true once one full backward rotation (2π, within ``landing_angle_tolerance``)
    ends with the torso upright within that tolerance, the foot on the floor and the torso above
    ``landing_height``. Read it on the episode's last step.

    ## Starting state and episode end
    As Hopper-v5 (standing, uniform noise of ``reset_noise_scale``). The episode never terminates (a fall is
    part of the behaviour being judged; ``terminate_when_unhealthy`` is accepted only as False, for configs
    written for Hopper-v5); the registered time limit of 300 steps (2.4 s) ends it.

    ## Version history
    - v0: first version (rotation paid only for new backward rotation, in the air).
    """

    def __init__(
        self,
        rotation_reward_weight: float = 1.0,
        height_reward_weight: float = 1.0,
        landing_reward: float = 20.0,
        ctrl_cost_weight: float = 1e-3,
        landing_angle_tolerance: float = 0.6,
        landing_height: float = 0.7,
        reset_noise_scale: float = 5e-3,
        terminate_when_unhealthy: bool = False,
        **kwargs: Any,
    ) -> None:
        if terminate_when_unhealthy:
            raise ValueError(
                "HopperBackflip-v0 never terminates: Hopper-v5's health check (torso within ±0.2 rad) would end "
                "every flip; pass terminate_when_unhealthy=False or leave it out"
            )
        super().__init__(
            forward_reward_weight=0.0,
            ctrl_cost_weight=ctrl_cost_weight,
            healthy_reward=0.0,
            terminate_when_unhealthy=False,
            reset_noise_scale=reset_noise_scale,
            **kwargs,
        )
        utils.EzPickle.__init__(
            self, rotation_reward_weight, height_reward_weight, landing_reward, ctrl_cost_weight,
            landing_angle_tolerance, landing_height, reset_noise_scale, terminate_when_unhealthy, **kwargs,
        )
        self._rotation_reward_weight = rotation_reward_weight
        self._height_reward_weight = height_reward_weight
        self._landing_reward = landing_reward
        self._landing_angle_tolerance = landing_angle_tolerance
        self._landing_height = landing_height
        self._floor = geom_ids(self.model, ["floor"])
        self._body = geom_ids(self.model, ["torso_geom", "thigh_geom", "leg_geom", "foot_geom"])
        self._foot = geom_ids(self.model, ["foot_geom"])
        self._start_angle = 0.0
        self._flips_landed = 0
        self._furthest_rotation = 0.0

    def reset_model(self) -> np.ndarray:
        observation = super().reset_model()
        self._start_angle = float(self.data.qpos[2])
        self._flips_landed = 0
        self._furthest_rotation = 0.0
        return observation

    def step(  # type: ignore[override]  # info also holds bools; MujocoEnv's stub says float64 only
        self, action: np.ndarray
    ) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        self.do_simulation(action, self.frame_skip)
        observation = self._get_obs()

        height = float(self.data.qpos[1])
        pitch_rate = -float(self.data.qvel[2])  # rooty turns nose-forward for positive angles
        rotation = -(float(self.data.qpos[2]) - self._start_angle)
        airborne = not touching(self.data, self._body, self._floor)
        foot_contact = touching(self.data, self._foot, self._floor)
        progress = max(0.0, rotation - self._furthest_rotation)  # new backward rotation, rad
        self._furthest_rotation = max(self._furthest_rotation, rotation)

        landed = False
        tol = self._landing_angle_tolerance
        flips = math.floor((rotation + tol) / (2 * math.pi))
        if flips > self._flips_landed:
            off_upright = abs(rotation - 2 * math.pi * flips)
            if off_upright < tol and foot_contact and height > self._landing_height:
                self._flips_landed = flips
                landed = True

        terms = {
            "reward_rotation": self._rotation_reward_weight * progress / self.dt * airborne,
            "reward_height": self._height_reward_weight * height,
            "reward_landing": self._landing_reward * landed,
            "reward_ctrl": -float(self.control_cost(action)),
        }
        reward = float(sum(terms.values()))
        info: dict[str, Any] = {
            **terms,
            "torso_height": height,
            "pitch_rate": pitch_rate,
            "backward_rotation": rotation,
            "airborne": float(airborne),
            "foot_contact": float(foot_contact),
            "actuator_power": actuator_power(self.data),
            "flips_landed": float(self._flips_landed),
            "x_position": float(self.data.qpos[0]),
            "is_success": self._flips_landed >= 1,
        }
        if self.render_mode == "human":
            self.render()
        return observation, reward, False, False, info
