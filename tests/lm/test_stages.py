"""Every stage changes the parameters and improves its own objective on a tiny run."""

from __future__ import annotations

import numpy as np
import torch

from rlhf_robotics.lm.dpo import DPOConfig, train_dpo
from rlhf_robotics.lm.grpo import GRPOConfig, train_grpo
from rlhf_robotics.lm.model import GPT, GPTConfig
from rlhf_robotics.lm.ppo import PPOConfig, train_ppo
from rlhf_robotics.lm.pretrain import PretrainConfig, pretrain
from rlhf_robotics.lm.reward import RewardConfig, train_reward_model
from rlhf_robotics.lm.sft import SFTConfig, sft
from rlhf_robotics.preference import RewardTrainerConfig

TINY = GPTConfig(block_size=32, n_layer=1, n_head=2, n_embd=32)


def _changed(a: GPT, b: GPT) -> bool:
    return any(not torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True))


def test_pretrain_lowers_the_loss() -> None:
    _, m = pretrain(PretrainConfig(model=TINY, tasks=("arithmetic",), corpus_size=500, steps=60, batch_size=32))
    assert m.final_loss < m.initial_loss - 0.5


def test_sft_changes_parameters_and_lowers_the_loss(pretrained: GPT) -> None:
    model, m = sft(pretrained, SFTConfig(n_demos=200, steps=40, batch_size=32, demo_noise=0.0))
    assert _changed(model, pretrained)
    assert m.final_loss < m.initial_loss


def test_dpo_changes_parameters_and_lowers_its_loss(sft_model: GPT, tmp_path) -> None:
    train_reward_model(sft_model, RewardConfig(
        n_pairs=96, n_eval_pairs=8, teacher="oracle", teacher_overrides={"equal_threshold": 0.02},
        trainer=RewardTrainerConfig(epochs=1, batch_size=32)), tmp_path)
    for loss in ("sigmoid", "ipo", "tie_aware"):
        policy, m = train_dpo(sft_model, sft_model, tmp_path / "preferences.sqlite",
                              DPOConfig(loss=loss, epochs=6, lr=1e-3, batch_size=64))
        assert _changed(policy, sft_model)
        assert np.mean(m.loss[-3:]) < m.loss[0], loss


def test_grpo_and_rloo_raise_their_reward(sft_model: GPT) -> None:
    # The rubric reward has partial credit, so a tiny model sees a signal in a few steps.
    for estimator in ("grpo", "rloo"):
        policy, m = train_grpo(sft_model, sft_model, GRPOConfig(
            estimator=estimator, reward="rubric", steps=20, prompts_per_step=16, group_size=4, lr=2e-3,
            max_new_tokens=4, seed=0))
        assert _changed(policy, sft_model)
        assert np.mean(m.reward[-5:]) > np.mean(m.reward[:5]), estimator


def test_ppo_changes_parameters_and_raises_the_reward_model_score(sft_model: GPT, tmp_path) -> None:
    rm, _ = train_reward_model(sft_model, RewardConfig(
        n_pairs=64, n_eval_pairs=8, trainer=RewardTrainerConfig(epochs=1, batch_size=32)), tmp_path)
    policy, m = train_ppo(sft_model, sft_model, rm, PPOConfig(
        steps=15, prompts_per_step=32, lr=1e-3, kl_coef=0.01, adaptive_kl=False, max_new_tokens=4, seed=0))
    assert _changed(policy, sft_model)
    assert np.mean(m.score[-4:]) > np.mean(m.score[:4])
    assert m.kl[-1] > 0
