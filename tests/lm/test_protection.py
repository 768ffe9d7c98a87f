"""Issue 14: the stages that could wreck the SFT model stop inside a KL budget, and DPO keeps the policy with the
best held-out preference accuracy."""

from __future__ import annotations

import numpy as np
import torch

from rlhf_robotics.lm.dpo import DPOConfig, train_dpo
from rlhf_robotics.lm.evaluate import kl_from_reference
from rlhf_robotics.lm.model import GPT
from rlhf_robotics.lm.ppo import PPOConfig, train_ppo
from rlhf_robotics.lm.reward import RewardConfig, train_reward_model
from rlhf_robotics.lm.tasks import TaskMix
from rlhf_robotics.preference import RewardTrainerConfig

HELD_OUT = TaskMix(("arithmetic",)).eval["arithmetic"][:100]


def _kl(policy: GPT, reference: GPT) -> float:
    return kl_from_reference(policy, reference, HELD_OUT, 4, torch.Generator().manual_seed(0))


def _store(sft_model: GPT, tmp_path) -> tuple:
    return train_reward_model(sft_model, RewardConfig(
        n_pairs=128, n_eval_pairs=8, teacher="oracle", teacher_overrides={"equal_threshold": 0.02},
        trainer=RewardTrainerConfig(epochs=1, batch_size=32)), tmp_path)


def test_dpo_stops_at_its_kl_budget_and_keeps_a_policy_within_it(sft_model: GPT, tmp_path) -> None:
    _store(sft_model, tmp_path)
    aggressive = dict(loss="sigmoid", epochs=20, lr=3e-3, batch_size=16, check_every=2, patience=100)
    free, free_m = train_dpo(sft_model, sft_model, tmp_path / "preferences.sqlite",
                             DPOConfig(**aggressive, kl_budget=None, val_fraction=0.0))
    assert free_m.stopped == "epochs" and _kl(free, sft_model) > 1.0  # without a budget it drifts far
    policy, m = train_dpo(sft_model, sft_model, tmp_path / "preferences.sqlite",
                          DPOConfig(**aggressive, kl_budget=0.3, val_fraction=0.0))
    assert m.stopped == "kl_budget"
    assert m.kl[-1] > 0.3 and all(k <= 0.3 for k in m.kl[:-1])
    assert len(m.loss) < len(free_m.loss)
    assert _kl(policy, sft_model) < 0.6  # the kept policy is the last checked one within the budget (noisy estimate)


def test_dpo_keeps_the_policy_with_the_best_held_out_accuracy(sft_model: GPT, tmp_path) -> None:
    _store(sft_model, tmp_path)
    policy, m = train_dpo(sft_model, sft_model, tmp_path / "preferences.sqlite", DPOConfig(
        loss="sigmoid", epochs=4, lr=1e-3, batch_size=16, check_every=2, patience=100, val_fraction=0.25,
        kl_budget=None))
    best = int(np.argmax(m.val_accuracy))
    assert m.kept_step == m.check_step[best]
    assert m.val_accuracy[0] == m.val_accuracy[0]  # measured (not nan) at step 0: the reference, h = 0 → ½
    if m.kept_step == 0:
        assert all(torch.equal(a, b) for a, b in zip(policy.state_dict().values(), sft_model.state_dict().values(),
                                                     strict=True))


def test_ppo_stops_at_its_kl_budget(sft_model: GPT, tmp_path) -> None:
    rm, _ = _store(sft_model, tmp_path)
    config = dict(steps=40, prompts_per_step=32, lr=3e-3, kl_coef=0.0, adaptive_kl=False, max_new_tokens=4, seed=0)
    _, free_m = train_ppo(sft_model, sft_model, rm, PPOConfig(**config, kl_budget=None))
    assert free_m.stopped == "steps" and max(free_m.kl) > 0.5
    policy, m = train_ppo(sft_model, sft_model, rm, PPOConfig(**config, kl_budget=0.5))
    assert m.stopped == "kl_budget" and len(m.kl) < 40
    assert m.kl[-1] > 0.5 and all(k <= 0.5 for k in m.kl[:-1])
    assert _kl(policy, sft_model) < 1.0
