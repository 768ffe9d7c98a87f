"""Issue 13's techniques in the core: hand-computed values, a learning signal on toy problems, and errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from rlhf_robotics.preference.augment import crop_window, temporal_crop
from rlhf_robotics.preference.ensemble import MLPConfig, StackedStepReward
from rlhf_robotics.preference.intrinsic import ensemble_bonus, rune_beta, rune_bonus
from rlhf_robotics.preference.robust import TrustFilter, label_losses, rime_beta, trust_bound
from rlhf_robotics.preference.self_predictive import SelfPredictive, consecutive_steps
from rlhf_robotics.preference.semi_supervised import pseudo_label_loss, pseudo_labels
from rlhf_robotics.preference.techniques import (
    REEDConfig,
    RIMEConfig,
    RUNEConfig,
    SURFConfig,
    TechniquesConfig,
)
from rlhf_robotics.preference.trainer import PairDataset, RewardTrainerConfig, train_ensemble

from .test_trainer import D, T, linear_pairs, new_ensemble, pair_accuracy

# ---- B-Pref's accuracy stop -----------------------------------------------------------------------------------


def test_accuracy_stop_ends_a_fit_early_once_the_labels_are_fitted() -> None:
    data, _ = linear_pairs(0, n_items=100, n_pairs=300)
    config = RewardTrainerConfig(epochs=60, lr=3e-3, regularisation="none", val_fraction=0.0, device="cpu")
    runs = {}
    for stop in (None, 0.97):
        ensemble = new_ensemble(items=data.items)
        runs[stop] = train_ensemble(ensemble, data, config, np.random.default_rng(0),
                                    techniques=TechniquesConfig(stop_accuracy=stop))
    assert runs[None].epochs == [60, 60] and runs[None].stopped_by_accuracy == [False, False]
    stopped = runs[0.97]
    assert stopped.stopped_by_accuracy == [True, True]
    assert max(stopped.epochs) < 20  # a cheaper fit: the linear reward is learnt within a few epochs
    assert stopped.train_accuracy >= 0.95


def test_accuracy_stop_never_fires_on_labels_it_cannot_fit() -> None:
    data, _ = linear_pairs(1, n_items=40, n_pairs=80)
    data.target.copy_(torch.as_tensor(np.random.default_rng(1).integers(2, size=80), dtype=torch.float32))
    config = RewardTrainerConfig(epochs=5, regularisation="none", val_fraction=0.0, device="cpu")
    metrics = train_ensemble(new_ensemble(mlp=MLPConfig(hidden_sizes=(4,))), data, config, np.random.default_rng(0),
                             techniques=TechniquesConfig(stop_accuracy=0.99))
    assert metrics.epochs == [5, 5] and metrics.stopped_by_accuracy == [False, False]


# ---- SURF: temporal crops -------------------------------------------------------------------------------------


def test_crop_window_stays_inside_the_segment_and_reaches_every_window() -> None:
    gen = torch.Generator().manual_seed(0)
    seen = {crop_window(10, 3, gen) for _ in range(2000)}
    # c in 0..3 removes c steps; the offset is 0..c: 1 + 2 + 3 + 4 = 10 distinct (offset, window) pairs
    assert seen == {(o, 10 - c) for c in range(4) for o in range(c + 1)}
    assert crop_window(10, 0, gen) == (0, 10)


def test_temporal_crop_cuts_both_segments_to_the_same_window() -> None:
    segments = torch.arange(2 * 5 * 1, dtype=torch.float32).reshape(2, 5, 1)
    cropped = temporal_crop(segments, 1, 3)
    assert cropped[..., 0].tolist() == [[1.0, 2.0, 3.0], [6.0, 7.0, 8.0]]


def test_crop_errors_name_the_setting() -> None:
    with pytest.raises(ValueError, match=r"crop_steps=5: must be >= 0 and < the segment length 5"):
        crop_window(5, 5, torch.Generator())
    data, _ = linear_pairs(0, n_items=10, n_pairs=20)
    with pytest.raises(ValueError, match=rf"techniques.crop_steps={T}: must be < the segment length {T}"):
        train_ensemble(new_ensemble(), data, RewardTrainerConfig(device="cpu"), np.random.default_rng(0),
                       techniques=TechniquesConfig(crop_steps=T))
    tokens = PairDataset(torch.zeros(4, 6, dtype=torch.long), torch.tensor([0]), torch.tensor([1]), torch.tensor([1.0]))
    with pytest.raises(ValueError, match=r"crops segments \(N, T, D\).*set techniques.crop_steps=0"):
        train_ensemble(new_ensemble(), tokens, RewardTrainerConfig(device="cpu"), np.random.default_rng(0),
                       techniques=TechniquesConfig(crop_steps=1))


def test_training_on_crops_still_recovers_the_reward() -> None:
    train, _ = linear_pairs(0, n_items=200, n_pairs=600)
    test, _ = linear_pairs(1, n_items=200, n_pairs=1000)
    ensemble = new_ensemble(items=train.items)
    train_ensemble(ensemble, train, RewardTrainerConfig(epochs=30, lr=3e-3, device="cpu"), np.random.default_rng(0),
                   techniques=TechniquesConfig(crop_steps=2))
    assert pair_accuracy(ensemble, test) > 0.93


# ---- SURF: pseudo-labels --------------------------------------------------------------------------------------


def test_pseudo_labels_by_hand() -> None:
    # σ(2) = 0.8808 > 0.8 → first, kept; σ(−2) = 0.1192 → second, kept (1 − 0.1192 > 0.8); σ(0.1) = 0.525 → not kept
    logits = torch.tensor([2.0, -2.0, 0.1])
    target, mask = pseudo_labels(logits, 0.8)
    assert target.tolist() == [1.0, 0.0, 1.0]
    assert mask.tolist() == [True, True, False]
    # each kept pair costs ln(1 + e^−2) = 0.1269280; the mean is over all three pairs: 0.2538560 / 3 = 0.0846187
    assert float(pseudo_label_loss(logits, logits, 0.8)) == pytest.approx(0.0846187, abs=1e-6)
    # the labels come from the second argument (un-augmented pairs), the gradient from the first
    assert float(pseudo_label_loss(torch.zeros(3), logits, 0.8)) == pytest.approx(2 * math.log(2) / 3, abs=1e-6)
    assert not pseudo_labels(logits, 0.9)[1].any()  # 0.8808 < 0.9: nothing is confident enough


def test_pseudo_labels_help_when_labels_are_few() -> None:
    """20 labelled pairs and 400 unlabelled segments: SURF's pseudo-labels raise held-out accuracy on average."""
    plain, surf, fractions = [], [], []
    for seed in range(4):
        train, _ = linear_pairs(seed, n_items=40, n_pairs=20)
        unlabelled = torch.as_tensor(np.random.default_rng(50 + seed).normal(size=(400, T, D)), dtype=torch.float32)
        test, _ = linear_pairs(1000 + seed, n_items=200, n_pairs=1000)
        config = RewardTrainerConfig(epochs=60, lr=3e-3, batch_size=16, regularisation="none", val_fraction=0.0,
                                     device="cpu")
        for on, scores in ((False, plain), (True, surf)):
            ensemble = new_ensemble(seed=seed, size=1, items=train.items)
            metrics = train_ensemble(ensemble, train, config, np.random.default_rng(seed), unlabelled=unlabelled,
                                     techniques=TechniquesConfig(surf=SURFConfig(enabled=on, threshold=0.95)))
            scores.append(pair_accuracy(ensemble, test))
            if on:
                fractions.append(metrics.pseudo_labelled_fraction)
    assert np.mean(surf) > np.mean(plain)
    assert all(0.1 < f < 0.9 for f in fractions)  # some pairs are confident, not all


