"""Physics rubrics of the suite's tasks: named, weighted criteria over a segment's per-step ``info`` terms.

An item is a mapping ``term name → (T,)`` array, e.g. one row of ``Segments.terms``
(``segment_items(segments)`` gives them). Each criterion sums one term over the segment, times a sign, so a
rubric's score is a weighted sum of per-step quantities and ``step_scores`` can hand a synthetic teacher the
per-step scores it needs (``Teacher.judge(first, second)`` takes ``(P, T)``).

Every task's rubric has one criterion per hidden-objective term with weight 1 (so the rubric score of a segment
equals its hidden return) and some physics criteria with weight 0 (logged and asked in the labelling app, not
optimised); ``Rubric.weighted`` shifts the emphasis. A synthetic rubric teacher::

    rubric = physics_rubric("rlhf_robotics/Walker2dGracefulWalk-v0").weighted({"smooth": 3.0})
    scores = step_scores(rubric, segments.terms)                       # (N, T)
    labels = build_teacher("oracle", seed=0).judge(scores[0::2], scores[1::2])
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from rlhf_robotics.preference.rubric import Criterion, Rubric


@dataclass(frozen=True)
class TermSum:
    """Criterion function ``sign · Σ_t item[term][t]`` over one per-step ``info`` term."""

    term: str
    """The ``info`` key (a per-step float)."""
    sign: float = 1.0
    """+1 when more is better, -1 when less is better."""

    def __call__(self, item: Mapping[str, Any]) -> float:
        if self.term not in item:
            raise KeyError(
                f"item has no term {self.term!r} (it has {sorted(item)}); record this info key in the segments"
            )
        return self.sign * float(np.sum(item[self.term]))


# (criterion name, info term, sign, weight, question). Objective terms first (weight 1), physics after (weight 0).
_Row = tuple[str, str, float, float, str]

_BACKFLIP_AFTER_ROTATION: list[_Row] = [
        ("height", "reward_height", 1, 1, "Which one keeps its body higher?"),
        ("landing", "reward_landing", 1, 1, "Which one lands a backflip on its foot?"),
        ("effort", "reward_ctrl", 1, 1, "Which one uses less force?"),
        ("airtime", "airborne", 1, 0, "Which one spends more time in the air?"),
        ("calm", "actuator_power", -1, 0, "Which one spends less energy?"),
]
"""Every HopperBackflip version's rows after its rotation question(s)."""

RUBRIC_ROWS: dict[str, list[_Row]] = {
    "HopperBackflip-v4": [
        # v3 charges turning past a full turn without landing what it would have earned; asked "which one does a
        # better backflip", a person counts extra turns that end on the back against it
        ("rotation", "reward_rotation", 1, 1,
         "Which one gets further through a backward turn in the air, up to one full turn?"),
        ("over_rotation", "reward_over_rotation", 1, 1, "Which one turns less past a full turn without landing it?"),
        *_BACKFLIP_AFTER_ROTATION,
    ],
    "HopperBackflip-v2": [
        # v2 pays rotation only up to completing the flip under way, so the question says so: asked "which turns
        # more", a person (like v1's objective) would prefer turning on past a full turn to landing it
        ("rotation", "reward_rotation", 1, 1,
         "Which one gets further through a backward turn in the air (turning past a full turn without landing "
         "counts for nothing)?"),
        *_BACKFLIP_AFTER_ROTATION,
    ],
    "HopperBackflip-v1": [
        ("rotation", "reward_rotation", 1, 1, "Which one turns backwards more while in the air?"),
        *_BACKFLIP_AFTER_ROTATION,
    ],
    "HalfCheetahOneLeg-v3": [
        ("forward", "reward_forward", 1, 1, "Which one moves forward faster?"),
        ("front_leg_up", "reward_front_contact", 1, 1, "Which one keeps its front leg off the ground?"),
        ("body_off_ground", "reward_body_contact", 1, 1, "Which one keeps its body off the ground?"),
        ("right_side_up", "reward_upside_down", 1, 1, "Which one stays right side up (not turned over)?"),
        ("effort", "reward_ctrl", 1, 1, "Which one uses less force?"),
        ("back_leg_support", "back_leg_contact", 1, 0, "Which one stands on its back leg more?"),
        ("calm", "actuator_power", -1, 0, "Which one spends less energy?"),
    ],
    "Walker2dGracefulWalk-v0": [
        ("pace", "reward_pace", 1, 1, "Which one walks forward at a better pace?"),
        ("upright", "reward_upright", 1, 1, "Which one keeps its torso more upright?"),
        ("smooth", "reward_smooth", 1, 1, "Which one moves more smoothly?"),
        ("standing", "reward_fallen", 1, 1, "Which one stays on its feet?"),
        ("effort", "reward_ctrl", 1, 1, "Which one uses less force?"),
        ("calm", "actuator_power", -1, 0, "Which one spends less energy?"),
    ],
    "AntUprightWalk-v0": [
        ("forward", "reward_forward", 1, 1, "Which one walks forward faster?"),
        ("upright", "reward_upright", 1, 1, "Which one keeps its body more level?"),
        ("smooth", "reward_smooth", 1, 1, "Which one moves more smoothly?"),
        ("standing", "reward_fallen", 1, 1, "Which one stays on its feet?"),
        ("effort", "reward_ctrl", 1, 1, "Which one uses less force?"),
        ("calm", "actuator_power", -1, 0, "Which one spends less energy?"),
    ],
    "ReacherSmooth-v3": [
        ("close", "reward_dist", 1, 1, "Which one keeps its fingertip closer to the target?"),
        ("smooth", "reward_jerk", 1, 1, "Which one moves more smoothly (no jerky motions)?"),
        ("effort", "reward_ctrl", 1, 1, "Which one uses less force?"),
        ("on_target", "reward_reach", 1, 1, "Which one keeps its fingertip on the target for longer?"),
        ("slow", "tip_speed", -1, 0, "Which one moves more slowly?"),
    ],
    "ReacherSmooth-v0": [
        ("close", "reward_dist", 1, 1, "Which one keeps its fingertip closer to the target?"),
        ("smooth", "reward_jerk", 1, 1, "Which one moves more smoothly (no jerky motions)?"),
        ("effort", "reward_ctrl", 1, 1, "Which one uses less force?"),
        ("slow", "tip_speed", -1, 0, "Which one moves more slowly?"),
    ],
    "PusherGentle-v2": [
        ("near", "reward_near", 1, 1, "Which one keeps its hand closer to the object?"),
        ("delivered", "reward_dist", 1, 1, "Which one brings the object closer to the goal?"),
        ("gentle", "reward_gentle", 1, 1, "Which one pushes the object more gently?"),
        ("effort", "reward_ctrl", 1, 1, "Which one uses less force?"),
        ("calm", "actuator_power", -1, 0, "Which one spends less energy?"),
    ],
}
"""Task name (without the ``rlhf_robotics/`` namespace) → its rubric's rows."""
RUBRIC_ROWS["HopperBackflip-v3"] = RUBRIC_ROWS["HopperBackflip-v4"]  # same terms; v4 observes the landing it pays
RUBRIC_ROWS["HopperBackflip-v0"] = RUBRIC_ROWS["HopperBackflip-v1"]  # same terms; v1 changed the objective's timing
RUBRIC_ROWS["PusherGentle-v1"] = RUBRIC_ROWS["PusherGentle-v2"]  # same terms; v2 only observes their distances
RUBRIC_ROWS["PusherGentle-v0"] = RUBRIC_ROWS["PusherGentle-v1"]  # same terms; v1 changed their weights and distance
RUBRIC_ROWS["ReacherSmooth-v2"] = RUBRIC_ROWS["ReacherSmooth-v3"]  # same terms; v3 only changed the verifier
RUBRIC_ROWS["ReacherSmooth-v1"] = RUBRIC_ROWS["ReacherSmooth-v2"]  # same terms; v2 only observes the distance
RUBRIC_ROWS["HalfCheetahOneLeg-v2"] = [  # v3 added only the upside-down cost
    row for row in RUBRIC_ROWS["HalfCheetahOneLeg-v3"] if row[0] != "right_side_up"]
