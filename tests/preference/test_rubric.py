"""Rubrics: a weighted sum of named criteria; weight 0 is asked and logged but not optimised."""

from __future__ import annotations

import math

import pytest

from rlhf_robotics.preference.rubric import Criterion, Rubric

ITEM = {"speed": 2.0, "height": 0.5, "energy": 3.0}


def rubric() -> Rubric:
    return Rubric([
        Criterion("speed", lambda x: x["speed"], weight=1.5, question="Which one runs faster?"),
        Criterion("height", lambda x: x["height"], weight=-2.0),
        Criterion("energy", lambda x: x["energy"], weight=0.0),
    ])


def test_score_is_the_weighted_sum_by_hand() -> None:
    # 1.5·2 + (−2)·0.5 + 0·3 = 3 − 1 = 2
    assert rubric().score(ITEM) == pytest.approx(2.0)


def test_weight_zero_is_logged_not_scored() -> None:
    r = rubric()
    assert r.terms(ITEM) == {"speed": 2.0, "height": 0.5, "energy": 3.0}
    assert r.names == ("speed", "height", "energy")
    # Even a criterion that cannot be computed (nan) does not leak into the score when its weight is 0.
    bad = Rubric([Criterion("speed", lambda x: x["speed"]), Criterion("broken", lambda x: math.nan, weight=0.0)])
    assert bad.score(ITEM) == 2.0
    assert math.isnan(bad.terms(ITEM)["broken"])


def test_reweighting() -> None:
    r = rubric().weighted({"energy": 1.0, "height": 0.0})
    assert r.score(ITEM) == pytest.approx(1.5 * 2.0 + 3.0)
    assert r.criteria[0].question == "Which one runs faster?"
    with pytest.raises(ValueError, match="'power'"):
        rubric().weighted({"power": 1.0})


def test_duplicate_names_raise() -> None:
    with pytest.raises(ValueError, match="speed"):
        Rubric([Criterion("speed", lambda x: 0.0), Criterion("speed", lambda x: 1.0)])


def test_an_empty_rubric_raises() -> None:
    with pytest.raises(ValueError, match="at least one"):
        Rubric([])