def test_surf_without_unlabelled_segments_says_what_to_pass() -> None:
    data, _ = linear_pairs(0, n_items=10, n_pairs=20)
    with pytest.raises(ValueError, match="needs unlabelled segments: pass unlabelled="):
        train_ensemble(new_ensemble(), data, RewardTrainerConfig(device="cpu"), np.random.default_rng(0),
                       techniques=TechniquesConfig(surf=SURFConfig(enabled=True)))


# ---- RIME -----------------------------------------------------------------------------------------------------


def test_trust_bound_by_hand() -> None:
    # −ln 1 + 0.5·1 + min(2·0.5, 3) = 0 + 0.5 + 1 = 1.5
    assert trust_bound(1.0, 0.5, 2.0, 0.5, 3.0) == pytest.approx(1.5, abs=1e-7)
    # −ln 2 + 1·2 + min(10·1, 3) = −0.6931472 + 2 + 3 = 4.3068528 (the uncertainty term is capped)
    assert trust_bound(2.0, 1.0, 10.0, 1.0, 3.0) == pytest.approx(4.3068528, abs=1e-6)
    config = RIMEConfig(beta_init=3.0, beta_min=1.0, beta_decay_epochs=4)
    assert [rime_beta(config, t) for t in (0, 2, 4, 10)] == [3.0, 2.0, 1.0, 1.0]
    # the loss of label 1 at logit x is ln(1 + e^−x): ln 2 at 0, ln(1 + e^2) = 2.1269280 at −2
    np.testing.assert_allclose(label_losses(torch.tensor([0.0, -2.0]), torch.tensor([1.0, 1.0])),
                               [math.log(2), 2.1269280], atol=1e-6)