RUBRIC_ROWS["HalfCheetahOneLeg-v1"] = RUBRIC_ROWS["HalfCheetahOneLeg-v2"]  # same terms; v2 changed only the observation
RUBRIC_ROWS["HalfCheetahOneLeg-v0"] = RUBRIC_ROWS["HalfCheetahOneLeg-v2"]  # same terms; v1 changed only the verifier


def physics_rubric(env_id: str) -> Rubric:
    """The named physics rubric of a suite task (``"rlhf_robotics/HopperBackflip-v4"`` or ``"HopperBackflip-v4"``)."""
    name = env_id.split("/", 1)[-1]
    if name not in RUBRIC_ROWS:
        raise ValueError(
            f"no physics rubric for {env_id!r}; suite tasks are "
            f"{', '.join('rlhf_robotics/' + k for k in RUBRIC_ROWS)}"
        )
    return Rubric([
        Criterion(name=c, fn=TermSum(term, float(sign)), weight=float(w), question=q)
        for c, term, sign, w, q in RUBRIC_ROWS[name]
    ])


def step_scores(rubric: Rubric, terms: Mapping[str, np.ndarray], weighted_only: bool = True) -> np.ndarray:
    """Per-step rubric scores ``Σ_k w_k · sign_k · terms[term_k]``, shape ``(..., T)`` like each term.

    Summing over the last axis gives ``rubric.score`` of each item; pass the result to ``Teacher.judge`` to make
    a synthetic rubric teacher. Criteria must be ``TermSum`` functions (all of this module's are).

    Args:
        rubric: a rubric whose criteria use ``TermSum``.
        terms: term name → ``(N, T)`` (or ``(T,)``) per-step values, e.g. ``Segments.terms``.
        weighted_only: skip weight-0 criteria (they add nothing; their terms need not be present).
    """
    total: np.ndarray | None = None
    for c in rubric.criteria:
        if weighted_only and c.weight == 0:
            continue
        if not isinstance(c.fn, TermSum):
            raise TypeError(f"criterion {c.name!r} is not a TermSum, so it has no per-step scores; use rubric.score")
        if c.fn.term not in terms:
            raise KeyError(f"criterion {c.name!r} needs term {c.fn.term!r}; the segments have {sorted(terms)}")
        part = c.weight * c.fn.sign * np.asarray(terms[c.fn.term], dtype=np.float64)
        total = part if total is None else total + part
    if total is None:
        raise ValueError("every criterion has weight 0; give at least one a weight to score steps")
    return total


def segment_items(segments: Any) -> list[dict[str, np.ndarray]]:
    """One rubric item per segment of a ``Segments`` batch: ``{term: (T,) array}``."""
    return [{k: v[i] for k, v in segments.terms.items()} for i in range(len(segments))]
