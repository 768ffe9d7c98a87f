"""Query selection scores by hand, and which candidates each rule keeps."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rlhf_robotics.preference.selection import (
    SELECTORS,
    candidate_count,
    check_selector,
    disagreement,
    entropy,
    greedy_kcenter,
    logit_variance,
    recent_pool,
    select,
)

# Two members, three candidates. σ(2) = 0.8807971, σ(−2) = 0.1192029, σ(1) = 0.7310586.
LOGITS = np.array([[0.0, 2.0, 1.0],
                   [0.0, -2.0, 1.0]])


def test_disagreement_is_the_std_of_member_probabilities() -> None:
    # candidate 1: P = (0.8807971, 0.1192029), std = |0.8807971 − 0.1192029| / 2 = 0.3807971
    np.testing.assert_allclose(disagreement(LOGITS), [0.0, 0.3807971, 0.0], atol=1e-7)


def test_entropy_is_that_of_the_mean_probability() -> None:
    # candidates 0 and 1: mean P = 0.5 → ln 2 = 0.6931472
    # candidate 2: P = 0.7310586 → −(0.7310586·ln 0.7310586 + 0.2689414·ln 0.2689414) = 0.5822031
    np.testing.assert_allclose(entropy(LOGITS), [math.log(2), math.log(2), 0.5822031], atol=1e-7)


def test_logit_variance_is_the_population_variance_of_logits() -> None:
    # candidate 1: logits (2, −2), mean 0, variance (4 + 4) / 2 = 4
    np.testing.assert_allclose(logit_variance(LOGITS), [0.0, 4.0, 0.0], atol=1e-12)


def test_select_returns_the_scores_with_the_choice() -> None:
    chosen, scores = select(LOGITS, 1, "logit_variance", np.random.default_rng(0))
    assert chosen.tolist() == [1]
    np.testing.assert_allclose(scores, [0.0, 4.0, 0.0])


@pytest.mark.parametrize("selector", ["disagreement", "logit_variance"])
def test_top_n_by_disagreement_picks_the_disagreeing_candidates(selector: str) -> None:
    rng = np.random.default_rng(0)
    shared = rng.normal(size=50)
    logits = np.tile(shared, (5, 1))  # five members that agree ...
    disputed = [3, 17, 41]
    logits[:, disputed] += rng.normal(scale=3.0, size=(5, 3))  # ... except on three candidates
    chosen, _ = select(logits, 3, selector, np.random.default_rng(1))
    assert sorted(chosen.tolist()) == disputed


def test_entropy_prefers_uncertain_pairs() -> None:
    logits = np.array([[5.0, 0.1, -4.0, 0.0]])  # a single model, (C,) → (1, C)
    chosen, _ = select(logits[0], 2, "entropy", np.random.default_rng(0))
    assert sorted(chosen.tolist()) == [1, 3]


def test_uniform_picks_distinct_indices_at_random() -> None:
    logits = np.zeros((3, 100))
    a, scores = select(logits, 30, "uniform", np.random.default_rng(0))
    b, _ = select(logits, 30, "uniform", np.random.default_rng(1))
    assert len(set(a.tolist())) == 30 and a.min() >= 0 and a.max() < 100
    assert set(a.tolist()) != set(b.tolist())
    assert np.array_equal(scores, np.zeros(100))
    # The same seed chooses the same pairs.
    assert np.array_equal(a, select(logits, 30, "uniform", np.random.default_rng(0))[0])


def test_asking_for_more_than_there_are_returns_all_once() -> None:
    chosen, _ = select(np.zeros((2, 7)), 20, "disagreement", np.random.default_rng(0))
    assert sorted(chosen.tolist()) == list(range(7))


def test_oversampling_factor() -> None:
    assert candidate_count(10, 10.0, "disagreement") == 100
    assert candidate_count(10, 1.5, "entropy") == 15
    assert candidate_count(10, 1.25, "logit_variance") == 13  # ceil(12.5)
    assert candidate_count(10, 10.0, "uniform") == 10  # uniform needs no extra candidates
    with pytest.raises(ValueError, match="0.5"):
        candidate_count(10, 0.5, "disagreement")


def test_unknown_selector_raises_naming_it() -> None:
    assert set(SELECTORS) == {"uniform", "disagreement", "entropy", "logit_variance", "kcenter_disagreement"}
    with pytest.raises(ValueError, match="'variance'"):
        select(LOGITS, 1, "variance", np.random.default_rng(0))


def test_greedy_kcenter_by_hand() -> None:
    points = np.array([[0.0], [1.0], [10.0], [11.0], [5.0]])
    # from point 0: farthest is 11 (index 3); then distances min(|x−0|, |x−11|) = 1, 9→... 10→1, 5→5: index 4
    assert greedy_kcenter(points, 3).tolist() == [0, 3, 4]
    # with a labelled centre at 10, the first pick is the farthest from it (0), then 5 (distance 5 to both)
    assert greedy_kcenter(points, 2, centres=np.array([[10.0]])).tolist() == [0, 4]
    assert greedy_kcenter(points, 9).tolist() == [0, 3, 4, 1, 2]  # asking for more returns each once
    assert greedy_kcenter(points, 0).tolist() == []


def test_kcenter_disagreement_keeps_disputed_candidates_and_spreads_them() -> None:
    # Six candidates; members disagree on 0, 1, 2 (the kept half). 0 and 1 lie together, 2 far away: a batch of
    # two takes the most disputed (1) and the far one (2), not the two most disputed (1 and 0).
    logits = np.array([[1.0, 3.0, 0.5, 0.0, 0.0, 0.0],
                       [-1.0, -3.0, -0.5, 0.0, 0.0, 0.0]])
    features = np.array([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0], [9.0, 9.0], [9.0, 0.0], [0.0, 9.0]])
    chosen, scores = select(logits, 2, "kcenter_disagreement", np.random.default_rng(0), features=features)
    assert chosen.tolist() == [1, 2]
    np.testing.assert_allclose(scores, disagreement(logits))
    top_two, _ = select(logits, 2, "disagreement", np.random.default_rng(0))
    assert sorted(top_two.tolist()) == [0, 1]
    with pytest.raises(ValueError, match="kcenter_disagreement needs features"):
        select(logits, 2, "kcenter_disagreement", np.random.default_rng(0))


def test_feature_selectors_are_refused_where_no_features_exist() -> None:
    assert check_selector("kcenter_disagreement", with_features=True) == "kcenter_disagreement"
    with pytest.raises(ValueError, match="needs candidate features"):
        check_selector("kcenter_disagreement")


def test_recent_pool_keeps_segments_from_the_latest_window() -> None:
    collected_at = np.array([100, 5000, 9000, 9999, 7000])
    # the last 2999 steps are 7001 … 9999; the last 3000 are 7000 … 9999
    assert recent_pool(collected_at, 2999).tolist() == [2, 3]
    assert recent_pool(collected_at, 3000).tolist() == [2, 3, 4]
    assert recent_pool(collected_at, 10**6).tolist() == [0, 1, 2, 3, 4]
    assert recent_pool(np.array([]), 10).tolist() == []
    with pytest.raises(ValueError, match="window=0: must be >= 1"):
        recent_pool(collected_at, 0)