def test_trust_filter_warm_start_then_drop_and_flip() -> None:
    trust = TrustFilter(RIMEConfig(alpha=0.5, beta_init=2.0, beta_min=2.0, warmup_epochs=1, flip_probability=0.01))
    losses = torch.tensor([0.1, 0.2, 0.3, 5.0, 0.4])
    trusted, flipped = trust.split(losses)  # warm start: everything trusted; ρ = 0.1·5 = 0.5, σ = std of all
    assert trusted.all() and not flipped.any()
    assert trust.rho == pytest.approx(0.5)
    sigma = float(losses.std(unbiased=False))
    assert trust.sigma == pytest.approx(sigma, rel=1e-6)
    bound = -math.log(0.5 + 1e-8) + 0.25 + min(2.0 * sigma, 3.0)  # 0.6931 + 0.25 + min(3.84, 3) = 3.9431
    assert trust.bound() == pytest.approx(bound)
    trusted, flipped = trust.split(torch.tensor([0.1, 4.0, 4.7, 0.2]))  # −ln 0.01 = 4.6052 flips the third
    assert trusted.tolist() == [True, False, False, True]
    assert flipped.tolist() == [False, False, True, False]


def test_rime_recovers_the_clean_labels_better_than_plain_bradley_terry() -> None:
    """30 % of 200 labels flipped; a network without regularisation memorises them. RIME's filter keeps it
    closer to the clean labels (accuracy against the labels before flipping, mean over four seeds)."""
    accuracy: dict[bool, list[float]] = {False: [], True: []}
    for seed in range(4):
        train, _ = linear_pairs(seed, n_items=100, n_pairs=200)
        clean = PairDataset(train.items, train.first, train.second, train.target.clone())
        flip = torch.as_tensor(np.random.default_rng(100 + seed).random(200) < 0.3)
        train.target[flip] = 1 - train.target[flip]
        config = RewardTrainerConfig(epochs=40, lr=3e-3, regularisation="none", val_fraction=0.0, device="cpu")
        for on in (False, True):
            ensemble = new_ensemble(seed=seed, size=1, mlp=MLPConfig(hidden_sizes=(64, 64)), items=train.items)
            metrics = train_ensemble(ensemble, train, config, np.random.default_rng(seed),
                                     techniques=TechniquesConfig(rime=RIMEConfig(enabled=on)))
            accuracy[on].append(pair_accuracy(ensemble, clean))
            if on:
                assert 0.5 < metrics.trusted_fraction < 0.95 and 0 < metrics.flipped_fraction < 0.3
            else:
                assert math.isnan(metrics.trusted_fraction)
    assert np.mean(accuracy[True]) > np.mean(accuracy[False]) + 0.03


