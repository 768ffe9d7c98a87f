"""Reward ensembles: shapes, the one reduction, and output normalisation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from rlhf_robotics.preference.ensemble import (
    MLPConfig,
    RewardEnsemble,
    StackedStepReward,
    StepRewardMLP,
    build_step_ensemble,
)


def test_item_scores_sum_per_step_rewards_over_the_segment() -> None:
    ensemble = build_step_ensemble(in_dim=3, ensemble_size=4, mlp=MLPConfig(hidden_sizes=(8,)), seed=0)
    x = torch.randn(6, 5, 3)  # (B, T, D)
    per_step = ensemble.member_outputs(x)
    assert per_step.shape == (4, 6, 5)
    scores = ensemble.item_scores(x)
    assert scores.shape == (4, 6)
    torch.testing.assert_close(scores, per_step.sum(-1))
    torch.testing.assert_close(ensemble.member_score(2, x), scores[2])


def test_members_start_different_and_seeds_repeat() -> None:
    a = build_step_ensemble(3, 2, seed=5)
    b = build_step_ensemble(3, 2, seed=5)
    sb = b.state_dict()
    for name, ta in a.state_dict().items():
        assert torch.equal(ta, sb[name]), name
    w0, w1 = (m.net[0].weight for m in a.members)
    assert not torch.equal(w0, w1)


@pytest.mark.parametrize("shape", [(500, 3), (100, 5, 3)])
def test_fit_normalisation_gives_unit_std_and_zero_member_means(shape: tuple[int, ...]) -> None:
    torch.manual_seed(0)
    ensemble = build_step_ensemble(3, 3, mlp=MLPConfig(hidden_sizes=(16,)), seed=1)
    x = torch.randn(*shape) * 4 + 2
    with torch.no_grad():
        for i, m in enumerate(ensemble.members):  # members on very different output scales
            m.net[-1].weight.mul_(10.0 ** i)
            m.net[-1].bias.add_(3.0 * i)
        ensemble.fit_normalisation(x)
        per_member = ensemble.normalised_outputs(x).flatten(1)  # (E, N)
        reward = ensemble.reward(x)
    assert reward.shape == shape[:-1]
    torch.testing.assert_close(per_member.mean(1), torch.zeros(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(per_member.std(1), torch.ones(3), atol=1e-5, rtol=0)
    assert float(reward.std()) == pytest.approx(1.0, abs=1e-5)
    assert float(reward.mean()) == pytest.approx(0.0, abs=1e-5)


def test_input_statistics_standardise_the_features() -> None:
    member = StepRewardMLP(2, MLPConfig(hidden_sizes=(4,)))
    x = torch.tensor([[0.0, 10.0], [2.0, 30.0], [4.0, 50.0]])
    member.set_input_statistics(x)
    torch.testing.assert_close(member.input_mean, torch.tensor([2.0, 30.0]))
    torch.testing.assert_close(member.input_std, torch.tensor([2.0, 20.0]))
    # A feature that does not vary (std below MIN_INPUT_STD) is centred, not divided: scale 1.
    member.set_input_statistics(torch.tensor([[1.0, 0.0], [1.0, 2e-4], [1.0, 4e-4]]))
    torch.testing.assert_close(member.input_std, torch.ones(2))
    member.set_input_statistics(torch.tensor([[1.0, 0.0], [1.0, 2e-3], [1.0, 4e-3]]))
    torch.testing.assert_close(member.input_std, torch.tensor([1.0, 2e-3]))


def test_a_feature_that_never_varied_moves_the_reward_no_more_than_its_own_change() -> None:
    """PusherGentle's object velocity is 0 in every clip until the arm touches the object; a gentle push then
    (0.05 m/s) must not reach the untrained first-layer weights of that feature magnified by 1/std."""
    torch.manual_seed(0)
    member = StepRewardMLP(3, MLPConfig(hidden_sizes=(32, 32)))
    seen = torch.randn(400, 3)
    seen[:, 2] = 0.0  # never varied in the fit data
    member.set_input_statistics(seen)
    pushed = seen.clone()
    pushed[:, 2] = 0.05
    with torch.no_grad():
        change = (member(pushed) - member(seen)).abs().max()
    assert float(member.input_std[2]) == 1.0
    assert float(change) < 0.05  # with the old 1e-3 floor (a 50-std input) the same push changed it by 4.4


def test_restandardise_moves_the_statistics_and_keeps_the_function() -> None:
    torch.manual_seed(0)
    member = StepRewardMLP(4, MLPConfig(hidden_sizes=(16, 16)))
    member.set_input_statistics(torch.randn(200, 4))
    # a later policy's states: far from the initial statistics on every feature
    later = torch.randn(500, 4) * torch.tensor([0.1, 3.0, 8.0, 1.0]) + torch.tensor([5.0, -2.0, 20.0, 0.0])
    with torch.no_grad():
        before = member(later)
        member.restandardise(later)
        after = member(later)
    torch.testing.assert_close(member.input_mean, later.mean(0))
    torch.testing.assert_close(member.input_std, later.std(0))
    torch.testing.assert_close(after, before, atol=1e-4, rtol=1e-4)
    standardised = (later - member.input_mean) / member.input_std
    assert float(standardised.std(0).max()) == pytest.approx(1.0, abs=1e-4)


def test_bad_configurations_raise() -> None:
    with pytest.raises(ValueError, match="ensemble_size"):
        build_step_ensemble(3, 0)
    with pytest.raises(ValueError, match="'gelu'"):
        StepRewardMLP(3, MLPConfig(activation="gelu"))
    with pytest.raises(ValueError, match="at least one member"):
        RewardEnsemble([])


@pytest.mark.parametrize("input_clip", [None, 1.5])
@pytest.mark.parametrize("output", ["linear", "tanh"])
@pytest.mark.parametrize("hidden", [(16, 8), (), (12,)])
@pytest.mark.parametrize("activation", ["leaky_relu", "tanh", "silu", "relu"])
def test_stacked_numpy_reward_equals_the_ensemble_reward(hidden: tuple[int, ...], activation: str, output: str,
                                                         input_clip: float | None) -> None:
    torch.manual_seed(0)
    ensemble = build_step_ensemble(5, 3, mlp=MLPConfig(hidden_sizes=hidden, activation=activation, dropout=0.1,
                                                       output=output, input_clip=input_clip), seed=2)
    x = torch.randn(400, 5) * torch.tensor([1.0, 3.0, 0.2, 5.0, 1.0]) + 2
    with torch.no_grad():
        for i, m in enumerate(ensemble.members):
            m.set_input_statistics(x[i * 100 : (i + 1) * 100])  # members with different statistics
            m.net[-1].bias.add_(i)
        ensemble.fit_normalisation(x)
        ensemble.eval()
        expected = ensemble.reward(x).numpy()
        members = ensemble.normalised_outputs(x).numpy()
    stacked = StackedStepReward(ensemble)
    got = stacked(x.numpy())
    assert got.shape == (400,) and got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(stacked.member_rewards(x.numpy()), members, rtol=1e-4, atol=1e-4)
    both = stacked.reward_and_members(x.numpy())
    np.testing.assert_allclose(both[0], expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(both[1], members, rtol=1e-4, atol=1e-4)


def test_a_tanh_output_bounds_each_step_reward_and_linear_does_not() -> None:
    """``MLPConfig.output="tanh"`` (PEBBLE's reward network): a member's raw step reward stays within [-1, 1] however
    far the input lies from the data; the default linear output grows with it."""
    x = torch.randn(200, 4)
    far = x * 1000
    for output, bounded in (("tanh", True), ("linear", False)):
        member = StepRewardMLP(4, MLPConfig(hidden_sizes=(8,), output=output))
        member.set_input_statistics(x)
        with torch.no_grad():
            member.net[-1].weight.mul_(50)  # as if training had pushed the margins apart
            raw = member(far)
        assert (float(raw.abs().max()) <= 1.0) is bounded  # float32 tanh saturates at exactly 1
    with pytest.raises(ValueError, match="'sigmoid'"):
        StepRewardMLP(3, MLPConfig(output="sigmoid"))


def test_ignored_inputs_move_no_reward_before_or_after_training_and_in_the_fast_copy() -> None:
    """``MLPConfig.ignore_inputs``: the net does not see those step features. Pairs decided by feature 0 alone are
    learned by a net that sees it and not by one that ignores it, whose first-layer weights on it stay zero through
    training and restandardisation; the NumPy copy the loop uses agrees."""
    from rlhf_robotics.preference.trainer import PairDataset, RewardTrainerConfig, train_ensemble

    gen = torch.Generator().manual_seed(0)
    items = torch.randn(200, 4, 3, generator=gen)
    first, second = torch.arange(0, 200, 2), torch.arange(1, 200, 2)
    target = (items[first, :, 0].sum(1) > items[second, :, 0].sum(1)).float()  # feature 0 decides every pair
    accuracy = {}
    for ignore in ((), (0,)):
        ensemble = build_step_ensemble(3, 2, MLPConfig(hidden_sizes=(16,), ignore_inputs=ignore), seed=0)
        for m in ensemble.members:
            m.set_input_statistics(items.reshape(-1, 3))
        train_ensemble(ensemble, PairDataset(items, first, second, target),
                       RewardTrainerConfig(epochs=60, val_fraction=0.0, device="cpu"), np.random.default_rng(0))
        scores = ensemble.item_scores(items).detach()
        accuracy[ignore] = float(((scores[:, first] > scores[:, second]).float() == target).float().mean())
        if ignore:
            for m in ensemble.members:
                m.restandardise(items.reshape(-1, 3) * 2 + 1)
                assert torch.equal(m.net[0].weight[:, 0], torch.zeros(16))
            moved = items.clone()
            moved[..., 0] += 10.0
            torch.testing.assert_close(ensemble.member_outputs(moved), ensemble.member_outputs(items))
            ensemble.fit_normalisation(items.reshape(-1, 3))
            fast = StackedStepReward(ensemble)
            x, x_moved = items.reshape(-1, 3).numpy(), moved.reshape(-1, 3).numpy()
            np.testing.assert_allclose(fast(x_moved), fast(x), atol=1e-6)
            np.testing.assert_allclose(fast(x), ensemble.reward(items.reshape(-1, 3)).detach().numpy(), atol=1e-4)
    assert accuracy[()] > 0.8 and accuracy[(0,)] < 0.65, accuracy


def test_an_ignored_input_outside_the_features_is_refused_with_the_range() -> None:
    with pytest.raises(ValueError, match=r"\[5\].*3 step features.*0-2"):
        StepRewardMLP(3, MLPConfig(ignore_inputs=(1, 5)))


def test_a_saved_ensemble_keeps_its_ignored_inputs_and_one_saved_before_the_option_loads(tmp_path: Path) -> None:
    """``load_reward_model`` rebuilds ``ignore_inputs`` from the saved metadata; metadata written before the option
    existed (no ``ignore_inputs`` key) loads as every feature seen."""
    import json
    from dataclasses import asdict

    from rlhf_robotics.preference.ensemble import EnsembleMetadata
    from rlhf_robotics.robotics.saved_run import load_reward_model

    x = torch.randn(50, 4)
    for ignore in ((1, 3), ()):
        ensemble = build_step_ensemble(4, 2, MLPConfig(hidden_sizes=(8,), ignore_inputs=ignore), seed=1)
        for m in ensemble.members:
            m.set_input_statistics(x)
        d = tmp_path / str(len(ignore)) / "checkpoints" / "round_000"
        d.mkdir(parents=True)
        meta = asdict(EnsembleMetadata(4, 2, MLPConfig(hidden_sizes=(8,), ignore_inputs=ignore)))
        if not ignore:
            del meta["mlp"]["ignore_inputs"]  # as written before the option
        (d / "reward_model.json").write_text(json.dumps(meta))
        torch.save(ensemble.state_dict(), d / "reward_model.pt")
        (d.parent / "latest.json").write_text(json.dumps({"dir": "round_000"}))
        loaded = load_reward_model(d.parent.parent)
        assert loaded.members[0].input_keep.tolist() == [0.0 if i in ignore else 1.0 for i in range(4)]
        torch.testing.assert_close(loaded.reward(x), ensemble.reward(x))


@pytest.mark.parametrize("output", ["linear", "tanh"])
def test_clipped_inputs_pay_a_state_far_off_the_data_what_they_pay_at_the_clip(output: str) -> None:
    """``MLPConfig.input_clip``: a feature that hardly varied in the fit data (std 0.005, as HalfCheetahOneLeg's
    torso-pitch cosine on random clips) read hundreds of stds away moves a member's reward no further than at the
    clip, in the torch member and in the loop's NumPy copy (members sharing their statistics, as the loop sets
    them); unclipped, a linear output keeps growing with the distance."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(500, 3, generator=gen)
    x[:, 1] = 0.997 + 0.005 * x[:, 1]
    at_clip, upside_down = x[:4].clone(), x[:4].clone()
    at_clip[:, 1] = x[:, 1].mean() - 5 * x[:, 1].std()  # exactly 5 fitted stds below the mean
    upside_down[:, 1] = -1.0  # ~ -400 stds
    rewards = {}
    for clip in (5.0, None):
        ensemble = build_step_ensemble(3, 2, MLPConfig(hidden_sizes=(16,), output=output, input_clip=clip), seed=3)
        with torch.no_grad():
            for m in ensemble.members:
                m.set_input_statistics(x)
            ensemble.fit_normalisation(x)
            rewards[clip] = (ensemble.reward(at_clip), ensemble.reward(upside_down))
        fast = StackedStepReward(ensemble)
        np.testing.assert_allclose(fast(upside_down.numpy()), rewards[clip][1].numpy(), rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(rewards[5.0][1], rewards[5.0][0], rtol=1e-5, atol=1e-5)
    if output == "linear":
        assert float((rewards[None][1] - rewards[None][0]).abs().max()) > 10 * float(rewards[5.0][0].abs().max())


def test_an_input_clip_must_be_positive_and_a_saved_one_loads(tmp_path: Path) -> None:
    import json
    from dataclasses import asdict

    from rlhf_robotics.preference.ensemble import EnsembleMetadata
    from rlhf_robotics.robotics.config import RewardModelConfig
    from rlhf_robotics.robotics.saved_run import load_reward_model

    for bad in (0.0, -2.0):
        with pytest.raises(ValueError, match=rf"input_clip={bad}.*> 0"):
            StepRewardMLP(3, MLPConfig(input_clip=bad))
        with pytest.raises(ValueError, match=r"reward_model\.mlp\.input_clip"):
            RewardModelConfig(mlp=MLPConfig(input_clip=bad))
    x = torch.randn(50, 4)
    ensemble = build_step_ensemble(4, 2, MLPConfig(hidden_sizes=(8,), input_clip=2.0), seed=1)
    for m in ensemble.members:
        m.set_input_statistics(x)
    d = tmp_path / "checkpoints" / "round_000"
    d.mkdir(parents=True)
    (d / "reward_model.json").write_text(json.dumps(asdict(EnsembleMetadata(4, 2, MLPConfig(hidden_sizes=(8,),
                                                                                            input_clip=2.0)))))
    torch.save(ensemble.state_dict(), d / "reward_model.pt")
    (d.parent / "latest.json").write_text(json.dumps({"dir": "round_000"}))
    loaded = load_reward_model(tmp_path)
    assert loaded.members[0].input_clip == 2.0
    torch.testing.assert_close(loaded.reward(x * 100), ensemble.reward(x * 100))
