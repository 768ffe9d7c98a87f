"""``rlhf_robotics/ReacherSmooth-v3``: the Reacher brings its fingertip to the target along a smooth, low-jerk path.

``rlhf_robotics/ReacherSmooth-v2`` (``success_jerk_per_metre=0``), ``rlhf_robotics/ReacherSmooth-v1``
(``observe_distance=False, success_jerk_per_metre=0``) and ``rlhf_robotics/ReacherSmooth-v0``
(``reward_dist_weight=1, jerk_cost_weight=1e-3, reach_bonus=0, success_mean_jerk=100, observe_tip_motion=False,
observe_distance=False, success_jerk_per_metre=0``, 50 steps) stay registered to reproduce earlier runs."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import utils
from gymnasium.envs.mujoco.reacher_v5 import ReacherEnv
from gymnasium.spaces import Box
from rlhf_robotics.envs.physics import actuator_power

DEFAULT_CAMERA_CONFIG: dict[str, Any] = {"distance": 0.9, "elevation": -90.0, "azimuth": 90.0, "lookat": np.zeros(3)}
"""Clips show the whole arena from above (the v5 default camera is far away)."""


class ReacherSmoothEnv(ReacherEnv):
    """Reacher-v5 rewarded for reaching the target with a smooth fingertip path (low jerk), the way a person
    reaches, rather than Reacher-v5's bang-bang flick.

    ## Action space
    As Reacher-v5: ``Box(-1, 1, (2,))`` torques on the two hinges.

    ## Observation space
    ``Box(-inf, inf, (15,))``:

    | index | observation |
    |---|---|
    | 0–9 | as Reacher-v5: cos and sin of the two angles, target x/y, joint velocities, fingertip − target (x, y) |
    | 10–11 | fingertip velocity (x, y; m/s, finite difference over the last step) |
    | 12–13 | fingertip acceleration (x, y; m/s², finite difference of index 10–11 over the last step) |
    | 14 | ‖fingertip − target‖ (m; the distance term's argument) |

    Indices 10–13 are the state the jerk term reads and index 14 the distance term's, so that the hidden objective
    is a function of what the policy and a reward model (one step's observation and action) see, and its distance
    term a linear one. (v0 observed indices 0–9, v1 0–13.)

    ## Hidden objective (per step; every term is in ``info`` and they sum to the reward)
    | term | value |
    |---|---|
    | ``reward_dist`` | -``reward_dist_weight`` · ‖fingertip − target‖ (m) |
    | ``reward_jerk`` | -``jerk_cost_weight`` · ‖fingertip jerk‖ (m/s³, finite differences over steps) |
    | ``reward_ctrl`` | -``reward_control_weight`` · ‖a‖² |
    | ``reward_reach`` | ``reach_bonus`` while the fingertip is within ``success_distance`` of the target |

    The fingertip jerk is the third finite difference of its position over the step time (dt = 0.02 s); the
    fingertip is taken to be at rest before the first step (it starts at rest, up to Reacher-v5's ±0.005 rad/s).
    A fingertip that moves by Δ in one step and stays costs jerk ‖Δ‖/dt³, 2‖Δ‖/dt³, ‖Δ‖/dt³ over three steps.

    ## Rubric terms (raw physics, in ``info``)
    ``distance`` (m), ``tip_speed`` (m/s), ``tip_acceleration`` (m/s²), ``tip_jerk`` (m/s³),
    ``mean_jerk`` (m/s³, the verifier's), ``jerk_bound`` (m/s³, the episode's bound on it),
    ``actuator_power`` (Σ|τ·q̇|).

    ## Verifier
    ``info["is_success"]`` is true while the fingertip is within ``success_distance`` (0.02 m) of the target
    and the mean jerk over the episode so far is at most the episode's bound, ``info["jerk_bound"]``: the larger
    of ``success_mean_jerk`` (50 m/s³) and ``success_jerk_per_metre`` (300 m/s³ per metre) times the fingertip's
    distance to the target at the reset. Read it on the episode's last step.

    Why the bound grows with the distance: a reach of twice the distance in the same time has twice the jerk, so
    a fixed bound asks a long reach to be slower than a short one, and the hidden objective does not (below).

    The threshold tells a smooth reach from a flick. Measured over 20 episodes of 100 steps, the fingertip driven
    by a Jacobian-transpose controller (median over episodes of the episode's mean jerk): along a minimum-jerk
    path (Flash & Hogan 1985) to the target in 0.8 s, 12 m/s³; in 0.6 s, 20; in 0.3 s, 75; straight at the
    target, 330 (Reacher-v5's flick), or 117 with more damping. 50 m/s³ over 100 steps allows the summed jerk
    that v0's 100 m/s³ over 50 steps did.

    Until v3 (Dec 4), on long reaches the objective's own best reach failed the verifier. For a minimum-jerk
    reach the best duration trades the jerk cost against the distance cost, and at these weights it ends with a
    mean jerk of 44 over a shoulder-only turn of 1.0 rad (0.2 m), 71 over 1.8 rad (0.33 m, about the 90th
    percentile of the starts) and 99 over 2.5 rad (about the farthest); along straight fingertip paths above 50
    on 31 % of the starts. The loop's policies sit there (median mean jerk 42–61, success 0.46 against PPO's
    0.83, whose policies stop short of that optimum at 18–37). A jerk weight of 1e-2 put the optimum inside the
    bound but made both arms worse (PPO stopped 8–20 mm short; the loop parked 12 cm away, its teacher's
    comparisons turning mostly on jerk): ``benchmarks/results/suite_trial_reacher_jerk_1e-2.json``. v3 keeps the
    objective and scales the bound with the distance instead (version history).

    ## Starting state and episode end
    As Reacher-v5 (random arm angles, target uniformly in a disc of radius 0.2). No termination; the
    registered time limit is 100 steps (2 s).

    ## Version history
    - v3 (issue 15, Dec 4): the verifier's jerk bound grows with the reach, ``max(success_mean_jerk,
      success_jerk_per_metre · distance at the reset)`` with 300 m/s³ per metre, and ``info["jerk_bound"]``
      reports it; objective, observation and horizon are v2's, so a policy acts and is rewarded as in v2 and
      only its verdict can change. Why: v2's fixed bound of 50 failed the objective's own best reach on long
      reaches. Among minimum-jerk turns of the shoulder to a target where the fingertip ends (the arm otherwise
      still), the duration the objective scores highest ends with a mean jerk of 27, 44, 54, 71, 88, 99 and 110
      m/s³ over turns of 0.6, 1.0, 1.4, 1.8, 2.2, 2.5 and 2.8 rad (start distances 0.12, 0.20, 0.27, 0.33, 0.37,
      0.40 and 0.41 m; 2.8 rad is about the farthest start): 201–265 m/s³ per metre of start distance, above 50
      from 1.4 rad on. 300 per metre is the round figure above the largest of those (a shoulder-only arc is a
      longer path than the arm's best, so these are the hard case); minimum-jerk reaches hurried into 0.12–0.16 s
      still fail it, short or long (tests/envs/test_reacher_smooth_v3.py). The loop's v2 policies failed on
      exactly those long reaches: from start distances of 0.3–0.5 m, four of five seeds ended 2–11 mm from the
      target (median) with a median mean jerk of 47–104, and passed 0.00–0.45 of those episodes (0.77–1.00 from
      under 0.2 m; ``benchmarks/suite_episode_breakdown.py --bin-by first_distance`` on the suite's evaluation
      episodes), while true-reward PPO stopped short of the objective's optimum (mean jerk 18–37) and passed. A jerk weight of 1e-2
      (the objective changed instead, tried and reverted on Dec 4) made both arms worse.
    - v2 (issue 15, "taught by preferences"): observes the fingertip's distance to the target (index 14); nothing
      else changes (objective, verifier, horizon). Why: the loop's reward model (1,000 rubric-teacher labels,
      500 k steps, 5 seeds, ``benchmarks/suite.py``) followed the true reward at 0.87–0.96 per-step correlation,
      yet its policies parked the fingertip 3–10 cm from the target (success 0.06–0.12 against true-reward PPO's
      0.78–0.92, whose policies stop within 3–4 mm). On the states of both policies' episodes (10 each, Dec 4),
      the learned reward ranked the loop's own parked episodes above PPO's reaching ones on 4 of 5 seeds, and
      within 5 cm of the target it *fell* as the fingertip came closer (correlation with −distance −0.34 to
      −0.60 on those 4 seeds). In v1 the distance term is a cone over the observed fingertip − target vector
      (indices 8–9), with its apex at the target; a per-step MLP fitted on segments that seldom came near the
      apex does not extrapolate to it. With the distance observed, that term is linear in one input.
    - v1 (issue 15, "calibrated tasks"): a budget at which PPO passes the verifier. SB3 PPO on v0's objective
      (seed 0, 4 envs, the loop's settings, 2 M steps) never passed (success ≤ 0.1): it parked the fingertip
      ~0.14 m from the target, the distance term (weight 1) too weak against the jerk and control costs. With
      ``reward_dist_weight=10`` it reached to 0.025 m but with a mean jerk of 127 m/s³ (~500 on each of the
      first steps), and that hurried reach is near the objective's own optimum: for a minimum-jerk reach of
      duration T the jerk cost grows as 1/T³ and the distance cost as T, so the best T goes as
      (``jerk_cost_weight`` / ``reward_dist_weight``)^¼ — about 0.7 s at v0's ratio 1e-3 (mean jerk ~25 over
      50 steps), 0.4 s at 1e-4 (~130). v1 sets ``reward_dist_weight`` 1 → 10 and ``jerk_cost_weight``
      1e-3 → 2e-3 (ratio 2e-4: about 0.5 s), pays ``reach_bonus`` 0.2 a step within ``success_distance`` (the
      last 2 cm are worth 10 times what the distance term pays there), observes the fingertip's velocity and
      acceleration that the jerk term reads (indices 10–13), and registers 100 steps (was 50) so that a smooth
      reach has time to finish; ``success_mean_jerk`` halves to 50 with the doubled horizon. Measured on the
      way (PPO, seed 0, 1 M steps, success of 10 evaluation episodes every 0.1 M): these weights at 50 steps
      (threshold 100, the first two steps left out of it) passed at 0.7–0.8 M only (0.0 0.0 0.4 0.3 0.1 0.4 0.7
      0.5 0.3 0.2), the final policy failing on distance (0.02–0.08 m; mean jerk 20–100); at 100 steps (the
      same threshold and grace) 0.0 0.2 0.2 0.4 0.8 0.5 0.2 0.6 0.7 0.7, the final policy's 20 episodes with
      mean jerk 12–53 m/s³ over the whole episode, first steps included, and 14 of them within 0.02 m (the rest
      0.023–0.045 m). So the grace was dropped (it changed no episode's verdict at 100 steps); at v1's
      threshold of 50 one more of those 20 episodes fails (mean jerk 53, 0.014 m): success 0.65. v1 as
      released (the same training, bit for bit; only the verifier differs): 0.0 0.2 0.2 0.2 0.5 0.5 0.2 0.6 0.7
      0.6, final 0.5.
    - v0: first version.
    """

    def __init__(
        self,
        reward_dist_weight: float = 10.0,
        jerk_cost_weight: float = 2e-3,
        reward_control_weight: float = 0.1,
        reach_bonus: float = 0.2,
        success_distance: float = 0.02,
        success_mean_jerk: float = 50.0,
        success_jerk_per_metre: float = 300.0,
        observe_tip_motion: bool = True,
        observe_distance: bool = True,
        default_camera_config: dict[str, Any] = DEFAULT_CAMERA_CONFIG,
        **kwargs: Any,
    ) -> None:
        """Args (beyond the reward weights and thresholds named in the class docstring):
            success_jerk_per_metre: the verifier's jerk bound per metre of the start distance (m/s³ per m); 0
                reproduces v2's fixed bound of ``success_mean_jerk``.
            observe_tip_motion: observation indices 10–13 (the fingertip's velocity and acceleration, the state
                the jerk term reads); False reproduces v0's 10-dim observation.
            observe_distance: the last observation index, the fingertip's distance to the target; False
                reproduces v1's 14-dim observation (v0's 10-dim one with ``observe_tip_motion=False``).
        """
        for name, value in (("reward_dist_weight", reward_dist_weight), ("jerk_cost_weight", jerk_cost_weight),
                            ("reward_control_weight", reward_control_weight), ("reach_bonus", reach_bonus),
                            ("success_distance", success_distance), ("success_mean_jerk", success_mean_jerk),
                            ("success_jerk_per_metre", success_jerk_per_metre)):
            if value < 0:
                raise ValueError(f"{name}={value!r} must be >= 0 (weights and thresholds are magnitudes; "
                                 "the objective's terms carry their own signs)")
        super().__init__(
            reward_dist_weight=reward_dist_weight, reward_control_weight=reward_control_weight,
            default_camera_config=default_camera_config, **kwargs,
        )
        utils.EzPickle.__init__(
            self, reward_dist_weight, jerk_cost_weight, reward_control_weight, reach_bonus, success_distance,
            success_mean_jerk, success_jerk_per_metre, observe_tip_motion, observe_distance, default_camera_config,
            **kwargs,
        )
        self._jerk_cost_weight = jerk_cost_weight
        self._reach_bonus = reach_bonus
        self._success_distance = success_distance
        self._success_mean_jerk = success_mean_jerk
        self._success_jerk_per_metre = success_jerk_per_metre
        self._jerk_bound = success_mean_jerk
        self._observe_tip_motion = observe_tip_motion
        self._observe_distance = observe_distance
        self._tip = np.zeros(2)
        self._tip_velocity = np.zeros(2)
        self._tip_acceleration = np.zeros(2)
        self._steps, self._jerk_sum = 0, 0.0
        size = 10 + 4 * observe_tip_motion + observe_distance
        if size != 10:
            self.observation_space = Box(low=-np.inf, high=np.inf, shape=(size,), dtype=np.float64)

    def _get_obs(self) -> np.ndarray:
        parts = [super()._get_obs()]
        if self._observe_tip_motion:
            parts += [self._tip_velocity, self._tip_acceleration]
        if self._observe_distance:
            parts.append([np.linalg.norm(self.get_body_com("fingertip") - self.get_body_com("target"))])
        return np.concatenate(parts)

    def reset_model(self) -> np.ndarray:
        super().reset_model()
        self._tip = self.get_body_com("fingertip")[:2].copy()
        self._tip_velocity = np.zeros(2)
        self._tip_acceleration = np.zeros(2)
        self._steps, self._jerk_sum = 0, 0.0
        return self._get_obs()

    def step(  # type: ignore[override]  # info also holds bools; MujocoEnv's stub says float64 only
        self, action: np.ndarray
    ) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        self.do_simulation(action, self.frame_skip)
        if self._steps == 0:  # the fingertip where the reset left it, and the target (which never moves)
            start = float(np.linalg.norm(self._tip - self.get_body_com("target")[:2]))
            self._jerk_bound = max(self._success_mean_jerk, self._success_jerk_per_metre * start)

        tip = self.get_body_com("fingertip")[:2].copy()
        velocity = (tip - self._tip) / self.dt
        acceleration = (velocity - self._tip_velocity) / self.dt
        jerk = float(np.linalg.norm((acceleration - self._tip_acceleration) / self.dt))
        self._tip, self._tip_velocity, self._tip_acceleration = tip, velocity, acceleration
        observation = self._get_obs()
        distance = float(np.linalg.norm(self.get_body_com("fingertip") - self.get_body_com("target")))
        self._steps += 1
        self._jerk_sum += jerk
        mean_jerk = self._jerk_sum / self._steps

        terms = {
            "reward_dist": -self._reward_dist_weight * distance,
            "reward_jerk": -self._jerk_cost_weight * jerk,
            "reward_ctrl": -self._reward_control_weight * float(np.sum(np.square(action))),
            "reward_reach": self._reach_bonus * (distance <= self._success_distance),
        }
        reward = float(sum(terms.values()))
        success = distance <= self._success_distance and mean_jerk <= self._jerk_bound
        info: dict[str, Any] = {
            **terms,
            "distance": distance,
            "tip_speed": float(np.linalg.norm(velocity)),
            "tip_acceleration": float(np.linalg.norm(acceleration)),
            "tip_jerk": jerk,
            "mean_jerk": mean_jerk,
            "jerk_bound": self._jerk_bound,
            "actuator_power": actuator_power(self.data),
            "is_success": bool(success),
        }
        if self.render_mode == "human":
            self.render()
        return observation, reward, False, False, info
