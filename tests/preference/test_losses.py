"""Bradley–Terry loss against numbers computed by hand (σ(x) = 1 / (1 + e^−x))."""

from __future__ import annotations

import math

import pytest
import torch

from rlhf_robotics.preference.losses import bradley_terry_loss, preference_probability


def t(*values: float) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float64)


def loss(s1: float, s2: float, target: float, **kw: float) -> float:
    return float(bradley_terry_loss(t(s1), t(s2), t(target), **kw))


def test_equal_scores_cost_ln2_whatever_the_decisive_label() -> None:
    # σ(0) = 1/2, so −ln P = ln 2 for "first" and for "second".
    assert loss(3.0, 3.0, 1.0) == pytest.approx(math.log(2), abs=1e-12)
    assert loss(-1.0, -1.0, 0.0) == pytest.approx(math.log(2), abs=1e-12)


def test_worked_example() -> None:
    # s₁ = 2, s₂ = 1, Δ = 1:
    #   target 1:    −ln σ(1)  = ln(1 + e^−1) = 0.3132617
    #   target 0:    −ln σ(−1) = ln(1 + e)    = 1.3132617
    #   target 0.75: 0.75·0.3132617 + 0.25·1.3132617 = 0.5632617
    #   batch [target 1, target 0] → mean (0.3132617 + 1.3132617) / 2 = 0.8132617
    assert loss(2.0, 1.0, 1.0) == pytest.approx(0.3132617, abs=1e-7)
    assert loss(2.0, 1.0, 0.0) == pytest.approx(1.3132617, abs=1e-7)
    assert loss(2.0, 1.0, 0.75) == pytest.approx(0.5632617, abs=1e-7)
    batch = bradley_terry_loss(t(2.0, 2.0), t(1.0, 1.0), t(1.0, 0.0))
    assert float(batch) == pytest.approx(0.8132617, abs=1e-7)


@pytest.mark.parametrize("kw", [{}, {"noise": 0.1}, {"label_smoothing": 0.2}, {"margin": 0.5}])
def test_tie_at_equal_scores_has_zero_gradient(kw: dict[str, float]) -> None:
    s1 = t(0.7, -2.0).requires_grad_()
    s2 = t(0.7, -2.0).requires_grad_()
    bradley_terry_loss(s1, s2, t(0.5, 0.5), **kw).backward()
    assert torch.allclose(s1.grad, torch.zeros(2, dtype=torch.float64), atol=1e-12)
    assert torch.allclose(s2.grad, torch.zeros(2, dtype=torch.float64), atol=1e-12)


def test_decisive_label_at_equal_scores_pushes_the_scores_apart() -> None:
    # d/ds₁ of −ln σ(s₁ − s₂) = −(1 − σ(0)) = −1/2, divided by the batch size 2.
    s1 = t(0.0, 0.0).requires_grad_()
    s2 = t(0.0, 0.0).requires_grad_()
    bradley_terry_loss(s1, s2, t(1.0, 1.0)).backward()
    assert torch.allclose(s1.grad, t(-0.25, -0.25))
    assert torch.allclose(s2.grad, t(0.25, 0.25))


@pytest.mark.parametrize(
    "kw", [{}, {"noise": 0.1}, {"label_smoothing": 0.2}, {"margin": 0.5}, {"margin": 0.3, "noise": 0.1}]
)
def test_swapping_first_and_second_with_target_one_minus_target_gives_the_same_loss(kw: dict[str, float]) -> None:
    gen = torch.Generator().manual_seed(0)
    s1 = torch.randn(32, generator=gen, dtype=torch.float64)
    s2 = torch.randn(32, generator=gen, dtype=torch.float64)
    target = torch.tensor([1.0, 0.0, 0.5, 0.25] * 8, dtype=torch.float64)
    forward = bradley_terry_loss(s1, s2, target, **kw)
    swapped = bradley_terry_loss(s2, s1, 1.0 - target, **kw)
    assert float(forward) == pytest.approx(float(swapped), abs=1e-12)


