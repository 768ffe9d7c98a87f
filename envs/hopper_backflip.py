"""``rlhf_robotics/HopperBackflip-v1``: the Hopper jumps and turns a backward somersault (Christiano et al. 2017).

``rlhf_robotics/HopperBackflip-v0`` stays registered (``markovian_objective=False``) to reproduce earlier runs."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from gymnasium import utils
from gymnasium.envs.mujoco.hopper_v5 import HopperEnv
from gymnasium.spaces import Box
from rlhf_robotics.envs.physics import actuator_power, geom_ids, touching


class HopperBackflipEnv(HopperEnv):
    """Hopper-v5 rewarded for backflips instead of forward hopping.

    Christiano et al. (2017) taught this behaviour from 900 human comparisons; its hidden objective here exists
    so that synthetic teachers and evaluation have a ground truth. Training should see only learned rewards.

    ## Action space
    As Hopper-v5: ``Box(-1, 1, (3,))`` torques on the thigh, leg and foot hinges.

    ## Observation space
    ``Box(-inf, inf, (13,))``:

    | index | observation |
    |---|---|
    | 0–10 | as Hopper-v5: qpos[1:] (torso height, torso angle, 3 joint angles) ⊕ qvel clipped to ±10 |
    | 11 | ``rotation_to_regain``: furthest backward rotation so far − backward rotation now (rad, ≥ 0) |
    | 12 | ``airborne``: 1 when no part of the hopper touches the floor, else 0 |

    The torso angle (``rooty``) is not wrapped, so a full backflip shows as a change of -2π. Indices 11 and 12
    are the episode state the hidden objective reads, so that the objective is a function of what the policy
    and a reward model (one step's observation and action) see. (v0 observed only indices 0–10.)

    ## Hidden objective (per step; every term is in ``info`` and they sum to the reward)
    | term | value |
    |---|---|
    | ``reward_rotation`` | ``rotation_reward_weight`` · new backward rotation this step / dt (rad/s), on steps that start airborne |
    | ``reward_height`` | ``height_reward_weight`` · torso height (m) |
    | ``reward_landing`` | ``landing_reward`` on the step a backflip is completed by an upright landing |
    | ``reward_ctrl`` | -``ctrl_cost_weight`` · ‖a‖² |

    Rotation counts only on steps that start with no part of the hopper touching the floor, so rolling on the
    ground earns nothing, and only beyond the furthest backward rotation reached so far in the episode, so rocking
    back in the air and forward on the ground earns nothing either (PPO found that exploit when every backward turn
    was paid: return 1,887 for a net rotation of 1.8 rad). Over an episode the term sums to at most the total
    rotation / dt.

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
    - v1 (issue 15): the objective made Markovian in the observation. The observation gains
      ``rotation_to_regain`` and ``airborne`` (indices 11, 12), and rotation is paid on steps that *start*
      airborne (v0: steps that end airborne, which the step's observation cannot show). The loop's reward net
      sees one step's observation and action, and v0's objective was not a function of them: whether a backward
      turn is new (rocking back is paid once) and whether the hopper is in the air were hidden, so a learned
      reward paid every backward turn. On fixed scripted segments with oracle labels
      (``benchmarks/backflip_reward_model.py``, 3 seeds) a regression of the step reward on observation and
      action reaches a held-out correlation of 0.79 on v0 and 0.95 on v1; the loop's reward ensemble fitted on
      1,000 pairs reaches 0.88 → 0.90 pair accuracy and 0.66 → 0.74 step correlation, and on 4,000 pairs v0
      stays at 0.66 while v1 reaches 0.84 (1 seed). Segment length (20, 60, 120 steps) changed little.
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
        markovian_objective: bool = True,
        **kwargs: Any,
    ) -> None:
        """Args (beyond the reward weights and tolerances named in the class docstring):
            markovian_objective: v1's observation (13-dim) and rotation paid on steps that start airborne;
                False reproduces v0 (11-dim observation, rotation paid on steps that end airborne).
        """
        if terminate_when_unhealthy:
            raise ValueError(
                "HopperBackflip never terminates: Hopper-v5's health check (torso within ±0.2 rad) would end "
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
            landing_angle_tolerance, landing_height, reset_noise_scale, terminate_when_unhealthy,
            markovian_objective, **kwargs,
        )
        self._markovian = markovian_objective
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
        self._airborne = False
        if markovian_objective:
            size = self.observation_space.shape[0] + 2  # type: ignore[index]
            self.observation_space = Box(low=-np.inf, high=np.inf, shape=(size,), dtype=np.float64)
            self.observation_structure = {**self.observation_structure, "rotation_to_regain": 1, "airborne": 1}

    def _rotation(self) -> float:
        """Backward rotation of the torso since reset (rad; rooty turns nose-forward for positive angles)."""
        return -(float(self.data.qpos[2]) - self._start_angle)

    def _get_obs(self) -> np.ndarray:
        observation = super()._get_obs()
        if not self._markovian:
            return observation
        regain = max(0.0, self._furthest_rotation - self._rotation())
        return np.concatenate([observation, [regain, float(self._airborne)]])

    def reset_model(self) -> np.ndarray:
        super().reset_model()
        self._start_angle = float(self.data.qpos[2])
        self._flips_landed = 0
        self._furthest_rotation = 0.0
        self._airborne = not touching(self.data, self._body, self._floor)
        return self._get_obs()

    def step(  # type: ignore[override]  # info also holds bools; MujocoEnv's stub says float64 only
        self, action: np.ndarray
    ) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        started_airborne = self._airborne
        self.do_simulation(action, self.frame_skip)

        height = float(self.data.qpos[1])
        pitch_rate = -float(self.data.qvel[2])  # rooty turns nose-forward for positive angles
        rotation = self._rotation()
        airborne = not touching(self.data, self._body, self._floor)
        foot_contact = touching(self.data, self._foot, self._floor)
        progress = max(0.0, rotation - self._furthest_rotation)  # new backward rotation, rad
        self._furthest_rotation = max(self._furthest_rotation, rotation)
        self._airborne = airborne
        observation = self._get_obs()
        paid_airborne = started_airborne if self._markovian else airborne

        landed = False
        tol = self._landing_angle_tolerance
        flips = math.floor((rotation + tol) / (2 * math.pi))
        if flips > self._flips_landed:
            off_upright = abs(rotation - 2 * math.pi * flips)
            if off_upright < tol and foot_contact and height > self._landing_height:
                self._flips_landed = flips
                landed = True

        terms = {
            "reward_rotation": self._rotation_reward_weight * progress / self.dt * paid_airborne,
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
