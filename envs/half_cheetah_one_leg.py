"""``rlhf_robotics/HalfCheetahOneLeg-v1``: the HalfCheetah runs forward on its back leg alone (Christiano et al. 2017)."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import utils
from gymnasium.envs.mujoco.half_cheetah_v5 import HalfCheetahEnv
from rlhf_robotics.envs.physics import actuator_power, geom_ids, touching


class HalfCheetahOneLegEnv(HalfCheetahEnv):
    """HalfCheetah-v5 rewarded for running forward while the front leg stays off the ground.

    Christiano et al. (2017) trained this from 800 human comparisons. The hidden objective below exists for
    synthetic teachers and evaluation; training should see only learned rewards.

    ## Action space
    As HalfCheetah-v5: ``Box(-1, 1, (6,))`` torques on back thigh, shin, foot and front thigh, shin, foot.

    ## Observation space
    As HalfCheetah-v5: ``Box(-inf, inf, (17,))`` = qpos[1:] ⊕ qvel.

    ## Hidden objective (per step; every term is in ``info`` and they sum to the reward)
    | term | value |
    |---|---|
    | ``reward_forward`` | ``forward_reward_weight`` · forward velocity (m/s) |
    | ``reward_front_contact`` | -``front_contact_cost`` if any front-leg geom touches the floor |
    | ``reward_body_contact`` | -``body_contact_cost`` if the torso or head touches the floor (no running on the back) |
    | ``reward_ctrl`` | -``ctrl_cost_weight`` · ‖a‖² |

    The contact costs (5 per step) outweigh any speed a two-legged gallop adds over a one-legged gait: with a
    cost of 1, PPO on this objective learned a 2.1 m/s gallop with the front foot down 28 % of the time.

    ## Rubric terms (raw physics, in ``info``)
    ``x_velocity`` (m/s), ``front_leg_contact``, ``back_leg_contact``, ``body_contact`` (0/1 each),
    ``pitch`` (rad, positive nose-down), ``actuator_power`` (Σ|τ·q̇|).

    ## Verifier
    ``info["is_success"]`` is true while, over the episode so far, the mean forward velocity is at least
    ``success_speed``, the front leg touched the floor on at most ``success_contact_fraction`` of the steps and
    the body (torso or head) on at most ``success_body_contact_fraction`` of them. Read it on the episode's last
    step.

    ## Starting state and episode end
    As HalfCheetah-v5. No termination; the registered time limit is 1000 steps (50 s).

    ## Version history
    - v1: the verifier allows body contact on up to 1 % of the steps (``success_body_contact_fraction=0.01``; v0:
      none). Under v0 a single step of the head brushing the floor in 1,000 failed an episode, so a good one-legged
      runner's success rate swung by checkpoint (one PPO seed: 0.6, 0.3, 0.4, 0.3, 0.3, 0.6, 0.8, 0.4) and no
      budget within 1 M steps had 3 of 5 seeds passing. Running on the back or rolling over still fails: both keep
      the body down for far more than 10 steps. The reward, observations and dynamics are v0's, so training is
      identical; only ``is_success`` differs.
    - v0: first version.
    """

    def __init__(
        self,
        forward_reward_weight: float = 1.0,
        front_contact_cost: float = 5.0,
        body_contact_cost: float = 5.0,
        ctrl_cost_weight: float = 0.1,
        success_speed: float = 1.0,
        success_contact_fraction: float = 0.1,
        success_body_contact_fraction: float = 0.01,
        reset_noise_scale: float = 0.1,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            forward_reward_weight=forward_reward_weight,
            ctrl_cost_weight=ctrl_cost_weight,
            reset_noise_scale=reset_noise_scale,
            **kwargs,
        )
        utils.EzPickle.__init__(
            self, forward_reward_weight, front_contact_cost, body_contact_cost, ctrl_cost_weight,
            success_speed, success_contact_fraction, success_body_contact_fraction, reset_noise_scale, **kwargs,
        )
        self._front_contact_cost = front_contact_cost
        self._body_contact_cost = body_contact_cost
        self._success_speed = success_speed
        self._success_contact_fraction = success_contact_fraction
        self._success_body_contact_fraction = success_body_contact_fraction
        self._floor = geom_ids(self.model, ["floor"])
        self._front = geom_ids(self.model, ["fthigh", "fshin", "ffoot"])
        self._back = geom_ids(self.model, ["bthigh", "bshin", "bfoot"])
        self._trunk = geom_ids(self.model, ["torso", "head"])
        self._steps = 0
        self._distance = 0.0
        self._front_steps = 0
        self._body_steps = 0

    def reset_model(self) -> np.ndarray:
        observation = super().reset_model()
        self._steps, self._distance, self._front_steps, self._body_steps = 0, 0.0, 0, 0
        return observation

    def step(  # type: ignore[override]  # info also holds bools; MujocoEnv's stub says float64 only
        self, action: np.ndarray
    ) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        x_before = float(self.data.qpos[0])
        self.do_simulation(action, self.frame_skip)
        x_velocity = (float(self.data.qpos[0]) - x_before) / self.dt
        observation = self._get_obs()

        front = touching(self.data, self._front, self._floor)
        back = touching(self.data, self._back, self._floor)
        body = touching(self.data, self._trunk, self._floor)
        self._steps += 1
        self._distance += x_velocity * self.dt
        self._front_steps += front
        self._body_steps += body

        terms = {
            "reward_forward": self._forward_reward_weight * x_velocity,
            "reward_front_contact": -self._front_contact_cost * front,
            "reward_body_contact": -self._body_contact_cost * body,
            "reward_ctrl": -float(self.control_cost(action)),
        }
        reward = float(sum(terms.values()))
        mean_speed = self._distance / (self._steps * self.dt)
        success = (
            mean_speed >= self._success_speed
            and self._front_steps <= self._success_contact_fraction * self._steps
            and self._body_steps <= self._success_body_contact_fraction * self._steps
        )
        info: dict[str, Any] = {
            **terms,
            "x_velocity": x_velocity,
            "front_leg_contact": float(front),
            "back_leg_contact": float(back),
            "body_contact": float(body),
            "pitch": float(self.data.qpos[2]),
            "actuator_power": actuator_power(self.data),
            "x_position": float(self.data.qpos[0]),
            "is_success": bool(success),
        }
        if self.render_mode == "human":
            self.render()
        return observation, reward, False, False, info