# ---- RUNE -----------------------------------------------------------------------------------------------------


def test_rune_bonus_by_hand() -> None:
    assert rune_beta(0.1, 0.5, 2) == pytest.approx(0.025)  # 0.1 · 0.5²
    assert rune_beta(0.1, 0.0, 1000) == pytest.approx(0.1)
    members = torch.tensor([[1.0, 0.0], [3.0, 0.0]])  # per-member rewards (E=2, N=2): std 1 and 0
    assert rune_bonus(members, 0.025).tolist() == pytest.approx([0.025, 0.0])


def test_ensemble_bonus_is_zero_when_off_and_tracks_disagreement_when_on() -> None:
    ensemble = new_ensemble(size=3)
    x = torch.randn(7, D)
    assert torch.equal(ensemble_bonus(ensemble, x, RUNEConfig(), step=0), torch.zeros(7))
    on = RUNEConfig(enabled=True, beta0=0.5, decay=0.1)
    expected = 0.5 * 0.9**3 * ensemble.normalised_outputs(x).detach().std(0, unbiased=False)
    torch.testing.assert_close(ensemble_bonus(ensemble, x, on, step=3), expected)
    assert bool((ensemble_bonus(ensemble, x, on, step=3) > 0).all())


# ---- REED -----------------------------------------------------------------------------------------------------


def linear_dynamics(seed: int, n: int = 64) -> torch.Tensor:
    """``(n, T, D)`` runs of a linear system x_{t+1} = A x_t + noise: the next step is predictable."""
    rng = np.random.default_rng(seed)
    a = np.linalg.qr(rng.normal(size=(D, D)))[0] * 0.9
    x = np.zeros((n, T, D))
    x[:, 0] = rng.normal(size=(n, D))
    for t in range(1, T):
        x[:, t] = x[:, t - 1] @ a.T + 0.05 * rng.normal(size=(n, D))
    return torch.as_tensor(x, dtype=torch.float32)


def test_self_predictive_pretraining_predicts_next_steps_better_than_at_initialisation() -> None:
    runs = linear_dynamics(0)
    ensemble = new_ensemble(size=2, items=runs)
    last_layers = [m.net[-1].weight.detach().clone() for m in ensemble.members]
    reed = SelfPredictive(ensemble, REEDConfig(epochs=30, batch_size=64), seed=0)
    metrics = reed.train(ensemble, runs, torch.Generator().manual_seed(0))
    assert metrics.loss_after < metrics.loss_before - 0.1
    assert reed.loss(ensemble, linear_dynamics(1)) < metrics.loss_before  # and on runs it did not see
    # only the encoder moved; the reward head is left to the Bradley–Terry fit
    assert all(torch.equal(w, m.net[-1].weight) for w, m in zip(last_layers, ensemble.members))


def test_reed_in_the_trainer_pretrains_then_fits_the_labels() -> None:
    runs = linear_dynamics(0)
    data, _ = linear_pairs(0, n_items=100, n_pairs=300)
    ensemble = new_ensemble(items=data.items)
    metrics = train_ensemble(ensemble, data, RewardTrainerConfig(epochs=20, lr=3e-3, device="cpu"),
                             np.random.default_rng(0), transitions=runs,
                             techniques=TechniquesConfig(reed=REEDConfig(enabled=True, epochs=3)))
    assert metrics.self_predictive is not None
    assert metrics.self_predictive.loss_after < metrics.self_predictive.loss_before
    assert metrics.train_accuracy > 0.9
    assert consecutive_steps(runs)[0].shape == (64 * (T - 1), D)
    with pytest.raises(ValueError, match="needs transitions: pass transitions="):
        train_ensemble(ensemble, data, RewardTrainerConfig(device="cpu"), np.random.default_rng(0),
                       techniques=TechniquesConfig(reed=REEDConfig(enabled=True)))


