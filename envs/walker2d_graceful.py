"""``rlhf_robotics/Walker2dGracefulWalk-v0``: the Walker2d walks at a steady pace with an upright torso and smooth
joint motion."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import utils
from gymnasium.envs.mujoco.walker2d_v5 import Walker2dEnv
from gymnasium.spaces import Box
from rlhf_robotics.envs.physics import GaitTracker, actuator_power, geom_ids, touching


class Walker2dGracefulWalkEnv(Walker2dEnv):
    """Walker2d-v5 rewarded for a graceful walk: forward speed up to a target pace, an upright torso and smooth
    actions; falling is a penalty, not an episode end (fixed horizon, as in Christiano et al. 2017).

    ## Action space
    As Walker2d-v5: ``Box(-1, 1, (6,))`` torques on right then left thigh, leg and foot hinges.

    ## Observation space
    As Walker2d-v5: ``Box(-inf, inf, (17,))`` = qpos[1:] ⊕ qvel clipped to ±10. With ``observe_fallen`` (off in
    v0), index 17 is 1 while the walker is fallen (outside Walker2d-v5's healthy height and angle ranges), else 0:
    the state the ``reward_fallen`` term reads, as one input instead of a threshold on two.

    ## Hidden objective (per step; every term is in ``info`` and they sum to the reward)
    | term | value |
    |---|---|
    | ``reward_pace`` | ``pace_reward_weight`` · min(forward velocity, ``target_speed``) (m/s) |
    | ``reward_upright`` | ``upright_reward_weight`` · cos(torso angle) |
    | ``reward_smooth`` | -``smoothness_cost_weight`` · ‖a_t − a_{t−1}‖² (a_{−1} = 0) |
    | ``reward_fallen`` | -``fall_cost`` while unhealthy (Walker2d-v5's height and angle ranges) |
    | ``reward_ctrl`` | -``ctrl_cost_weight`` · ‖a‖² |

    ## Rubric terms (raw physics, in ``info``)
    ``x_velocity`` (m/s), ``torso_height`` (m), ``torso_angle`` (rad), ``action_change`` (‖Δa‖²),
    ``fallen`` (0/1), ``feet_contacts`` (number of feet on the floor), ``actuator_power`` (Σ|τ·q̇|).

    ## Verifier
    ``info["is_success"]`` is true while the walker has never fallen and, over the episode so far, its mean
    forward velocity is at least ``success_speed`` and its mean cos(torso angle) at least ``success_upright``.

    ## Starting state and episode end
    As Walker2d-v5. By default no termination (fixed horizon); ``terminate_when_unhealthy=True`` ends the
    episode on the first fallen step instead. The registered time limit is 1000 steps (8 s).

    ## Version history
    - v0: first version.
    """

    def __init__(
        self,
        target_speed: float = 1.5,
        pace_reward_weight: float = 1.0,
        upright_reward_weight: float = 1.0,
        smoothness_cost_weight: float = 0.1,
        fall_cost: float = 2.0,
        ctrl_cost_weight: float = 1e-3,
        success_speed: float = 0.75,
        success_upright: float = 0.9,
        reset_noise_scale: float = 5e-3,
        terminate_when_unhealthy: bool = False,
        observe_fallen: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            forward_reward_weight=0.0,
            ctrl_cost_weight=ctrl_cost_weight,
            healthy_reward=0.0,
            terminate_when_unhealthy=terminate_when_unhealthy,
            reset_noise_scale=reset_noise_scale,
            **kwargs,
        )
        utils.EzPickle.__init__(
            self, target_speed, pace_reward_weight, upright_reward_weight, smoothness_cost_weight, fall_cost,
            ctrl_cost_weight, success_speed, success_upright, reset_noise_scale, terminate_when_unhealthy,
            observe_fallen, **kwargs,
        )
        self._target_speed = target_speed
        self._pace_reward_weight = pace_reward_weight
        self._upright_reward_weight = upright_reward_weight
        self._smoothness_cost_weight = smoothness_cost_weight
        self._fall_cost = fall_cost
        self._success_speed = success_speed
        self._success_upright = success_upright
        self._floor = geom_ids(self.model, ["floor"])
        self._feet = [geom_ids(self.model, [g]) for g in ("foot_geom", "foot_left_geom")]
        self._gait = GaitTracker(self.model.nu)
        self._observe_fallen = observe_fallen
        if observe_fallen:
            size = self.observation_space.shape[0] + 1  # type: ignore[index]
            self.observation_space = Box(low=-np.inf, high=np.inf, shape=(size,), dtype=np.float64)
            self.observation_structure = {**self.observation_structure, "fallen": 1}

    def _get_obs(self) -> np.ndarray:
        observation = super()._get_obs()
        if self._observe_fallen:
            observation = np.append(observation, float(not self.is_healthy))
        return observation

    def reset_model(self) -> np.ndarray:
        observation = super().reset_model()
        self._gait.reset()
        return observation

    def step(  # type: ignore[override]  # info also holds bools; MujocoEnv's stub says float64 only
        self, action: np.ndarray
    ) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        x_before = float(self.data.qpos[0])
        self.do_simulation(action, self.frame_skip)
        x_velocity = (float(self.data.qpos[0]) - x_before) / self.dt
        observation = self._get_obs()

        action = np.asarray(action, dtype=np.float64)
        upright = float(np.cos(self.data.qpos[2]))
        fallen = not self.is_healthy
        action_change = self._gait.update(action, x_velocity, upright, fallen, self.dt)

        terms = {
            "reward_pace": self._pace_reward_weight * min(x_velocity, self._target_speed),
            "reward_upright": self._upright_reward_weight * upright,
            "reward_smooth": -self._smoothness_cost_weight * action_change,
            "reward_fallen": -self._fall_cost * fallen,
            "reward_ctrl": -float(self.control_cost(action)),
        }
        reward = float(sum(terms.values()))
        success = self._gait.success(self.dt, self._success_speed, self._success_upright)
        info: dict[str, Any] = {
            **terms,
            "x_velocity": x_velocity,
            "torso_height": float(self.data.qpos[1]),
            "torso_angle": float(self.data.qpos[2]),
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
