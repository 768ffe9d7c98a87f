"""Synthetic teachers: each irrationality has the statistics B-Pref (Lee et al. 2021) gives it."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rlhf_robotics.preference.teachers import (
    PRESETS,
    Teacher,
    TeacherConfig,
    build_teacher,
    discounted_returns,
    preset,
)

Z_999 = 3.2905  # two-sided 99.9 % normal quantile
N = 20_000


def within_binomial_interval(successes: int, n: int, p: float) -> bool:
    """Is the observed rate inside the 99.9 % (normal-approximation) interval of a Binomial(n, p) rate?"""
    return abs(successes / n - p) <= Z_999 * math.sqrt(p * (1 - p) / n)


def random_segments(seed: int, n: int = N, h: int = 5) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, h)), rng.normal(size=(n, h))


def oracle_labels(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    return np.where(first.sum(-1) > second.sum(-1), "first", "second")


def test_oracle_always_picks_the_higher_return() -> None:
    first, second = random_segments(0, n=2000)
    labels = build_teacher("oracle", seed=0).judge(first, second)
    assert np.array_equal(np.array(labels), oracle_labels(first, second))


def test_mistake_rate_is_within_a_binomial_interval_of_epsilon() -> None:
    first, second = random_segments(1)
    labels = np.array(build_teacher("mistake", seed=1).judge(first, second))
    mistakes = int((labels != oracle_labels(first, second)).sum())
    assert within_binomial_interval(mistakes, N, 0.1), mistakes / N
    assert set(labels) == {"first", "second"}


@pytest.mark.parametrize("scale", [None, 2.0])
def test_equal_threshold_is_applied_exactly_once(scale: float | None) -> None:
    first, second = random_segments(2, n=5000)
    r1, r2 = first.sum(-1), second.sum(-1)
    s = scale if scale is not None else float(np.mean(np.abs(np.concatenate([r1, r2]))))  # default: mean |R|
    close = np.abs(r1 - r2) < 0.1 * s  # not 0.1·0.1·s (B-Pref's code scales the threshold a second time)
    assert 0.02 < close.mean() < 0.5  # the test data exercise both sides
    for teacher in (build_teacher("equal", seed=2), build_teacher("equal", seed=3, mistake=0.2)):
        for _ in range(2):  # a second round uses the same threshold
            labels = np.array(teacher.judge(first, second, scale=scale))
            assert np.array_equal(labels == "tie", close)
    # Outside the band, the equal teacher is the oracle.
    labels = np.array(build_teacher("equal", seed=2).judge(first, second, scale=scale))
    assert np.array_equal(labels[~close], oracle_labels(first, second)[~close])


def test_skip_threshold_is_applied_exactly_once() -> None:
    first, second = random_segments(3, n=5000)
    low = np.maximum(first.sum(-1), second.sum(-1)) < 0.1 * 2.0
    assert 0.1 < low.mean() < 0.9
    labels = np.array(build_teacher("skip", seed=3).judge(first, second, scale=2.0))
    assert np.array_equal(labels == "skip", low)
    assert np.array_equal(labels[~low], oracle_labels(first, second)[~low])


def test_myopic_weights_by_hand() -> None:
    # γ = 0.9 over H = 3 steps weights step t by γ^(H−1−t) = (0.81, 0.9, 1):
    #   [1, 2, 3] → 0.81·1 + 0.9·2 + 1·3 = 5.61
    #   [10, 0, 0] → 8.1,   [0, 0, 9] → 9
    returns = discounted_returns(np.array([[1.0, 2.0, 3.0], [10.0, 0.0, 0.0], [0.0, 0.0, 9.0]]), 0.9)
    np.testing.assert_allclose(returns, [5.61, 8.1, 9.0], rtol=1e-12)
    early, late = np.array([[10.0, 0.0, 0.0]]), np.array([[0.0, 0.0, 9.0]])
    # The undiscounted return (10 > 9) favours the early reward, the myopic teacher the recent one.
    assert build_teacher("oracle", seed=0).judge(early, late) == ["first"]
    assert build_teacher("myopic", seed=0).judge(early, late) == ["second"]


def test_finite_beta_gives_the_boltzmann_rate() -> None:
    # ΔR = 1 and β = 1: P(first) = σ(1) = 0.7310586.
    first, second = np.ones(N), np.zeros(N)
    labels = np.array(build_teacher("noisy", seed=4).judge(first, second))
    assert within_binomial_interval(int((labels == "first").sum()), N, 1 / (1 + math.exp(-1)))
    # β = 3 sharpens it: σ(3) = 0.9525741.
    labels = np.array(build_teacher("noisy", seed=4, beta=3.0).judge(first, second))
    assert within_binomial_interval(int((labels == "first").sum()), N, 1 / (1 + math.exp(-3)))


def test_random_responder_answers_first_half_the_time_whatever_the_items() -> None:
    first, second = np.full(N, 10.0), np.zeros(N)  # first is always far better
    labels = np.array(build_teacher("random", seed=5).judge(first, second))
    assert set(labels) == {"first", "second"}
    assert within_binomial_interval(int((labels == "first").sum()), N, 0.5)


def test_position_bias_answers_first_at_its_rate() -> None:
    first, second = np.zeros(N), np.ones(N)  # second is always better
    teacher = Teacher(TeacherConfig(position_bias=0.3), np.random.default_rng(6))
    labels = np.array(teacher.judge(first, second))
    assert within_binomial_interval(int((labels == "first").sum()), N, 0.3)


def test_return_noise_gives_the_gaussian_rate() -> None:
    # ΔR = 0.5, noise std 0.5·scale on each return (scale 1): ΔR + N(0, 2·0.25) > 0 with
    # probability Φ(0.5 / (0.5·√2)) = Φ(0.7071) = 0.7602500.
    first, second = np.full(N, 0.5), np.zeros(N)
    teacher = Teacher(TeacherConfig(return_noise=0.5), np.random.default_rng(7))
    labels = np.array(teacher.judge(first, second, scale=1.0))
    assert within_binomial_interval(int((labels == "first").sum()), N, 0.5 * (1 + math.erf(0.7071068 / math.sqrt(2))))


def test_the_six_b_pref_presets_have_b_prefs_values() -> None:
    # Lee et al. 2021, B-Pref README: oracle (β=−1 i.e. ∞), mistake ε=0.1, noisy β=1, skip ε_skip=0.1,
    # myopic γ=0.9, equal ε_equal=0.1; every other parameter at the oracle's value.
    expected = {
        "oracle": TeacherConfig(beta=-1),
        "mistake": TeacherConfig(mistake=0.1),
        "noisy": TeacherConfig(beta=1.0),
        "skip": TeacherConfig(skip_threshold=0.1),
        "myopic": TeacherConfig(gamma=0.9),
        "equal": TeacherConfig(equal_threshold=0.1),
    }
    for name, config in expected.items():
        assert PRESETS[name] == config, name
    assert PRESETS["oracle"].beta == math.inf
    assert PRESETS["random"].random_answer == 1.0


def test_same_seed_same_labels_and_another_seed_differs() -> None:
    first, second = random_segments(8, n=2000)
    a = build_teacher("noisy", seed=11).judge(first, second)
    b = build_teacher("noisy", seed=11).judge(first, second)
    c = build_teacher("noisy", seed=12).judge(first, second)
    assert a == b
    assert a != c


def test_unknown_preset_raises_naming_it() -> None:
    with pytest.raises(ValueError, match="'grumpy'"):
        build_teacher("grumpy", seed=0)


def test_overrides_and_invalid_parameters() -> None:
    assert preset("mistake", mistake=0.25).mistake == 0.25
    for bad in ({"beta": 0.0}, {"gamma": 1.5}, {"mistake": 1.2}, {"equal_threshold": -0.1}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            TeacherConfig(**bad)


def test_judge_takes_one_score_per_item_and_checks_shapes() -> None:
    teacher = build_teacher("oracle", seed=0)
    assert teacher.judge(np.array([2.0, -1.0]), np.array([1.0, 3.0])) == ["first", "second"]
    assert teacher.annotator == "teacher:oracle"
    with pytest.raises(ValueError, match="same shape"):
        teacher.judge(np.zeros((3, 4)), np.zeros((3, 5)))