# ---- settings -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("techniques", "message"), [
    (TechniquesConfig(surf=SURFConfig(threshold=0.5)), r"techniques.surf.threshold=0.5: must be > 0.5 and < 1"),
    (TechniquesConfig(surf=SURFConfig(threshold=1.0)), r"techniques.surf.threshold=1.0: must be > 0.5 and < 1"),
    (TechniquesConfig(crop_steps=-1), r"techniques.crop_steps=-1: must be >= 0"),
    (TechniquesConfig(rime=RIMEConfig(alpha=0.3)), r"techniques.rime.alpha=0.3: must be > 0.367.*drop every label"),
    (TechniquesConfig(rune=RUNEConfig(beta0=-0.1)), r"techniques.rune.beta0=-0.1: must be >= 0"),
    (TechniquesConfig(rune=RUNEConfig(decay=1.0)), r"techniques.rune.decay=1.0: must be >= 0 and < 1"),
    (TechniquesConfig(stop_accuracy=1.5), r"techniques.stop_accuracy=1.5: must be > 0.5 and <= 1"),
])
def test_bad_settings_stop_before_any_work(techniques: TechniquesConfig, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        techniques.validate()
    data, _ = linear_pairs(0, n_items=10, n_pairs=20)
    ensemble = new_ensemble()
    before = {k: v.clone() for k, v in ensemble.state_dict().items()}
    with pytest.raises(ValueError, match=message):
        train_ensemble(ensemble, data, RewardTrainerConfig(device="cpu"), np.random.default_rng(0),
                       techniques=techniques)
    assert all(torch.equal(v, ensemble.state_dict()[k]) for k, v in before.items())


def test_stacked_member_rewards_match_the_ensemble_for_the_hot_path() -> None:
    ensemble = new_ensemble(size=3, mlp=MLPConfig(hidden_sizes=(8, 8)))
    x = torch.randn(50, D)
    ensemble.fit_normalisation(x)
    stacked = StackedStepReward(ensemble)
    members = stacked.member_rewards(x.numpy())
    np.testing.assert_allclose(members, ensemble.normalised_outputs(x).detach().numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(members.mean(0) / float(ensemble.output_scale), stacked(x.numpy()), rtol=1e-4, atol=1e-5)
    reward, same_members = stacked.reward_and_members(x.numpy())  # one hidden pass for RUNE: the same numbers
    np.testing.assert_array_equal(reward, stacked(x.numpy()))
    np.testing.assert_array_equal(same_members, members)
    on = RUNEConfig(enabled=True, beta0=0.2, decay=0.01)
    np.testing.assert_allclose(rune_bonus(members, rune_beta(on.beta0, on.decay, 5)),
                               ensemble_bonus(ensemble, x, on, step=5).numpy(), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("workers", [1, 2])
def test_every_technique_on_is_still_deterministic(workers: int) -> None:
    """Crops, pseudo-label pairs, RIME's filter and REED's minibatches draw only from the trainer's ``rng``."""
    data, _ = linear_pairs(3, n_items=60, n_pairs=120)
    unlabelled = linear_dynamics(2, n=30)
    everything = TechniquesConfig(stop_accuracy=0.99, crop_steps=2, surf=SURFConfig(enabled=True, threshold=0.9),
                                  rime=RIMEConfig(enabled=True, warmup_epochs=1), reed=REEDConfig(enabled=True, epochs=1))
    config = RewardTrainerConfig(epochs=4, batch_size=32, workers=workers, device="cpu")
    states = []
    for seed in (7, 7, 8):
        torch.manual_seed(seed * 31 + len(states))  # the global generator differs every time; it must not matter
        ensemble = new_ensemble(items=data.items)
        metrics = train_ensemble(ensemble, data, config, np.random.default_rng(seed), techniques=everything,
                                 unlabelled=unlabelled, transitions=unlabelled)
        states.append(ensemble.state_dict())
        assert 0 < metrics.trusted_fraction <= 1 and not math.isnan(metrics.pseudo_labelled_fraction)
    assert all(torch.equal(v, states[1][k]) for k, v in states[0].items())
    assert not all(torch.equal(v, states[2][k]) for k, v in states[0].items())
