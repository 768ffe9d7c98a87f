"""The evaluation maths against values computed by hand: reward-model accuracy against the oracle and the
learned-vs-true reward correlation (``summary.json``'s ``reward_model_accuracy_vs_oracle`` and
``reward_correlation_*``)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rlhf_robotics.robotics.evaluation import pair_accuracy, pearson


def test_pair_accuracy_counts_only_pairs_with_distinct_true_scores() -> None:
    true_first = np.array([1.0, 1.0, 0.0, 2.0, 3.0])
    true_second = np.array([0.0, 2.0, 0.0, 1.0, 5.0])
    # pair 0: 3 > 1 and truly first → right; 1: 1 < 2, truly second → right; 2: a true tie → not counted;
    # 3: 0 < 5 but truly first → wrong; 4: 7 > 6 but truly second → wrong.  2 right of 4 decisive.
    pred_first = np.array([3.0, 1.0, 9.0, 0.0, 7.0])
    pred_second = np.array([1.0, 2.0, -9.0, 5.0, 6.0])
    assert pair_accuracy(pred_first, pred_second, true_first, true_second) == 0.5
    assert pair_accuracy(true_first, true_second, true_first, true_second) == 1.0  # the oracle itself
    assert pair_accuracy(true_second, true_first, true_first, true_second) == 0.0  # the oracle reversed
    # only the order matters: any increasing transform of the predictions gives the same accuracy
    assert pair_accuracy(np.exp(pred_first), np.exp(pred_second), true_first, true_second) == 0.5


def test_pair_accuracy_without_a_decisive_pair_is_nan() -> None:
    same = np.array([1.0, 2.0])
    assert math.isnan(pair_accuracy(np.array([0.0, 1.0]), np.array([1.0, 0.0]), same, same))


def test_pearson_against_a_hand_computation() -> None:
    x = np.array([1.0, 2.0, 3.0, 4.0])
    y = np.array([2.0, 4.0, 5.0, 9.0])
    # deviations (-1.5, -0.5, 0.5, 1.5) and (-3, -1, 0, 4): Σdxdy = 11, Σdx² = 5, Σdy² = 26 → 11 / √130
    assert pearson(x, y) == pytest.approx(11 / math.sqrt(130), abs=1e-12)
    assert pearson(x, 3 * x - 7) == pytest.approx(1.0)
    assert pearson(x, -x) == pytest.approx(-1.0)
    assert pearson(x.reshape(2, 2), y.reshape(2, 2)) == pytest.approx(11 / math.sqrt(130))  # flattened
    assert math.isnan(pearson(x, np.full(4, 2.0)))  # a constant reward has no correlation



def test_fraction_of_baseline_only_for_returns_that_order_policies() -> None:
    from rlhf_robotics.robotics.evaluation import fraction_of_baseline

    assert fraction_of_baseline(300.0, 400.0) == 0.75
    assert fraction_of_baseline(0.0, 400.0) == 0.0
    assert fraction_of_baseline(-5.0, 400.0) is None  # a negative return is no share of the baseline
    assert fraction_of_baseline(300.0, 0.0) is None and fraction_of_baseline(300.0, -10.0) is None


def test_normalized_score_maps_random_to_0_and_reference_to_1() -> None:
    from rlhf_robotics.robotics.evaluation import normalized_score

    assert normalized_score(-100.0, -100.0, 300.0) == 0.0
    assert normalized_score(300.0, -100.0, 300.0) == 1.0
    assert normalized_score(100.0, -100.0, 300.0) == 0.5
    assert normalized_score(-300.0, -100.0, 300.0) == -0.5  # worse than random goes below 0
    assert normalized_score(5.0, 7.0, 7.0) is None
