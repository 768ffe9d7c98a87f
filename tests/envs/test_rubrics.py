"""Physics rubrics as synthetic teachers: per-step scores, reweighting, and errors that name the fix."""

from __future__ import annotations

import numpy as np
import pytest
from rlhf_robotics.envs import physics_rubric, step_scores

from rlhf_robotics.preference.teachers import build_teacher


def walker_terms() -> dict[str, np.ndarray]:
    """Two 3-step walker segments: the first fast and jerky, the second slower and smooth."""
    return {
        "reward_pace": np.array([[1.5, 1.5, 1.5], [1.0, 1.0, 1.0]]),
        "reward_upright": np.ones((2, 3)),
        "reward_smooth": np.array([[-0.5, -0.5, -0.5], [0.0, 0.0, 0.0]]),
        "reward_fallen": np.zeros((2, 3)),
        "reward_ctrl": np.zeros((2, 3)),
    }


def test_step_scores_sum_to_the_rubric_score_and_reweighting_changes_the_teachers_answer() -> None:
    terms = walker_terms()
    rubric = physics_rubric("rlhf_robotics/Walker2dGracefulWalk-v0")
    scores = step_scores(rubric, terms)
    assert scores.shape == (2, 3)
    for i in range(2):
        assert scores[i].sum() == pytest.approx(rubric.score({k: v[i] for k, v in terms.items()}))
    np.testing.assert_allclose(scores.sum(-1), [6.0, 6.0])  # 3·(1.5 + 1 − 0.5) and 3·(1 + 1)
    smoother = rubric.weighted({"smooth": 3.0})
    assert build_teacher("oracle", seed=0).judge(*step_scores(smoother, terms)[:, None]) == ["second"]
    faster = rubric.weighted({"pace": 2.0})
    assert build_teacher("oracle", seed=0).judge(*step_scores(faster, terms)[:, None]) == ["first"]


def test_missing_terms_are_named() -> None:
    rubric = physics_rubric("rlhf_robotics/Walker2dGracefulWalk-v0")
    with pytest.raises(KeyError, match="reward_pace"):
        step_scores(rubric, {"reward_upright": np.ones((1, 2))})
    with pytest.raises(ValueError, match="give at least one a weight"):
        step_scores(rubric.weighted({c.name: 0.0 for c in rubric.criteria}), walker_terms())
