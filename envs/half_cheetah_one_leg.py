"""``rlhf_robotics/HalfCheetahOneLeg-v3``: the HalfCheetah runs forward on its back leg alone (Christiano et al. 2017)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from gymnasium import utils
from gymnasium.envs.mujoco.half_cheetah_v5 import HalfCheetahEnv
from gymnasium.spaces import Box
from rlhf_robotics.envs.physics import actuator_power, geom_ids, touching


class HalfCheetahOneLegEnv(HalfCheetahEnv):
    """HalfCheetah-v5 rewarded for running forward while the front leg stays off the ground.

    Christiano et al. (2017) trained this from 800 human comparisons. The hidden objective below exists for
    synthetic teachers and evaluation; training should see only learned rewards.

    ## Action space
    As HalfCheetah-v5: ``Box(-1, 1, (6,))`` torques on back thigh, shin, foot and front thigh, shin, foot.

    ## Observation space
    ``Box(-inf, inf, (18,))``: HalfCheetah-v5's qpos[1:] ⊕ qvel (indices 0–16), except that index 1 is the cosine of
    the pitch (1 level, -1 upside down), and index 17 is its sine. v1 and earlier observed the pitch itself, unwrapped,
    at index 1 (``Box(-inf, inf, (17,))``).

    ## Hidden objective (per step; every term is in ``info`` and they sum to the reward)
    | term | value |
    |---|---|
    | ``reward_forward`` | ``forward_reward_weight`` · forward velocity (m/s) |
    | ``reward_front_contact`` | -``front_contact_cost`` if any front-leg geom touches the floor |
    | ``reward_body_contact`` | -``body_contact_cost`` if the torso or head touches the floor (no running on the back) |
    | ``reward_upside_down`` | -``upside_down_cost`` while the torso is turned more than 90° from level (cos(pitch) < 0) |
    | ``reward_ctrl`` | -``ctrl_cost_weight`` · ‖a‖² |

    The contact costs (5 per step) outweigh any speed a two-legged gallop adds over a one-legged gait: with a
    cost of 1, PPO on this objective learned a 2.1 m/s gallop with the front foot down 28 % of the time. Being upside
    down costs as much as standing on both legs, so turning over is no way to lift the front leg (the instruction
    people are given says flipping over is worse).

    ## Rubric terms (raw physics, in ``info``)
    ``x_velocity`` (m/s), ``front_leg_contact``, ``back_leg_contact``, ``body_contact``, ``upside_down`` (0/1 each),
    ``pitch`` (rad, positive nose-down), ``actuator_power`` (Σ|τ·q̇|).

    ## Verifier
    ``info["is_success"]`` is true while, over the episode so far, the mean forward velocity is at least
    ``success_speed``, the front leg touched the floor on at most ``success_contact_fraction`` of the steps and
    the body (torso or head) on at most ``success_body_contact_fraction`` of them. Read it on the episode's last
    step.

    ## Starting state and episode end
    As HalfCheetah-v5. No termination; the registered time limit is 1000 steps (50 s).

    ## Version history
    - v3 (issue 15, "taught by preferences"): being upside down costs ``upside_down_cost`` = 5 a step (the term
      ``reward_upside_down``; v2 and earlier: 0), as much as the front leg's contact; observation, verifier and the
      other terms are v2's. Why: under v2 the loop (1,000 rubric-teacher labels, 1.7 M steps, seeds 0-4) passed
      on seeds 1, 3 and 4 (0.98, 0.98, 0.94; v1: 0.92, 0.16, 0.00, 0.94, 0.56) and failed on seeds 0 and 2 (0.00;
      true returns -540 and -710): from the first rounds seed 2 turned onto its back (mean pitch
      3.16 rad, body on the floor 12.5 % of the steps, front leg 0.8 %) and seed 0 onto its nose (mean pitch 1.05
      rad, body on the floor 12.3 %). v2's objective paid that: about -0.7 a step against the starting stance's
      -5 (front foot down), the quickest way to lift the front leg, and the rubric teacher, scoring the
      objective, preferred it. The reward models were not the fault: they scored the passing seeds' runners far
      above their own policies (seed 0: +3.76 and +2.79 against -0.06 a step; seed 2: +11.53 and +7.91 against
      +0.09; ``benchmarks/reward_model_vs_policies.py``), so the policy was held in a trap the objective set and
      the instruction to people already calls worse ("using both legs or flipping over is worse"). A runner on
      the back leg stays within 90° of level; true-reward PPO's tumbling seed under v1 (calibration seed 4) fell
      into the same trap. A nose-stand short of 90° (seed 0's) is still charged only for its body contact.
    - v2 (issue 15, "taught by preferences"): the pitch is observed as its cosine (index 1) and sine (index 17), not
      as the angle itself (``pitch_cos_sin``); objective, verifier, rubric terms and dynamics are v1's. Why: the
      loop with 1,000 rubric-teacher labels on v1 failed on 5 of 10 seeds, its policy turning over again and again
      (held-out seeds 5 and 9: final pitch -7 and -10 rad after 1,000 steps; true returns about -1,000 against
      the initial policy's -4,989). Unwrapped, each further turn is a value no label covered, and on seed 9 the
      learned reward paid more the further the cheetah had turned (``benchmarks/learned_reward_by_term.py --term
      pitch``: +1.97 SD below -12 rad, -0.69 SD at -1 to 0 rad, where the objective paid +0.11 and +0.30 SD), and
      its model scored its own tumbling above the passing seeds' runners (-0.38 a step against -0.46 and -0.54;
      ``benchmarks/reward_model_vs_policies.py``). As cosine and sine a pose reads the same after any number of
      turns, as the objective (contacts, forward speed) sees it. (The models of seeds 5 and 8 scored the runners
      far above their own policies, +2.44 and +1.99 against -0.06, +3.58 and +3.02 against +0.02: those seeds were
      held by the objective's trap, see v3.)
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
        pitch_cos_sin: bool = True,
        upside_down_cost: float = 5.0,
        **kwargs: Any,
    ) -> None:
        """Args: the reward weights and tolerances named in the class docstring, ``pitch_cos_sin``: v2's
        observation of the pitch as its cosine (index 1) and sine (index 17); False reproduces v1 and earlier (the
        angle itself at index 1), and ``upside_down_cost`` (v3; 0 reproduces v2 and earlier)."""
        if upside_down_cost < 0:
            raise ValueError(f"upside_down_cost={upside_down_cost!r} would pay for being upside down; pass a cost >= 0")
        if pitch_cos_sin and not kwargs.get("exclude_current_positions_from_observation", True):
            raise ValueError(
                "pitch_cos_sin=True assumes the x position is left out of the observation; with "
                "exclude_current_positions_from_observation=False pass pitch_cos_sin=False too"
            )
        super().__init__(
            forward_reward_weight=forward_reward_weight,
            ctrl_cost_weight=ctrl_cost_weight,
            reset_noise_scale=reset_noise_scale,
            **kwargs,
        )
        utils.EzPickle.__init__(
            self, forward_reward_weight, front_contact_cost, body_contact_cost, ctrl_cost_weight,
            success_speed, success_contact_fraction, success_body_contact_fraction, reset_noise_scale, pitch_cos_sin,
            upside_down_cost, **kwargs,
        )
        self._upside_down_cost = upside_down_cost
        self._pitch_cos_sin = pitch_cos_sin
        if pitch_cos_sin:
            size = self.observation_space.shape[0] + 1  # type: ignore[index]
            self.observation_space = Box(low=-np.inf, high=np.inf, shape=(size,), dtype=np.float64)
            self.observation_structure = {**self.observation_structure, "pitch_sin": 1}
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

    def _get_obs(self) -> np.ndarray:
        observation = super()._get_obs()
        if not self._pitch_cos_sin:
            return observation
        pitch = float(observation[1])  # qpos[2], rooty: after the torso height
        observation[1] = math.cos(pitch)
        return np.concatenate([observation, [math.sin(pitch)]])

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
        upside_down = math.cos(float(self.data.qpos[2])) < 0
        self._steps += 1
        self._distance += x_velocity * self.dt
        self._front_steps += front
        self._body_steps += body

        terms = {
            "reward_forward": self._forward_reward_weight * x_velocity,
            "reward_front_contact": -self._front_contact_cost * front,
            "reward_body_contact": -self._body_contact_cost * body,
            "reward_upside_down": -self._upside_down_cost * upside_down,
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
            "upside_down": float(upside_down),
            "pitch": float(self.data.qpos[2]),
            "actuator_power": actuator_power(self.data),
            "x_position": float(self.data.qpos[0]),
            "is_success": bool(success),
        }
        if self.render_mode == "human":
            self.render()
        return observation, reward, False, False, info
