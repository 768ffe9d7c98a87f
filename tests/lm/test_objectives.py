"""Hand-computed values of the objectives: DPO, GRPO/RLOO advantages, KL, GAE."""

from __future__ import annotations

import copy
import math

import pytest
import torch

from rlhf_robotics.lm.dpo import DPO_LOSSES, PreferencePairs, log_ratio_difference
from rlhf_robotics.lm.grpo import (
    GRPOConfig,
    grpo_advantages,
    kl_k3,
    process_advantages,
    rloo_advantages,
    rloo_baseline,
    train_grpo,
)
from rlhf_robotics.lm.model import GPT
from rlhf_robotics.lm.ppo import PPOConfig, gae, kl_penalty_rewards, train_ppo
from rlhf_robotics.lm.reward import build_reward_ensemble
from rlhf_robotics.lm.sampling import encode_completions


def _pairs() -> PreferencePairs:
    prompts = ["1+2=", "4+5=", "7+8="]
    first, second = ["3", "9", "15"], ["4", "10", "5"]
    both, mask = encode_completions(prompts + prompts, first + second, 32)
    return PreferencePairs(both[:3], mask[:3], both[3:], mask[3:], torch.tensor([1.0, 0.0, 0.5]))


def test_dpo_loss_is_ln2_when_policy_equals_reference(sft_model: GPT) -> None:
    pairs = _pairs()
    h = log_ratio_difference(sft_model, copy.deepcopy(sft_model), pairs, torch.arange(2)).detach()
    assert torch.allclose(h, torch.zeros(2), atol=1e-6)
    for name in ("sigmoid", "tie_aware"):
        assert float(DPO_LOSSES[name](h, pairs.target[:2], 0.1)) == pytest.approx(math.log(2), abs=1e-6)
    # With a tie the tie-aware loss is still ln 2 at h = 0 (the soft target's entropy).
    h3 = log_ratio_difference(sft_model, copy.deepcopy(sft_model), pairs, torch.arange(3))
    assert float(DPO_LOSSES["tie_aware"](h3.detach(), pairs.target, 0.1)) == pytest.approx(math.log(2), abs=1e-6)
    # IPO at h = 0: mean of ((2t − 1)/(2β))² = (1/(2·0.1))² on decisive pairs.
    assert float(DPO_LOSSES["ipo"](h, pairs.target[:2], 0.1)) == pytest.approx(25.0, rel=1e-6)


def test_dpo_sigmoid_hand_value() -> None:
    h = torch.tensor([2.0, 2.0])
    target = torch.tensor([1.0, 0.0])
    want = (-math.log(1 / (1 + math.exp(-0.2))) - math.log(1 / (1 + math.exp(0.2)))) / 2
    assert float(DPO_LOSSES["sigmoid"](h, target, 0.1)) == pytest.approx(want, rel=1e-6)


def test_grpo_advantages_zero_for_equal_rewards() -> None:
    rewards = torch.tensor([[1.0, 1.0, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0], [0.3, 0.3, 0.3, 0.3]])
    assert torch.equal(grpo_advantages(rewards), torch.zeros(3, 4))


def test_grpo_advantages_hand_values() -> None:
    adv = grpo_advantages(torch.tensor([[1.0, 0.0]]))
    std = math.sqrt(0.5)  # unbiased std of (1, 0)
    assert adv[0].tolist() == pytest.approx([0.5 / (std + 1e-4), -0.5 / (std + 1e-4)])


def test_rloo_baseline_excludes_the_sample() -> None:
    rewards = torch.tensor([[1.0, 2.0, 6.0]])
    assert rloo_baseline(rewards)[0].tolist() == pytest.approx([4.0, 3.5, 1.5])
    assert rloo_advantages(rewards)[0].tolist() == pytest.approx([-3.0, -1.5, 4.5])
    with pytest.raises(ValueError, match="group_size"):
        rloo_baseline(torch.ones(2, 1))


def test_process_advantages_sum_later_steps() -> None:
    # One group of two samples; sample 0: steps ending at chars 1 and 3 (rewards 1, 1); sample 1: one step (0).
    steps = [[(1, 1.0), (3, 1.0)], [(3, 0.0)]]
    adv = process_advantages(steps, group_size=2, n_positions=6, start=torch.tensor([1, 1]))
    mean, std = 2 / 3, torch.tensor([1.0, 1.0, 0.0]).std().item()
    hi, lo = (1 - mean) / (std + 1e-4), (0 - mean) / (std + 1e-4)
    assert adv[0].tolist() == pytest.approx([2 * hi, 2 * hi, 2 * hi, hi, hi, 0.0], rel=1e-5)
    assert adv[1].tolist() == pytest.approx([lo, lo, lo, lo, lo, 0.0], rel=1e-5)


def test_kl_k3_zero_for_equal_policies_and_positive_otherwise() -> None:
    logp = torch.log(torch.tensor([0.2, 0.5]))
    assert torch.equal(kl_k3(logp, logp), torch.zeros(2))
    assert bool((kl_k3(logp, torch.log(torch.tensor([0.4, 0.3]))) > 0).all())


def test_gae_hand_computed() -> None:
    rewards = torch.tensor([[0.0, 1.0, 2.0, 0.0]])
    values = torch.tensor([[0.5, 0.5, 0.5, 9.0]])
    mask = torch.tensor([[1.0, 1.0, 1.0, 0.0]])
    adv, ret = gae(rewards, values, mask, gamma=1.0, lam=0.5)
    d2 = 2.0 - 0.5
    d1 = 1.0 + 0.5 - 0.5
    d0 = 0.0 + 0.5 - 0.5
    a2, a1 = d2, d1 + 0.5 * d2
    a0 = d0 + 0.5 * a1
    assert adv[0].tolist() == pytest.approx([a0, a1, a2, 0.0])
    assert ret[0, :3].tolist() == pytest.approx([a0 + 0.5, a1 + 0.5, a2 + 0.5])


def test_kl_penalty_rewards_put_the_score_on_the_last_token() -> None:
    logp = torch.tensor([[0.0, -1.0, -1.0]])
    ref = torch.tensor([[0.0, -2.0, -1.0]])
    mask = torch.tensor([[0.0, 1.0, 1.0]])
    r = kl_penalty_rewards(logp, ref, torch.tensor([3.0]), mask, beta=0.5)
    assert r[0].tolist() == pytest.approx([0.0, -0.5, 3.0])


def test_kl_is_zero_at_step_zero(sft_model: GPT) -> None:
    _, m = train_grpo(sft_model, sft_model, GRPOConfig(steps=1, prompts_per_step=4, group_size=2, max_new_tokens=4))
    assert m.kl[0] == pytest.approx(0.0, abs=1e-6)
    rm = build_reward_ensemble(sft_model, 1, seed=0)
    _, pm = train_ppo(sft_model, sft_model, rm, PPOConfig(steps=1, prompts_per_step=4, max_new_tokens=4))
    assert pm.kl[0] == pytest.approx(0.0, abs=1e-6)
