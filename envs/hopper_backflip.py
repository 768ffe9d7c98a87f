"""``rlhf_robotics/HopperBackflip-v4``: the Hopper jumps and turns a backward somersault (Christiano et al. 2017).

``rlhf_robotics/HopperBackflip-v3`` (``landing_observed=False``), ``-v2`` (also ``over_rotation_cost_weight=0,
torso_angle_cos_sin=False``), ``-v1`` (also ``flip_allowance=False,
landing_reward=20``) and ``-v0`` (also ``markovian_objective=False``) stay registered to reproduce earlier runs."""

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
    ``Box(-inf, inf, (16,))``:

    | index | observation |
    |---|---|
    | 0–10 | as Hopper-v5 (qpos[1:]: torso height, torso angle, 3 joint angles ⊕ qvel clipped to ±10), except that index 1 is the cosine of the torso angle (1 upright, -1 upside down) |
    | 11 | ``rotation_to_regain``: furthest backward rotation so far − backward rotation now (rad, ≥ 0) |
    | 12 | ``airborne``: 1 when no part of the hopper touches the floor, else 0 |
    | 13 | ``rotation_to_complete``: 2π·(flips landed + 1) − furthest backward rotation so far (rad): what is left of this flip's rotation allowance; negative once turned past the flip without landing it |
    | 14 | ``torso_angle_sin``: the sine of the torso angle (negative leaning back when upright) |
    | 15 | ``landed``: 1 on the observation that follows the step that landed a flip, else 0 |

    The torso angle is observed as its cosine and sine (v2 and earlier: the angle itself, unwrapped, so -2π after a
    flip), so the hopper standing after a landed flip is observed as it was standing before it, and the observation
    is continuous through the upside-down half of the flip; how far it has turned is in indices 11 and 13. Indices
    11–13 are the episode state the hidden objective reads, so that the objective is a function of what the policy
    and a reward model (one step's observation and action) see: index 11 + index 13 is how far the torso is from
    upright after the next flip, which a landing needs within ``landing_angle_tolerance``. Index 15 is the landing
    the objective pays on the next step. (v3 observed indices 0–14, v2 indices 0–13 with the angle itself at index
    1, v1 indices 0–12, v0 indices 0–10.)

    ## Hidden objective (per step; every term is in ``info`` and they sum to the reward)
    | term | value |
    |---|---|
    | ``reward_rotation`` | ``rotation_reward_weight`` · new backward rotation this step within the flip's allowance / dt (rad/s), on steps that start airborne |
    | ``reward_height`` | ``height_reward_weight`` · torso height (m) |
    | ``reward_over_rotation`` | -``over_rotation_cost_weight`` · new backward rotation this step beyond the flip's allowance / dt (rad/s), in the air or not |
    | ``reward_landing`` | ``landing_reward`` on the step after a backflip is completed by an upright landing: ``landing_reward`` · index 15 of the step's first observation (v3 and earlier: on the landing step itself) |
    | ``reward_ctrl`` | -``ctrl_cost_weight`` · ‖a‖² |

    Rotation counts only on steps that start with no part of the hopper touching the floor, so rolling on the
    ground earns nothing, and only beyond the furthest backward rotation reached so far in the episode, so rocking
    back in the air and forward on the ground earns nothing either (PPO found that exploit when every backward turn
    was paid: return 1,887 for a net rotation of 1.8 rad). And it counts only up to completing the flip under
    way: the furthest backward rotation is paid up to 2π·(flips landed + 1), so turning past a full turn earns
    nothing until that flip is landed, and a landing opens the next flip's allowance. From one step's
    observations (indices 11–13 before the step; turned back is the change of the angle whose cosine and sine are
    indices 1 and 14) the term is
    ``rotation_reward_weight · min(max(0, turned back − rotation_to_regain), max(0, rotation_to_complete)) / dt ·
    airborne``. Over an episode it sums to at most 2π·(flips landed + 1) / dt, ≈ 785 per flip at weights 1
    (dt = 0.008 s); a double turn landed at once pays one flip's rotation and one landing.

    New backward rotation past the allowance costs what it would have earned (``reward_over_rotation``, in the air
    or not): from one step's observations ``-over_rotation_cost_weight · (new − min(new, max(0,
    rotation_to_complete))) / dt`` with ``new = max(0, turned back − rotation_to_regain)``. A flip's rotation net
    of that cost is 2π less how far it overshot, so among unlanded attempts the one that stops nearest a full turn
    scores best, as the instruction to labellers says ("extra turns without a landing ... are worse").

    ``landing_reward`` = 400 is sized against the other terms at weights 1 over the 300-step episode. With the
    rotation capped, a landed and an unlanded flip earn about the same rotation (≤ 785), so what separates them
    is height, and that can favour not landing: the higher jump that more turns need earns ~100 more height
    (below: 350 against 248), and standing instead of lying after a flip earns at most (1.25 − 0.1) m × 300 ≈
    345. A landing worth more than both (400, about half a flip's rotation) makes the landed flip the best
    episode whatever happens after it; at v1's 20, an unlanded 2.4 turns would beat a landing followed by a fall
    even with the cap. Returns of 300-step episodes launched from the standing start (set velocities, zero
    action afterwards; ``tests/envs/test_backflip_v2.py`` checks these numbers):

    | episode (launch: upward m/s, backward spin rad/s) | rotation | over-rotation (v3) | landing | height | v3 return | v2 return | v1 return |
    |---|---|---|---|---|---|---|---|
    | one flip landed at step 127 (5, 6), then stand (idealised: 1.25 m a step) | 746 | 0 | 400 | 188 + 1.25 × 172 | ≈ 1,550 | ≈ 1,550 | ≈ 1,170 |
    | the same flip landed, then a fall onto its back | 746 | 0 | 400 | 248 | 1,394 | 1,394 | 1,014 |
    | 1.33 turns, not landed, then lying (5, 8) | 785 | −255 | 0 | 229 | 759 | 1,014 | 1,270 |
    | 2.36 turns, not landed (6, 12) | 785 | −1,068 | 0 | 350 | 67 | 1,135 | 2,191 |

    So (landed one flip, then stand) 1,550 > (one flip unlanded, lying) 1,014 and > (two turns unlanded) 1,135,
    and even a landing followed by a fall (1,394) beats both; v1 ranked both unlanded episodes (2,191, 1,270)
    above both landed ones (1,170, 1,014). v3 keeps that order and also ranks the unlanded attempts by how close
    to one full turn they stopped (759 > 67), which v2 did the other way round (1,014 < 1,135).

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
    - v4 (issue 15, "taught by preferences"): the landing is observed (index 15, ``landed``, 1 on the observation
      after the step that landed a flip) and ``reward_landing`` is paid on the step that starts with it, one step
      (8 ms) after the landing instead of on it (``landing_observed``); verifier, the other terms and the sizes of
      every term as v3. Why: v3's landing was the one term of the objective that is not a function a reward net
      can read from one step's observation and action, except by predicting one step of contact physics (whether
      this step's touchdown is on the foot, upright, above ``landing_height``). A 400 spike on one step of 300 decides
      most comparisons it appears in, and a reward net that cannot place it credits what correlates with it in the
      clip. Measured on the suite loop's five grid runs on v3 (``benchmarks/suite.py``, 1,000 oracle labels on 1.5 s
      clips, entropy pair selection): 113–811 of each run's 2,000 labelled clips held a landing, yet refitting the
      loop's ensemble on each run's own clips and labels (``benchmarks/backflip_refit.py --variants base landed next_obs_change
      --heldout 0.2``, 2 fits each) paid landing steps −0.5 to +0.5 SD from the mean labelled step, where the
      objective pays them 20–47 SD above it, with a step-reward correlation of 0.19–0.37. Given the landing as an
      input, as index 15 shows it, the same fits paid landing steps 17–43 SD above the mean and correlated 0.84–0.92
      (the observation's change over the step, what a reward of the next observation would see: 14–34 SD,
      0.78–0.84). Seed 0, the run that landed no flip (success 0.00 against true-reward PPO's 1.00), ranked only
      27 % of its 113 landing clips above its median clip; with the input, 59 %. Paying the
      landing one step late costs nothing but a landing on the episode's last step, which is never paid.
    - v3 (issue 15, "taught by preferences"): turning past the flip's allowance costs what it would have earned
      (``over_rotation_cost_weight`` = 1; the term ``reward_over_rotation``), and the torso angle is observed as
      its cosine and sine (``torso_angle_cos_sin``; index 14 is new); verifier and the other terms as v2. Why: the loop with 1,000 rubric-teacher labels on v2 (``benchmarks/backflip_loop_diagnosis.py``,
      seed 0) fitted the objective well by the usual measures (accuracy against the oracle 0.88 at 500 k steps and
      0.94 at 1 M, step-reward correlation 0.87 and 0.92), yet its policy turned 1.4 and 1.0 turns (median), never
      landed (0 of 40 episodes; 0 of 2,000 labelled clips held a landing), and its learned reward paid turning past
      the allowance 0.7 SD above lying on the ground, where v2 paid nothing (true: −0.03 and −0.08 SD). Within a
      clip the over-rotation follows the paid rotation, so a preference between whole clips credits both, and a
      step worth exactly nothing next to steps worth much is what segment comparisons pin down worst (20- and
      150-step clips did not help: 0.03 and 0.49 turns). A person watching counts the extra turn against the
      attempt, not as nothing; v3's objective says so, which gives the comparisons a signal of its own sign.
      The angle is observed as cosine and sine because unwrapped it made standing after a landed flip (-2π) a state
      the reward net had never seen anyone stand in, and wrapped to [-π, π] it jumps mid-flip. What v3 changed, in
      one-seed loop probes (seed 0, 1,000 rubric labels; RESULTS.md "The backflip through the loop"): the
      learned reward's over-rotation credit fell at 500 k steps (+0.74 → −0.14 SD with the angle unwrapped) but came
      back at 1 M (+0.62; +0.31 with cosine and sine) while the objective charges −0.96: the few steps past the
      allowance (≤ 5 % of the clips' steps) do not teach a reward net to flip the sign of the rotation it is paid
      for elsewhere. Landings stayed rare: 5 of 40 sampled episodes in one run (cosine and sine, 500 k), none in the
      others, none in any labelled clip, so the learned reward still has no term for them. PPO on v3's objective
      (``benchmarks/suite_calibration.py``) passes the verifier on seed 0 at 200 k steps with the angle unwrapped,
      and with cosine and sine (5 seeds to 500 k) first on seeds 0–3 at 200 k, 100 k, 300 k and 300 k, seed 4 not at
      all (seed 0 unsteadily: success 0.7, 0.0, 1.0, 0.0 at 200–500 k); 3 of 5 pass at 300 k, v3's calibrated
      budget (v2: seeds 0–2 first at 200 k, 300 k, 200 k).
    - v2 (issue 15, "calibrated tasks"): the objective's optimum made the verified behaviour. v1 paid every
      new backward turn in the air with no cap and a landing only 20, so turning on past a full turn beat
      landing it (one flip = 2π / dt ≈ 785). SB3 PPO on v1's objective (seed 0, 4 envs, default settings)
      passed the verifier on 9–10 of 10 evaluation episodes from 1.1 M to 1.6 M steps (return ≈ 1,350–1,380),
      then learned to rotate further without landing: at 1.7–1.9 M steps return 1,560 → 1,730 and success
      0.1 → 0.0. v2 pays rotation only within the current flip's allowance (``flip_allowance``), observes what
      is left of it (``rotation_to_complete``, index 13) so the objective stays a function of one step's
      observations, and raises ``landing_reward`` from 20 to 400. The verifier is unchanged; the rubric's
      rotation question says that turning past a full turn without landing counts for nothing.
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
        landing_reward: float = 400.0,
        ctrl_cost_weight: float = 1e-3,
        landing_angle_tolerance: float = 0.6,
        landing_height: float = 0.7,
        reset_noise_scale: float = 5e-3,
        terminate_when_unhealthy: bool = False,
        markovian_objective: bool = True,
        flip_allowance: bool = True,
        over_rotation_cost_weight: float = 1.0,
        torso_angle_cos_sin: bool = True,
        landing_observed: bool = True,
        **kwargs: Any,
    ) -> None:
        """Args (beyond the reward weights and tolerances named in the class docstring):
            markovian_objective: observation indices 11–12 and rotation paid on steps that start airborne;
                False reproduces v0 (11-dim observation, rotation paid on steps that end airborne).
            flip_allowance: v2's rotation paid only up to completing the current flip, and observation index 13;
                False (with ``landing_reward=20``) reproduces v1, and v0 with ``markovian_objective=False``.
            over_rotation_cost_weight: v3's cost of turning past the flip's allowance; 0 reproduces v2 (and, with
                the arguments above, v1 and v0), whose ``info`` has no ``reward_over_rotation`` term.
            torso_angle_cos_sin: v3's observation of the torso angle as its cosine (index 1) and sine (index 14);
                False reproduces v2 and earlier (the angle itself at index 1).
            landing_observed: v4's observation of a landing (index 15, after every other) and its reward paid on
                the step that starts with it; False reproduces v3 and earlier (paid on the landing step, unobserved).
        """
        if over_rotation_cost_weight < 0:
            raise ValueError(
                f"over_rotation_cost_weight={over_rotation_cost_weight!r} would pay turning past a full turn; "
                "pass a weight >= 0 (1.0 is v3, 0.0 is v2)"
            )
        if not flip_allowance and (over_rotation_cost_weight > 0 or torso_angle_cos_sin):
            raise ValueError(
                f"flip_allowance=False removes the allowance that over_rotation_cost_weight="
                f"{over_rotation_cost_weight!r} charges past and the index 13 that torso_angle_cos_sin="
                f"{torso_angle_cos_sin!r} puts the sine after; for v1 or v0 pass over_rotation_cost_weight=0 and "
                "torso_angle_cos_sin=False too"
            )
        if landing_observed and not markovian_objective:
            raise ValueError(
                f"landing_observed={landing_observed!r} extends the observation that markovian_objective=False (v0) "
                "leaves as Hopper-v5's; for v0 pass landing_observed=False too"
            )
        if flip_allowance and not markovian_objective:
            raise ValueError(
                "flip_allowance=True needs markovian_objective=True (its allowance is observed at index 13); "
                "for v0 pass markovian_objective=False, flip_allowance=False, landing_reward=20"
            )
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
            markovian_objective, flip_allowance, over_rotation_cost_weight, torso_angle_cos_sin, landing_observed,
            **kwargs,
        )
        self._landing_observed = landing_observed
        self._landed = False  # the last step landed a flip (observed at index 15 and paid on the next step in v4)
        self._torso_angle_cos_sin = torso_angle_cos_sin
        self._over_rotation_cost_weight = over_rotation_cost_weight
        self._markovian = markovian_objective
        self._flip_allowance = flip_allowance
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
        extra = {"rotation_to_regain": 1, "airborne": 1} if markovian_objective else {}
        if flip_allowance:
            extra["rotation_to_complete"] = 1
        if torso_angle_cos_sin:
            extra["torso_angle_sin"] = 1
        if landing_observed:
            extra["landed"] = 1
        if extra:
            size = self.observation_space.shape[0] + len(extra)  # type: ignore[index]
            self.observation_space = Box(low=-np.inf, high=np.inf, shape=(size,), dtype=np.float64)
            self.observation_structure = {**self.observation_structure, **extra}

    def _rotation(self) -> float:
        """Backward rotation of the torso since reset (rad; rooty turns nose-forward for positive angles)."""
        return -(float(self.data.qpos[2]) - self._start_angle)

    def _rotation_to_complete(self) -> float:
        """What is left of the current flip's rotation allowance (rad; negative once turned past it)."""
        return 2 * math.pi * (self._flips_landed + 1) - self._furthest_rotation

    def _get_obs(self) -> np.ndarray:
        observation = super()._get_obs()
        angle = 0.0
        if self._torso_angle_cos_sin:  # rooty: after the x position unless that is observed too
            i = 1 if self._exclude_current_positions_from_observation else 2
            angle = float(observation[i])
            observation[i] = math.cos(angle)
        if not self._markovian:
            return observation
        regain = max(0.0, self._furthest_rotation - self._rotation())
        extra = [regain, float(self._airborne)]
        if self._flip_allowance:
            extra.append(self._rotation_to_complete())
        if self._torso_angle_cos_sin:
            extra.append(math.sin(angle))
        if self._landing_observed:
            extra.append(float(self._landed))
        return np.concatenate([observation, extra])

    def reset_model(self) -> np.ndarray:
        super().reset_model()
        self._start_angle = float(self.data.qpos[2])
        self._flips_landed = 0
        self._furthest_rotation = 0.0
        self._landed = False
        self._airborne = not touching(self.data, self._body, self._floor)
        return self._get_obs()

    def step(  # type: ignore[override]  # info also holds bools; MujocoEnv's stub says float64 only
        self, action: np.ndarray
    ) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        started_airborne = self._airborne
        landing_paid = self._landed  # v4 pays the landing its first observation shows (index 15)
        self.do_simulation(action, self.frame_skip)

        height = float(self.data.qpos[1])
        pitch_rate = -float(self.data.qvel[2])  # rooty turns nose-forward for positive angles
        rotation = self._rotation()
        airborne = not touching(self.data, self._body, self._floor)
        foot_contact = touching(self.data, self._foot, self._floor)
        new = max(0.0, rotation - self._furthest_rotation)  # new backward rotation, rad
        progress = new
        if self._flip_allowance:  # paid only up to completing the flip under way (v2)
            progress = min(new, max(0.0, self._rotation_to_complete()))
        beyond = new - progress  # turned past the flip's allowance this step (v3 charges it)
        self._furthest_rotation = max(self._furthest_rotation, rotation)
        self._airborne = airborne
        paid_airborne = started_airborne if self._markovian else airborne

        landed = False
        tol = self._landing_angle_tolerance
        flips = math.floor((rotation + tol) / (2 * math.pi))
        if flips > self._flips_landed:
            off_upright = abs(rotation - 2 * math.pi * flips)
            if off_upright < tol and foot_contact and height > self._landing_height:
                self._flips_landed = flips
                landed = True
        if not self._landing_observed:  # v3 and earlier pay it on the landing step
            landing_paid = landed
        self._landed = landed
        observation = self._get_obs()  # after the landing, which opens the next flip's allowance

        terms = {
            "reward_rotation": self._rotation_reward_weight * progress / self.dt * paid_airborne,
            "reward_height": self._height_reward_weight * height,
            "reward_landing": self._landing_reward * landing_paid,
            "reward_ctrl": -float(self.control_cost(action)),
        }
        if self._over_rotation_cost_weight > 0:  # v2 and earlier have no such term
            terms["reward_over_rotation"] = -self._over_rotation_cost_weight * beyond / self.dt
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