def test_margin_must_be_won_by_the_preferred_side() -> None:
    # s₁ = 2, s₂ = 1, margin 0.5:
    #   first preferred:  −ln σ(Δ − m)  = −ln σ(0.5)  = 0.4740770
    #   second preferred: −ln σ(−Δ − m) = −ln σ(−1.5) = 1.7014133
    assert loss(2.0, 1.0, 1.0, margin=0.5) == pytest.approx(0.4740770, abs=1e-7)
    assert loss(2.0, 1.0, 0.0, margin=0.5) == pytest.approx(1.7014133, abs=1e-7)
    # A win by exactly the margin costs what an even match costs without one.
    assert loss(1.5, 1.0, 1.0, margin=0.5) == pytest.approx(math.log(2), abs=1e-12)
    assert loss(1.0, 1.5, 0.0, margin=0.5) == pytest.approx(math.log(2), abs=1e-12)


def test_uniform_noise_mixing_matches_the_hand_likelihood() -> None:
    # Christiano et al. 2017: P = 0.9·σ(Δ) + 0.05. With Δ = 1: σ(1) = 0.7310586,
    # P = 0.9·0.7310586 + 0.05 = 0.7079527; −ln P = 0.3453780; −ln(1 − P) = −ln 0.2920473 = 1.2308396.
    assert loss(2.0, 1.0, 1.0, noise=0.1) == pytest.approx(0.3453780, abs=1e-7)
    assert loss(2.0, 1.0, 0.0, noise=0.1) == pytest.approx(1.2308396, abs=1e-7)
    # A hopeless pair costs at most −ln(0.05) = 2.9957323, with no overflow.
    assert loss(-100.0, 100.0, 1.0, noise=0.1) == pytest.approx(2.9957323, abs=1e-7)


def test_label_smoothing_pulls_targets_toward_one_half() -> None:
    # ε = 0.2: target 1 → 1·0.8 + 0.1 = 0.9; loss = 0.9·0.3132617 + 0.1·1.3132617 = 0.4132617.
    assert loss(2.0, 1.0, 1.0, label_smoothing=0.2) == pytest.approx(0.4132617, abs=1e-7)
    # ε = 1 turns every label into a tie.
    assert loss(2.0, 1.0, 1.0, label_smoothing=1.0) == pytest.approx(loss(2.0, 1.0, 0.5), abs=1e-12)


def test_weights_give_a_weighted_mean() -> None:
    # (1·0.3132617 + 3·1.3132617) / 4 = 1.0632617
    value = bradley_terry_loss(t(2.0, 2.0), t(1.0, 1.0), t(1.0, 0.0), weight=t(1.0, 3.0))
    assert float(value) == pytest.approx(1.0632617, abs=1e-7)


def test_ensemble_dimension_is_averaged_with_shared_targets() -> None:
    # Member 0 has Δ = 1 on the pair, member 1 has Δ = −1; target 1 → (0.3132617 + 1.3132617) / 2.
    value = bradley_terry_loss(t(2.0, 0.0).view(2, 1), t(1.0, 1.0).view(2, 1), t(1.0))
    assert float(value) == pytest.approx(0.8132617, abs=1e-7)


def test_noise_keeps_float64_precision() -> None:
    value = bradley_terry_loss(t(2.0), t(1.0), t(1.0), noise=0.1)
    assert value.dtype == torch.float64
    assert float(value) == pytest.approx(-math.log(0.9 / (1 + math.exp(-1)) + 0.05), abs=1e-14)


@pytest.mark.parametrize("kw", [{"noise": 1.0}, {"noise": -0.1}, {"label_smoothing": 1.5}])
def test_out_of_range_options_raise(kw: dict[str, float]) -> None:
    name = next(iter(kw))
    with pytest.raises(ValueError, match=name):
        bradley_terry_loss(t(1.0), t(0.0), t(1.0), **kw)


def test_preference_probability() -> None:
    # σ(2 − 1 − 0.5) = σ(0.5) = 0.6224593
    assert float(preference_probability(t(2.0), t(1.0), margin=0.5)) == pytest.approx(0.6224593, abs=1e-7)
